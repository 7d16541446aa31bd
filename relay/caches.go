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

// keyCache holds parsed (and checked) public keys by their API encoding.
// Parsing an HPKE key runs a trial encapsulation, as costly as a seal; an
// agent sends the same key with each request it creates. A parse depends
// on nothing but its input, so an entry is never stale.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]*seal.PublicKey
}

// parse returns the key encoded by s, parsing it only when it is new.
// Errors are not kept.
func (c *keyCache) parse(s string) (*seal.PublicKey, error) {
	c.mu.Lock()
	k := c.keys[s]
	c.mu.Unlock()
	if k != nil {
		return k, nil
	}
	k, err := seal.ParsePublicKey(s)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCached {
		c.keys = make(map[string]*seal.PublicKey)
	}
	c.keys[s] = k
	c.mu.Unlock()
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
	mu    sync.Mutex
	byReq map[string]*approval.Signed
}

func (c *approvalCache) get(requestID string) *approval.Signed {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byReq[requestID]
}

func (c *approvalCache) put(requestID string, a *approval.Signed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byReq == nil || len(c.byReq) >= maxCached {
		c.byReq = make(map[string]*approval.Signed)
	}
	c.byReq[requestID] = a
}

// requestCache holds the latest version this relay committed of each
// request that is not final yet, so that the reads of a lifecycle (the
// approval's, the long-poll's, the consume's) do not go to the store for a
// row the relay has just written. Every change of a request goes through
// Service.commit or CreateRequest, which put the committed version here
// (published); a final request is dropped, and read from the store. Like
// the credentials, it is used only while the store is this relay's alone.
//
// A read that races a commit may get the version before it: an update
// made from it then loses its versioned write (agentotp.ErrConflict) and
// reads again, and a waiter is woken after the new version is here.
type requestCache struct {
	mu   sync.Mutex
	byID map[string]*agentotp.Request
}

// get returns a copy of the cached request id.
func (c *requestCache) get(id string) *agentotp.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.byID[id]
	if r == nil {
		return nil
	}
	cp := *r
	return &cp
}

// put keeps a copy of r as committed, unless a later version is kept
// already; a final r is dropped.
func (c *requestCache) put(r *agentotp.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.byID[r.ID]; old != nil && old.Version > r.Version {
		return
	}
	if r.Status.Final() {
		delete(c.byID, r.ID)
		return
	}
	if c.byID == nil || len(c.byID) >= maxCached {
		c.byID = make(map[string]*agentotp.Request)
	}
	cp := *r
	c.byID[r.ID] = &cp
}
