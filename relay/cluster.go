package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
)

// RunCluster keeps this relay current with the others that share its
// store, until ctx ends: every change another relay commits is applied to
// the live index, wakes the waiters of its request or enrollment and goes
// to the notifiers, as the relay's own changes do (Service.published,
// Service.enrollmentChanged). Each time the store's listener has
// (re)connected, the live index is read again and every waiter is woken,
// so that no change made while it was not listening is missed. It returns
// ctx's error, or the listener's if it stops for good.
func (s *Service) RunCluster(ctx context.Context, c agentotp.Cluster) error {
	s.shared.Store(true)
	err := c.Listen(ctx, s.resync, s.heard)
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("cluster listener: %w", err)
}

// heard applies a change that another relay committed. The change names
// the row; the row is read again from the store.
func (s *Service) heard(ctx context.Context, ch agentotp.Change) {
	switch ch.Kind {
	case agentotp.ChangeRequest:
		r, err := s.store.GetRequest(ctx, ch.ID)
		if errors.Is(err, agentotp.ErrNotFound) {
			s.broker.Publish(ch.OwnerID, ch.ID) // its waiters find out
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, "cluster: read a changed request; waking every waiter", "request_id", ch.ID, "err", err)
				s.broker.WakeAll()
			}
			return
		}
		s.index.apply(r, s.Now())
		s.broker.Publish(r.OwnerID, r.ID)
		s.emit(ctx, r, ch.Action, ch.Actor, ch.At)
	case agentotp.ChangeEnrollment:
		e, err := s.store.GetEnrollment(ctx, ch.ID)
		if errors.Is(err, agentotp.ErrNotFound) {
			s.broker.Publish(ch.OwnerID, ch.ID)
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, "cluster: read a changed enrollment; waking every waiter", "enrollment_id", ch.ID, "err", err)
				s.broker.WakeAll()
			}
			return
		}
		// The user code is known only to the relay that started the
		// enrollment (the store keeps its hash).
		s.enrollmentChanged(ctx, e, ch.Action, "", ch.At)
	default:
		s.log.WarnContext(ctx, "cluster: a change of an unknown kind", "kind", ch.Kind, "id", ch.ID)
	}
}

// resync makes up for the changes the relay may have missed while its
// listener was not connected: every loaded owner's part of the live index
// is read again from the store, each request that changed meanwhile goes
// to the owner's subscribers and the notifiers, and every waiter is woken
// to re-read what it waits on.
func (s *Service) resync(ctx context.Context) {
	s.applyReloaded(ctx, s.index.reload(ctx))
	s.broker.WakeAll()
	s.log.InfoContext(ctx, "cluster: listening; live requests read again and waiters woken")
}

// refreshOwner reads the owner's part of the live index again from the
// store (when it is loaded), passes on the requests that had changed as
// resync does, and reports whether any had.
func (s *Service) refreshOwner(ctx context.Context, ownerID string) bool {
	changed := s.index.reloadOwner(ctx, ownerID)
	s.applyReloaded(ctx, changed)
	return len(changed) > 0
}

// applyReloaded sends each request that a reload of the live index found
// changed to its subscribers and to the notifiers.
func (s *Service) applyReloaded(ctx context.Context, changed []reloaded) {
	for _, ch := range changed {
		if ch.err != nil {
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, "cluster: reload the live requests", "owner_id", ch.ownerID, "err", ch.err)
			}
			continue
		}
		r := ch.req
		if r == nil { // it left the live statuses meanwhile: read how it ended
			var err error
			if r, err = s.store.GetRequest(ctx, ch.id); err != nil {
				s.broker.Publish(ch.ownerID, ch.id)
				continue
			}
		}
		s.broker.Publish(r.OwnerID, r.ID)
		action, actor := "", ""
		if ch.added && r.Status == agentotp.StatusPending && !r.Test {
			// A request this relay hears of for the first time, still
			// waiting for the owner: the notifiers are told it is new
			// (the Telegram bot then sends its prompt).
			action, actor = agentotp.AuditRequestCreated, agentotp.ActorAgent(r.AgentID)
		}
		s.emit(ctx, r, action, actor, r.UpdatedAt)
	}
}

// reloaded is one request found changed by liveIndex.reload, or an
// owner whose part could not be read (err).
type reloaded struct {
	ownerID string
	id      string
	req     *agentotp.Request // as the store holds it now; nil when it is no longer live
	added   bool              // it was not in the index before
	err     error
}

// reloadOwner is reload for one owner's part.
func (x *liveIndex) reloadOwner(ctx context.Context, ownerID string) []reloaded {
	x.mu.Lock()
	oi := x.owners[ownerID]
	x.mu.Unlock()
	if oi == nil {
		return nil
	}
	return oi.reload(ctx, ownerID, x.load)
}

// reload reads every loaded owner's part of the index again from the
// store and reports the requests that differ: new, changed or no longer
// live. An owner whose read fails is marked unloaded, so that its next
// use loads it.
func (x *liveIndex) reload(ctx context.Context) []reloaded {
	x.mu.Lock()
	owners := make(map[string]*ownerIndex, len(x.owners))
	for id, oi := range x.owners {
		owners[id] = oi
	}
	x.mu.Unlock()
	var out []reloaded
	for ownerID, oi := range owners {
		out = append(out, oi.reload(ctx, ownerID, x.load)...)
	}
	return out
}

func (oi *ownerIndex) reload(ctx context.Context, ownerID string, load func(context.Context, string) ([]*agentotp.Request, error)) []reloaded {
	oi.mu.Lock()
	defer oi.mu.Unlock()
	if !oi.loaded {
		return nil // its first use loads it
	}
	rs, err := load(ctx, ownerID)
	if err != nil {
		oi.loaded = false
		return []reloaded{{ownerID: ownerID, err: err}}
	}
	old := oi.byID
	oi.byID = map[string]*indexEntry{}
	oi.groups = map[string]*indexGroup{}
	oi.agents = map[string]map[string]bool{}
	now := time.Now()
	var out []reloaded
	for _, r := range rs {
		oi.put(r, now)
		e := oi.byID[r.ID]
		prev := old[r.ID]
		if e != nil && prev != nil {
			e.live = prev.live // a request's filter and key never change
		}
		switch {
		case prev == nil:
			out = append(out, reloaded{ownerID: ownerID, id: r.ID, req: r, added: true})
		case prev.req.Version != r.Version:
			out = append(out, reloaded{ownerID: ownerID, id: r.ID, req: r})
		}
	}
	for id := range old {
		if oi.byID[id] == nil {
			if _, ok := oi.gone[id]; !ok {
				oi.gone[id] = goneAt{version: old[id].req.Version, at: now}
			}
			out = append(out, reloaded{ownerID: ownerID, id: id})
		}
	}
	return out
}

// liveCapError is the refusal of a request beyond MaxLiveRequestsPerAgent
// (n: the agent's live requests, when known; 0 when the store refused).
func liveCapError(n int) error {
	if n <= 0 {
		n = MaxLiveRequestsPerAgent
	}
	return &agentotp.Error{Code: agentotp.ERateLimit, RetryAfter: 10,
		Message: fmt.Sprintf("this agent already has %d requests waiting; consume, cancel or let one expire first", n)}
}
