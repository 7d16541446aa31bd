package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New(60, 2) // one a second, two saved up
	now := time.Unix(1000, 0)
	for i, want := range []bool{true, true, false} {
		if ok, _ := l.Allow("a", now); ok != want {
			t.Fatalf("call %d: %v", i, ok)
		}
	}
	if ok, retry := l.Allow("a", now); ok || retry != 1 {
		t.Fatalf("retry %d", retry)
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Fatal("another key is limited")
	}
	if ok, _ := l.Allow("a", now.Add(time.Second)); !ok {
		t.Fatal("no refill")
	}
}

func TestLimiterDisabled(t *testing.T) {
	now := time.Unix(1000, 0)
	for name, l := range map[string]*Limiter{"nil": nil, "rate 0": New(0, 0), "rate -1": New(-1, 5)} {
		for i := range 10 {
			if ok, retry := l.Allow("a", now); !ok || retry != 0 {
				t.Fatalf("%s: call %d: %v %d", name, i, ok, retry)
			}
		}
	}
}

func TestLimiterForgetsIdleKeys(t *testing.T) {
	l := New(60, 2)
	now := time.Unix(1000, 0)
	l.Allow("a", now)
	l.Allow("b", now)
	// Two minutes on, both buckets are full again and are dropped when
	// the next call collects.
	l.Allow("c", now.Add(2*time.Minute))
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets kept; want 1", n)
	}
}
