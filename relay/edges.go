package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
)

// The methods in this file are what the edges (HTTP API, dashboard, SMTP,
// IMAP and Telegram) need beyond the use cases: wake-ups, single rows with
// NOT_FOUND already translated, readiness. The edges reach the store and
// the broker only through them.

// WatchRequest returns a channel that is closed at the next change of the
// request, and a function that releases the subscription. Subscribe before
// reading the request, so that a change between the read and the wait is
// not missed.
func (s *Service) WatchRequest(id string) (<-chan struct{}, func()) { return s.broker.Subscribe(id) }

// WaitUntil returns a channel that is closed at at, from the service's
// one clock of deadlines (no timer per waiter), and a function that
// releases the entry: call it when the wait ends, whichever way.
func (s *Service) WaitUntil(at time.Time) (<-chan struct{}, func()) { return s.waits.add(at) }

// WatchOwner returns a channel that receives the id of every request of
// the owner that changes (slow readers miss ids rather than block), and a
// function that releases it.
func (s *Service) WatchOwner(ownerID string) (<-chan string, func()) {
	return s.broker.SubscribeOwner(ownerID)
}

// Waiters returns the number of callers waiting on a request, for metrics.
func (s *Service) Waiters() int { return s.broker.Waiters() }

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	if _, err := s.store.ListOwners(ctx); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	return nil
}

var errAgentNotFound = agentotp.Errorf(agentotp.ENotFound, "no such agent")

// OwnerAgent returns one agent of the owner; another owner's agent is
// NOT_FOUND.
func (s *Service) OwnerAgent(ctx context.Context, ownerID, id string) (*agentotp.Agent, error) {
	a, err := s.store.GetAgent(ctx, ownerID, id)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errAgentNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get agent: %w", err)
	}
	return a, nil
}

// OwnerWebhook returns one webhook delivery of the owner.
func (s *Service) OwnerWebhook(ctx context.Context, ownerID, id string) (*agentotp.WebhookDelivery, error) {
	d, err := s.store.GetWebhook(ctx, ownerID, id)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "no such webhook delivery")
	}
	if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	return d, nil
}

var errSourceNotFound = agentotp.Errorf(agentotp.ENotFound, "no such source")

// FindSource returns the source with the given id, whichever owner it
// belongs to: the relay's own configuration (an MX domain mapped to a
// source id) names sources without their owner.
func (s *Service) FindSource(ctx context.Context, id string) (*agentotp.Source, error) {
	owners, err := s.store.ListOwners(ctx)
	if err != nil {
		return nil, fmt.Errorf("find source: %w", err)
	}
	for _, o := range owners {
		src, err := s.store.GetSource(ctx, o.ID, id)
		if errors.Is(err, agentotp.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find source: %w", err)
		}
		return src, nil
	}
	return nil, errSourceNotFound
}
