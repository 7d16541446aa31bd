package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// TestLockoutGrows: free failures pass; then each failure locks the key
// for twice as long as the one before, up to the cap; other keys are not
// touched; a success (Reset) and a quiet day forget.
func TestLockoutGrows(t *testing.T) {
	l := NewLockout(2, time.Minute, 5*time.Minute)
	now := time.Unix(1000, 0)
	for i, want := range []time.Duration{0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		if locked, _ := l.Locked("a", now); locked {
			t.Fatalf("failure %d: locked before it", i+1)
		}
		if got := l.Fail("a", now); got != want {
			t.Fatalf("failure %d: locked %v; want %v", i+1, got, want)
		}
		if want > 0 {
			if locked, retry := l.Locked("a", now); !locked || retry != int(want.Seconds()) {
				t.Fatalf("failure %d: Locked %v %d", i+1, locked, retry)
			}
		}
		if locked, _ := l.Locked("b", now); locked {
			t.Fatal("another key is locked")
		}
		now = now.Add(want)
	}
	l.Reset("a")
	if got := l.Fail("a", now); got != 0 {
		t.Fatalf("after Reset: locked %v", got)
	}
	l.Fail("a", now)
	if got := l.Fail("a", now.Add(25*time.Hour)); got != 0 {
		t.Fatalf("after a quiet day: locked %v", got)
	}
}

func TestLockoutNilAndBounded(t *testing.T) {
	var nl *Lockout
	if nl.Fail("a", time.Now()) != 0 {
		t.Fatal("nil lockout locked")
	}
	if locked, _ := nl.Locked("a", time.Now()); locked {
		t.Fatal("nil lockout locked")
	}
	nl.Reset("a")
	l := NewLockout(0, time.Minute, time.Hour)
	l.maxKeys = 10
	now := time.Unix(1000, 0)
	for i := range 100 {
		l.Fail(fmt.Sprint(i), now)
	}
	if n := len(l.keys); n > 10 {
		t.Fatalf("%d keys kept; at most 10", n)
	}
}
