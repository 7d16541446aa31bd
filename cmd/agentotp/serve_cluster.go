package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// defaultLeaseTTL is how long a lease of work that runs once in the
// cluster (the sweepers, the IMAP connectors, the Telegram bot) lasts
// without a renewal. Its holder renews it every third of that; a holder
// that dies leaves it to another relay within ttl + ttl/3 (13.3 s), one
// that stops cleanly gives it up at once and another takes it within
// ttl/3.
const defaultLeaseTTL = 10 * time.Second

// leaseRunner runs components on one relay of the cluster at a time,
// each under a lease of the shared store.
type leaseRunner struct {
	c   domain.Cluster
	ttl time.Duration
	log *slog.Logger
}

// leaseGate says whether this relay holds a component's lease now; the
// component's notifiers look at it before they act.
type leaseGate struct{ held atomic.Bool }

// Held reports whether the lease is held.
func (g *leaseGate) Held() bool { return g != nil && g.held.Load() }

// component returns a component that runs fn, under the lease name, on
// one relay at a time: it takes the lease (or tries again every ttl/3),
// runs fn while it holds it and renews it every ttl/3. It cancels fn's
// ctx as soon as a renewal is refused, or when renewals have failed until
// only ttl/3 of the lease is left, so that fn has stopped before the
// lease can pass to another relay. When fn stops, and at shutdown, it
// releases the lease. gate, when not nil, is held exactly
// while fn runs. An error of fn (not of its ctx ending) stops the relay.
func (l *leaseRunner) component(name string, gate *leaseGate, fn func(context.Context) error) component {
	if gate == nil {
		gate = &leaseGate{}
	}
	return component{name, func(ctx context.Context) error { return l.run(ctx, name, gate, fn) }}
}

func (l *leaseRunner) every() time.Duration { return max(l.ttl/3, time.Millisecond) }

func (l *leaseRunner) run(ctx context.Context, name string, gate *leaseGate, fn func(context.Context) error) error {
	t := time.NewTicker(l.every())
	defer t.Stop()
	for {
		if l.take(ctx, name) {
			if err := l.hold(ctx, name, gate, fn, t.C); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// take takes or renews the lease, within ttl/3.
func (l *leaseRunner) take(ctx context.Context, name string) bool {
	ok, err := l.lease(ctx, name, time.Now().Add(l.every()))
	return ok && err == nil
}

// lease calls Lease, bounded by deadline; an error is logged.
func (l *leaseRunner) lease(ctx context.Context, name string, deadline time.Time) (bool, error) {
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ok, err := l.c.Lease(lctx, "component:"+name, l.ttl)
	if err != nil && ctx.Err() == nil {
		l.log.WarnContext(ctx, "cluster: lease not taken or renewed", "lease", name, "err", err)
	}
	return ok, err
}

// hold runs fn while the lease is renewed at every tick.
func (l *leaseRunner) hold(ctx context.Context, name string, gate *leaseGate, fn func(context.Context) error, tick <-chan time.Time) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	gate.held.Store(true)
	l.log.InfoContext(ctx, "cluster: lease taken; running here", "lease", name)
	go func() { done <- fn(runCtx) }()
	// The lease was last renewed no earlier than renewed; fn must have
	// stopped by the time it could run out, so it is told to stop a third
	// of the ttl before: a renewal that fails is tried again at the next
	// tick while there is time, and one that is refused stops fn at once.
	renewed := time.Now().Add(-l.every())
	var err error
	stopped := false
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case err = <-done:
			stopped = true
			break wait
		case <-tick:
			stopBy := renewed.Add(l.ttl - l.every())
			start := time.Now()
			ok, lerr := l.lease(ctx, name, stopBy)
			switch {
			case ok && lerr == nil:
				renewed = start
			case lerr != nil && time.Now().Add(l.every()/2).Before(stopBy):
				// not renewed, but held for a while yet: try again
			default:
				if ctx.Err() == nil {
					l.log.WarnContext(ctx, "cluster: lease lost; stopping here", "lease", name)
				}
				break wait
			}
		}
	}
	gate.held.Store(false)
	cancel()
	if !stopped {
		err = <-done
	}
	if runCtx.Err() != nil {
		err = nil // it stopped because it was told to
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), l.every())
	defer rcancel()
	if rerr := l.c.ReleaseLease(rctx, "component:"+name); rerr != nil {
		l.log.WarnContext(ctx, "cluster: lease not released; it passes on when it runs out", "lease", name, "err", rerr)
	} else {
		l.log.InfoContext(ctx, "cluster: lease released", "lease", name)
	}
	if err != nil {
		return fmt.Errorf("under lease %s: %w", name, err)
	}
	return nil
}

// gatedNotifier passes request changes to n only while gate is held: a
// relay that does not run a component (the Telegram bot) must not act
// for it.
type gatedNotifier struct {
	gate *leaseGate
	n    relay.Notifier
}

func (g gatedNotifier) Notify(ctx context.Context, ev domain.RequestChange) {
	if g.gate.Held() {
		g.n.Notify(ctx, ev)
	}
}

// gatedEnrollmentNotifier is gatedNotifier for enrollment changes.
type gatedEnrollmentNotifier struct {
	gate *leaseGate
	n    relay.EnrollmentNotifier
}

func (g gatedEnrollmentNotifier) NotifyEnrollment(ctx context.Context, ev domain.EnrollmentChange) {
	if g.gate.Held() {
		g.n.NotifyEnrollment(ctx, ev)
	}
}
