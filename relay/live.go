package relay

import (
	"fmt"
	"sync"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/seal"
)

// maxLiveEntries bounds the cache of compiled filters and parsed keys;
// past it the cache starts afresh (live requests are at most
// MaxLiveRequestsPerAgent per agent, so this is a guard, not a policy).
const maxLiveEntries = 10_000

// liveEntry is what matching and sealing need of a live request, made
// once: its filter compiled and its public key parsed. A request's filter
// and key never change once it is stored.
type liveEntry struct {
	matcher *agentotp.Matcher // nil: the filter no longer compiles
	// meta is the filter without its content pattern: what an edge
	// delivery, whose text the relay never sees, is checked against.
	meta   *agentotp.Matcher
	key    *seal.PublicKey
	keyErr error
}

// sealKey returns the request's parsed public key.
func (e *liveEntry) sealKey() (*seal.PublicKey, error) { return e.key, e.keyErr }

// liveCache holds the liveEntry of each request that was matched or
// sealed to, until the request leaves the live statuses.
type liveCache struct {
	mu sync.Mutex
	m  map[string]*liveEntry
}

// of returns r's entry, making it on first use.
func (c *liveCache) of(r *agentotp.Request) *liveEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[r.ID]; ok {
		return e
	}
	e := &liveEntry{}
	if m, err := r.Filter.Compile(); err == nil {
		e.matcher = m
	}
	meta := r.Filter
	meta.ContentPattern = ""
	if m, err := meta.Compile(); err == nil {
		e.meta = m
	}
	e.key, e.keyErr = seal.ParsePublicKey(r.PublicKey)
	if e.keyErr != nil {
		e.keyErr = fmt.Errorf("the key of %s: %w", r.ID, e.keyErr)
	}
	if c.m == nil || len(c.m) >= maxLiveEntries {
		c.m = map[string]*liveEntry{}
	}
	c.m[r.ID] = e
	return e
}

// forget drops the entry of a request that left the live statuses.
func (c *liveCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
