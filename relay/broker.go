package relay

import "sync"

// Broker wakes callers waiting on a request when it changes. It is an
// in-process fan-out: the changes this process makes wake its waiters,
// and, when the store is shared by several relays, so do the changes the
// others make, as the store tells of them (Service.RunCluster).
type Broker struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	owners  map[string]map[chan string]struct{}
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{
		waiters: map[string]map[chan struct{}]struct{}{},
		owners:  map[string]map[chan string]struct{}{},
	}
}

// Subscribe returns a channel that is closed at the next change of the
// request, and a function that releases the subscription.
func (b *Broker) Subscribe(requestID string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	set := b.waiters[requestID]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		b.waiters[requestID] = set
	}
	set[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if set, ok := b.waiters[requestID]; ok {
			if _, ok := set[ch]; ok {
				delete(set, ch)
				if len(set) == 0 {
					delete(b.waiters, requestID)
				}
			}
		}
	}
}

// SubscribeOwner returns a channel that receives the id of every request
// of the owner that changes. Slow readers miss ids rather than block the
// publisher; the buffer holds 64.
func (b *Broker) SubscribeOwner(ownerID string) (<-chan string, func()) {
	ch := make(chan string, 64)
	b.mu.Lock()
	set := b.owners[ownerID]
	if set == nil {
		set = map[chan string]struct{}{}
		b.owners[ownerID] = set
	}
	set[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if set, ok := b.owners[ownerID]; ok {
			delete(set, ch)
			if len(set) == 0 {
				delete(b.owners, ownerID)
			}
		}
	}
}

// Publish wakes every waiter of the request and tells the owner's
// subscribers.
func (b *Broker) Publish(ownerID, requestID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.waiters[requestID] {
		close(ch)
	}
	delete(b.waiters, requestID)
	for ch := range b.owners[ownerID] {
		select {
		case ch <- requestID:
		default:
		}
	}
}

// Waiters returns the number of request subscriptions, for metrics.
func (b *Broker) Waiters() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, set := range b.waiters {
		n += len(set)
	}
	return n
}

// WakeAll wakes every waiter of every request (and of every enrollment),
// and sends "" to every owner subscriber, which names no request: each of
// them re-reads what it waits on. The relay calls it when it may have
// missed changes that other relays made (a store listener that
// reconnected).
func (b *Broker) WakeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, set := range b.waiters {
		for ch := range set {
			close(ch)
		}
		delete(b.waiters, id)
	}
	for _, set := range b.owners {
		for ch := range set {
			select {
			case ch <- "":
			default:
			}
		}
	}
}
