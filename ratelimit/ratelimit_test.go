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

// TestBlocked: Blocked reports what Allow would do without taking a
// token, and keeps nothing for a key it has not seen.
func TestBlocked(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name      string
		limiter   *Limiter
		taken     int           // tokens Allow took for "a" at now
		at        time.Duration // when Blocked asks, after now
		blocked   bool
		retry     int
		bucketsIn int // buckets kept after Blocked
	}{
		{name: "unseen key", limiter: New(60, 2), blocked: false, bucketsIn: 0},
		{name: "tokens left", limiter: New(60, 2), taken: 1, bucketsIn: 1},
		{name: "none left", limiter: New(60, 2), taken: 2, blocked: true, retry: 1, bucketsIn: 1},
		{name: "over, slow refill", limiter: New(30, 2), taken: 3, blocked: true, retry: 2, bucketsIn: 1},
		{name: "refilled", limiter: New(60, 2), taken: 2, at: time.Second, bucketsIn: 1},
		{name: "nil", limiter: nil, taken: 5},
		{name: "disabled", limiter: New(0, 0), taken: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.limiter
			for range tc.taken {
				l.Allow("a", now)
			}
			for i := range 3 { // asking again changes nothing
				blocked, retry := l.Blocked("a", now.Add(tc.at))
				if blocked != tc.blocked || retry != tc.retry {
					t.Fatalf("ask %d: Blocked = %v, %d; want %v, %d", i, blocked, retry, tc.blocked, tc.retry)
				}
			}
			if l == nil {
				return
			}
			if n := len(l.buckets); n != tc.bucketsIn {
				t.Errorf("%d buckets kept; want %d", n, tc.bucketsIn)
			}
			// Allow agrees with Blocked.
			if ok, retry := l.Allow("a", now.Add(tc.at)); ok == tc.blocked || retry != tc.retry {
				t.Errorf("Allow = %v, %d after Blocked = %v, %d", ok, retry, tc.blocked, tc.retry)
			}
			if blocked, _ := l.Blocked("b", now); blocked {
				t.Error("another key is blocked")
			}
		})
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
