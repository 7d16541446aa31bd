package relay

import (
	"container/heap"
	"sync"
	"time"
)

// waitClock wakes waiting callers (long-polls, event streams) at their
// deadlines with one runtime timer for all of them, instead of one timer
// each: a min-heap of deadlines and a timer set to the earliest. Its zero
// value is ready to use.
type waitClock struct {
	mu    sync.Mutex
	due   deadlineHeap
	timer *time.Timer // fires at due[0].at; made at the first add
	armed time.Time   // when timer fires; zero when stopped
}

// deadline is one waiter's entry: ch is closed at the deadline.
type deadline struct {
	at time.Time
	ch chan struct{}
	i  int // index in the heap; -1 once fired or removed
}

// add returns a channel that is closed at at (at once if at has passed),
// and a function that removes the entry; call it when the wait ends.
func (c *waitClock) add(at time.Time) (<-chan struct{}, func()) {
	d := &deadline{at: at, ch: make(chan struct{})}
	c.mu.Lock()
	heap.Push(&c.due, d)
	c.arm()
	c.mu.Unlock()
	return d.ch, func() { c.remove(d) }
}

func (c *waitClock) remove(d *deadline) {
	c.mu.Lock()
	if d.i >= 0 {
		heap.Remove(&c.due, d.i)
	}
	c.mu.Unlock()
	// The timer may stay armed for a deadline that is gone: it then
	// fires, finds nothing due and re-arms for the next.
}

// arm sets the timer to the earliest deadline if it is not set to fire by
// then; the caller holds mu.
func (c *waitClock) arm() {
	if len(c.due) == 0 {
		return
	}
	next := c.due[0].at
	if !c.armed.IsZero() && !c.armed.After(next) {
		return
	}
	c.armed = next
	wait := max(time.Until(next), 0)
	if c.timer == nil {
		c.timer = time.AfterFunc(wait, c.fire)
		return
	}
	c.timer.Reset(wait)
}

// fire closes the channels of every deadline that has passed and re-arms
// the timer for the next.
func (c *waitClock) fire() {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = time.Time{}
	for len(c.due) > 0 && !c.due[0].at.After(now) {
		d := heap.Pop(&c.due).(*deadline)
		close(d.ch)
	}
	c.arm()
}

// len returns the number of deadlines not yet passed, for tests.
func (c *waitClock) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.due)
}

// deadlineHeap orders deadlines, earliest first (container/heap).
type deadlineHeap []*deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i, j
}
func (h *deadlineHeap) Push(x any) {
	d := x.(*deadline)
	d.i = len(*h)
	*h = append(*h, d)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	d.i = -1
	*h = old[:len(old)-1]
	return d
}
