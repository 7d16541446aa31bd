package relay

import (
	"testing"
	"time"
)

// TestWaitClock: each deadline's channel is closed once its time has
// passed, in order, whatever order they were added in; a removed one is
// never closed; one already past is closed at once.
func TestWaitClock(t *testing.T) {
	var c waitClock
	base := time.Now()
	tests := []struct {
		name   string
		after  time.Duration
		remove bool
	}{
		{"third", 60 * time.Millisecond, false},
		{"first", 20 * time.Millisecond, false},
		{"removed", 30 * time.Millisecond, true},
		{"past", -time.Second, false},
		{"second", 40 * time.Millisecond, false},
		{"far", time.Hour, true},
	}
	chans := map[string]<-chan struct{}{}
	for _, tt := range tests {
		ch, release := c.add(base.Add(tt.after))
		if tt.remove {
			release()
			release() // twice: nothing happens
		}
		chans[tt.name] = ch
	}
	fail := time.After(10 * time.Second) // a guard against a hang, not a timing check
	for _, name := range []string{"past", "first", "second", "third"} {
		select {
		case <-chans[name]:
		case <-fail:
			t.Fatalf("deadline %q never fired", name)
		}
		if time.Now().Before(base.Add(tests[index(tests, name)].after)) {
			t.Errorf("deadline %q fired before its time", name)
		}
	}
	for _, name := range []string{"removed", "far"} {
		select {
		case <-chans[name]:
			t.Errorf("removed deadline %q fired", name)
		default:
		}
	}
	if n := c.len(); n != 0 {
		t.Errorf("%d deadlines left in the clock", n)
	}
}

func index(tests []struct {
	name   string
	after  time.Duration
	remove bool
}, name string) int {
	for i, tt := range tests {
		if tt.name == name {
			return i
		}
	}
	return -1
}
