// Package drain carries a server's shutdown to the handlers that hold
// requests open (long-polls, event streams), so that they answer at once
// instead of being cut off.
//
// The lifecycle makes one Signal, puts it in the base context of every
// connection (With, from http.Server.BaseContext) and starts it when the
// server begins to shut down (Start, from http.Server.RegisterOnShutdown).
// A handler selects on Done(r.Context()) beside its other events. The
// request's own context stays alive, so the handler can still read the
// store and write its answer.
package drain

import (
	"context"
	"sync"
)

// Signal is closed once, when the server starts draining. The zero value
// is not usable; use New.
type Signal struct {
	once sync.Once
	ch   chan struct{}
}

// New returns a signal that has not started.
func New() *Signal { return &Signal{ch: make(chan struct{})} }

// Start starts the drain; later calls do nothing. Its shape fits
// http.Server.RegisterOnShutdown.
func (s *Signal) Start() { s.once.Do(func() { close(s.ch) }) }

// Done is closed once the drain has started.
func (s *Signal) Done() <-chan struct{} { return s.ch }

type key struct{}

// With returns ctx carrying s.
func With(ctx context.Context, s *Signal) context.Context {
	return context.WithValue(ctx, key{}, s)
}

// Done returns the channel of the signal ctx carries, closed once the
// server drains; without a signal, a nil channel (never ready).
func Done(ctx context.Context) <-chan struct{} {
	if s, ok := ctx.Value(key{}).(*Signal); ok {
		return s.ch
	}
	return nil
}

// Context returns a context derived from ctx that is also cancelled when
// the drain starts, and a function that releases it. It is for a blocking
// call (a long-poll's wait) that should end at shutdown.
func Context(ctx context.Context) (context.Context, context.CancelFunc) {
	ch := Done(ctx)
	ctx, cancel := context.WithCancel(ctx)
	if ch == nil {
		return ctx, cancel
	}
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Started reports whether the drain of the signal ctx carries has
// started.
func Started(ctx context.Context) bool {
	select {
	case <-Done(ctx):
		return true
	default:
		return false
	}
}
