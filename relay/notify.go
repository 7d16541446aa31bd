package relay

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/agentotp/agentotp"
)

// Notifier is told of request changes: a dashboard's live feed, a
// Telegram bot, an outbound channel. Notify runs on the notifier's own
// goroutine; a slow or failing notifier never delays the request itself,
// and events it cannot keep up with are dropped for it alone.
type Notifier interface {
	Notify(ctx context.Context, ev agentotp.RequestChange)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, ev agentotp.RequestChange)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, ev agentotp.RequestChange) { f(ctx, ev) }

// notifierQueue is the buffer in front of one notifier.
const notifierQueue = 1024

type notifierSlot struct {
	n  Notifier
	ch chan agentotp.RequestChange
}

// hub fans events out to notifiers without blocking the caller.
type hub struct {
	mu     sync.Mutex
	slots  []*notifierSlot
	runCtx context.Context // set while Run runs
	wg     sync.WaitGroup
}

// AddNotifier registers n. It receives the events that happen from now
// on, delivered once Run runs (at once, if Run is running already).
func (s *Service) AddNotifier(n Notifier) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	sl := &notifierSlot{n: n, ch: make(chan agentotp.RequestChange, notifierQueue)}
	s.hub.slots = append(s.hub.slots, sl)
	if s.hub.runCtx != nil {
		s.startNotifier(s.hub.runCtx, sl)
	}
}

// startNotifier runs one notifier's loop; the caller holds hub.mu.
func (s *Service) startNotifier(ctx context.Context, sl *notifierSlot) {
	s.hub.wg.Add(1)
	go func() {
		defer s.hub.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sl.ch:
				s.safeNotify(ctx, sl.n, ev)
			}
		}
	}()
}

// emit queues an event for every notifier.
func (s *Service) emit(ctx context.Context, r *agentotp.Request, action, actor string, at time.Time) {
	s.hub.mu.Lock()
	slots := s.hub.slots
	s.hub.mu.Unlock()
	if len(slots) == 0 {
		return
	}
	snap := *r
	snap.Payload, snap.Content = nil, nil
	if snap.Metadata != nil {
		md := *snap.Metadata
		snap.Metadata = &md
	}
	snap.Filter.Sources = slices.Clone(r.Filter.Sources)
	ev := agentotp.RequestChange{Action: action, Actor: actor, At: at, Request: snap}
	for _, sl := range slots {
		select {
		case sl.ch <- ev:
		default:
			s.log.WarnContext(ctx, "notifier queue full; event dropped for it", "action", action, "request_id", r.ID)
		}
	}
}

// Run runs the sweeper and the notifiers until ctx ends, and returns when
// they have stopped. A sweep interval of zero or less means one second.
func (s *Service) Run(ctx context.Context, sweepInterval time.Duration) {
	if sweepInterval <= 0 {
		sweepInterval = time.Second
	}
	s.startNotifiers(ctx)
	s.RunSweeper(ctx, sweepInterval)
	s.stopNotifiers()
}

// RunNotifiers runs the notifiers, without the sweeper, until ctx ends,
// and returns when they have stopped: a relay that shares its store with
// others runs them on every relay, and the sweeper on one at a time.
func (s *Service) RunNotifiers(ctx context.Context) {
	s.startNotifiers(ctx)
	<-ctx.Done()
	s.stopNotifiers()
}

func (s *Service) startNotifiers(ctx context.Context) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.runCtx = ctx
	for _, sl := range s.hub.slots {
		s.startNotifier(ctx, sl)
	}
}

// stopNotifiers waits for the notifiers once the ctx they run under ended.
func (s *Service) stopNotifiers() {
	s.hub.mu.Lock()
	s.hub.runCtx = nil
	s.hub.mu.Unlock()
	s.hub.wg.Wait()
}

func (s *Service) safeNotify(ctx context.Context, n Notifier, ev agentotp.RequestChange) {
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "notifier panicked", "action", ev.Action, "request_id", ev.Request.ID, "panic", v)
		}
	}()
	n.Notify(ctx, ev)
}
