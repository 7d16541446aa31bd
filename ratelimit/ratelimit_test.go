package ratelimit

import (
	"net/http"
	"net/http/httptest"
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

func TestClientIP(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"192.0.2.1", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:443", "2001:db8:1:3::/64"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"[::1]:80", "::/64"},
		{"pipe", "pipe"},
		{"", ""},
	} {
		t.Run(tc.remote, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			if got := ClientIP(r); got != tc.want {
				t.Errorf("ClientIP(%q) = %q; want %q", tc.remote, got, tc.want)
			}
		})
	}
}

// TestSlots runs a script of acquisitions and releases against bounds.
func TestSlots(t *testing.T) {
	type step struct {
		key     string
		release int // > 0: release the slot of step release-1 instead
		ok      bool
	}
	for _, tc := range []struct {
		name          string
		perKey, total int
		steps         []step
	}{
		{name: "per key", perKey: 2, total: 10, steps: []step{
			{key: "a", ok: true}, {key: "a", ok: true}, {key: "a"}, {key: "b", ok: true},
			{release: 1}, {key: "a", ok: true}, {key: "a"},
		}},
		{name: "total", perKey: 5, total: 3, steps: []step{
			{key: "a", ok: true}, {key: "b", ok: true}, {key: "c", ok: true}, {key: "d"}, {key: "a"},
			{release: 2}, {key: "d", ok: true}, {key: "b"},
		}},
		{name: "double release", perKey: 1, total: 1, steps: []step{
			{key: "a", ok: true}, {release: 1}, {release: 1}, {key: "a", ok: true}, {key: "a"}, {key: "b"},
		}},
		{name: "unbounded", steps: []step{
			{key: "a", ok: true}, {key: "a", ok: true}, {key: "a", ok: true}, {key: "b", ok: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSlots(tc.perKey, tc.total)
			releases := make([]func(), len(tc.steps))
			held := map[int]bool{} // steps whose slot is held
			for i, st := range tc.steps {
				if st.release > 0 {
					releases[st.release-1]()
					delete(held, st.release-1)
				} else {
					rel, ok := s.Acquire(st.key)
					if ok != st.ok {
						t.Fatalf("step %d: Acquire(%q) = %v; want %v", i, st.key, ok, st.ok)
					}
					releases[i] = rel
					if ok {
						held[i] = true
					}
				}
				if n := s.InUse(); n != len(held) {
					t.Fatalf("step %d: %d slots in use; want %d", i, n, len(held))
				}
			}
			for _, rel := range releases {
				if rel != nil {
					rel()
				}
			}
			if s.n != 0 || len(s.held) != 0 {
				t.Errorf("after every release: %d held, keys %v", s.n, s.held)
			}
		})
	}
	var s *Slots
	if rel, ok := s.Acquire("a"); !ok || s.InUse() != 0 {
		t.Error("a nil Slots refused or counted")
	} else {
		rel()
	}
}
