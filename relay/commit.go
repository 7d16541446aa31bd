package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
)

// commit writes a change of r, read at version prev, with its audit
// entry; then it wakes whoever waits on the request and queues the change
// for the notifiers. It is the one way a stored request changes; a lost
// race is agentotp.ErrConflict, and nothing is published.
func (s *Service) commit(ctx context.Context, r *agentotp.Request, prev int64, e agentotp.AuditEntry) error {
	return s.commitSeen(ctx, r, prev, nil, e)
}

// commitSeen is commit that, when seen is set, records in the same
// transaction that its source delivered the message (a message recorded
// already is agentotp.ErrDuplicateMessage, and nothing is written).
func (s *Service) commitSeen(ctx context.Context, r *agentotp.Request, prev int64, seen *agentotp.MessageRecord, e agentotp.AuditEntry) error {
	var err error
	if seen != nil {
		err = s.store.DeliverMessage(ctx, r, prev, *seen, e)
	} else {
		err = s.store.UpdateRequest(ctx, r, prev, e)
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "request changed", "request_id", r.ID, "action", e.Action, "actor", e.Actor, "status", r.Status)
	s.published(ctx, r, e)
	return nil
}

// published tells the broker and the notifiers of a change (or a new
// request) that the store has taken.
func (s *Service) published(ctx context.Context, r *agentotp.Request, e agentotp.AuditEntry) {
	if (e.Action == agentotp.AuditRequestApproved || e.Action == agentotp.AuditRequestDenied) && e.Details[detailStatement] != "" {
		if a, err := signedFromAudit(&e); err == nil {
			s.approvals.put(r.ID, a)
		}
	}
	s.index.apply(r, s.Now())
	if !s.shared.Load() {
		s.requests.put(r, time.Now()) // before the waiters wake
	}
	s.broker.Publish(r.OwnerID, r.ID)
	s.emit(ctx, r, e.Action, e.Actor, e.At)
}

// errSkip, returned by an update's change, leaves the request as it is.
var errSkip = errors.New("relay: change does not apply")

// update changes the request id until the change commits: it reads the
// request (first, when given, stands for the first read), lets change
// modify it and return the audit entry, and starts again when someone
// else changed the request in the meantime.
func (s *Service) update(ctx context.Context, id string, first *agentotp.Request, change func(r *agentotp.Request, now time.Time) (agentotp.AuditEntry, error)) (*agentotp.Request, error) {
	return s.updateSeen(ctx, id, first, nil, change)
}

// updateSeen is update whose commit also records seen (commitSeen).
func (s *Service) updateSeen(ctx context.Context, id string, first *agentotp.Request, seen *agentotp.MessageRecord, change func(r *agentotp.Request, now time.Time) (agentotp.AuditEntry, error)) (*agentotp.Request, error) {
	r, fresh := first, false
	for {
		if r == nil {
			var err error
			if r, err = s.read(ctx, id, fresh); err != nil {
				return nil, err
			}
		}
		prev := r.Version
		e, err := change(r, s.Now())
		if err != nil {
			return nil, err
		}
		err = s.commitSeen(ctx, r, prev, seen, e)
		if errors.Is(err, agentotp.ErrConflict) {
			r, fresh = nil, true // read again, from the store
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", e.Action, id, err)
		}
		return r, nil
	}
}
