package httpapi

import (
	"context"
	"time"
)

// What ended an event stream's park.
const (
	streamDone = iota
	streamChanged
	streamDeadline
	streamDraining
)

// parkStream sleeps until the request changes, at passes (its expiry or
// the next heartbeat, from the relay's one clock of deadlines: no timer
// per stream), the relay drains or the client goes away, and says which.
// It is a frame of its own so that a parked stream keeps a small stack.
func (s *Server) parkStream(ctx context.Context, changed <-chan struct{}, at time.Time, draining <-chan struct{}) int {
	due, release := s.svc.WaitUntil(at)
	defer release()
	select {
	case <-changed:
		return streamChanged
	case <-due:
		return streamDeadline
	case <-draining:
		return streamDraining
	case <-ctx.Done():
		return streamDone
	}
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
