package relay

import (
	"sync"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/seal"
)

// The service keeps three small caches of what every lifecycle would
// otherwise read or compute again: parsed public keys, the credentials
// behind bearer tokens, and the signed statements of decisions. Each is
// bounded by maxCached entries and emptied whole when it is full, which
// keeps them simple and their memory fixed.
const maxCached = 4096

// bounded is a map of at most maxCached entries, emptied whole when it is
// full, safe for concurrent use.
type bounded[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (b *bounded[K, V]) get(k K) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[k]
	return v, ok
}

// put stores v under k.
func (b *bounded[K, V]) put(k K, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil || len(b.m) >= maxCached {
		b.m = make(map[K]V)
	}
	b.m[k] = v
}

// keyCache holds parsed (and checked) public keys by their API encoding.
// Parsing an HPKE key runs a trial encapsulation, as costly as a seal; an
// agent sends the same key with each request it creates. A parse depends
// on nothing but its input, so an entry is never stale.
type keyCache struct {
	keys bounded[string, *seal.PublicKey]
}

// parse returns the key encoded by s, parsing it only when it is new.
// Errors are not kept.
func (c *keyCache) parse(s string) (*seal.PublicKey, error) {
	if k, ok := c.keys.get(s); ok {
		return k, nil
	}
	k, err := seal.ParsePublicKey(s)
	if err != nil {
		return nil, err
	}
	c.keys.put(s, k)
	return k, nil
}

// credTTL bounds how long a cached credential is believed; every change
// the service makes to credentials, agents or sources empties the cache at
// once, so the bound only matters for a change this process did not make.
const credTTL = 10 * time.Second

// credCache holds what Authenticate read of a credential: the stored
// credential itself (so that its expiry and revocation times are checked
// at every use, against the token by constant-time comparison) and the
// principal it resolved to. It is keyed by the token's hash (what the
// store keeps), never by the token. It is used only while the store is this
// relay's alone: on a shared store another relay may revoke a key.
//
// The generation guards the race of a read with a revocation: a lookup
// that read the store before a revocation emptied the cache carries the
// generation it started at, and its result is not kept.
type credCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]credEntry
}

type credEntry struct {
	cred *agentotp.Credential
	p    Principal
	at   time.Time
}

// generation returns the current generation, to be passed to put.
func (c *credCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns the cached credential and principal for a token's hash,
// read no earlier than credTTL before now.
func (c *credCache) get(hash []byte, now time.Time) (*agentotp.Credential, Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(hash)]
	if !ok || now.Sub(e.at) >= credTTL || now.Before(e.at) {
		return nil, Principal{}, false
	}
	return e.cred, e.p, true
}

// put keeps a lookup that began at generation gen, unless the cache was
// emptied since.
func (c *credCache) put(gen uint64, hash []byte, cred *agentotp.Credential, p Principal, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCached {
		c.entries = make(map[string]credEntry)
	}
	c.entries[string(hash)] = credEntry{cred: cred, p: p, at: now}
}

// changed empties the cache; the service calls it after every change of a
// credential, an agent or a source has committed.
func (c *credCache) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = nil
}

// approvalCache holds the signed statements of the decisions this relay
// committed, by request id, so that a request's view does not read its
// audit trail back to show them. A request is decided once, so an entry
// is never stale; a request decided elsewhere (on another relay) or before
// a restart is read from the audit trail as before.
type approvalCache struct {
	byReq bounded[string, *approval.Signed]
}

func (c *approvalCache) get(requestID string) *approval.Signed {
	a, _ := c.byReq.get(requestID)
	return a
}

func (c *approvalCache) put(requestID string, a *approval.Signed) { c.byReq.put(requestID, a) }

// requestCache holds the latest version this relay committed of each
// request it changed lately, so that the reads of a lifecycle (the
// approval's, the long-poll's, the consume's) do not go to the store for a
// row the relay has just written. Every change of a request goes through
// Service.commit or CreateRequest, which put the committed version here
// (published) before they wake waiters. Like the credentials, it is used
// only while the store is this relay's alone.
//
// Two commits of one request may put their versions in either order, so
// an entry is replaced only by a later version, and a final request stays
// as a mark of its last version (it holds no ciphertext) for finalKeep,
// long past the microseconds between a commit and its put; a live one
// stays liveKeep. When the cache is full, entries past those ages go, at
// most once a second; until then a new request is not cached, and is read
// from the store. A read that still meets a version older than the
// store's makes an update that loses its versioned write, which then reads
// the store itself (Service.updateSeen, Service.load).
type requestCache struct {
	mu    sync.Mutex
	byID  map[string]cachedRequest
	swept time.Time
}

type cachedRequest struct {
	r  *agentotp.Request
	at time.Time
}

const (
	finalKeep = 10 * time.Second
	liveKeep  = time.Minute
)

// get returns a copy of the cached request id.
func (c *requestCache) get(id string) *agentotp.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return nil
	}
	cp := *e.r
	return &cp
}

// put keeps a copy of r as committed at now, unless the same or a later
// version is kept already.
func (c *requestCache) put(r *agentotp.Request, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byID[r.ID]; ok {
		if old.r.Version >= r.Version {
			return
		}
	} else if len(c.byID) >= maxCached && !c.sweep(now) {
		return
	}
	if c.byID == nil {
		c.byID = make(map[string]cachedRequest)
	}
	cp := *r
	c.byID[r.ID] = cachedRequest{r: &cp, at: now}
}

// sweep drops the entries past their age, at most once a second, and
// reports whether there is room now.
func (c *requestCache) sweep(now time.Time) bool {
	if now.Sub(c.swept) < time.Second {
		return false
	}
	c.swept = now
	for id, e := range c.byID {
		keep := liveKeep
		if e.r.Status.Final() {
			keep = finalKeep
		}
		if now.Sub(e.at) > keep {
			delete(c.byID, id)
		}
	}
	return len(c.byID) < maxCached
}
