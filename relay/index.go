package relay

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/agentotp/agentotp"
)

// liveIndex keeps, in memory, what matching needs of every live request
// (pending_approval or approved): a snapshot of the request without its
// ciphertext, its filter compiled and its key parsed. The store stays the
// source of truth: an owner's part of the index is loaded from
// ListLiveRequests on first use (after a restart, say), and from then on
// kept current by apply, which the service calls with every request it
// creates or changes (Service.published), and, when several relays share
// the store, with every change the others commit (Service.RunCluster,
// which also reads every loaded part again after its listener reconnects).
//
// It is indexed so that a message meets only the requests it could match:
// by owner, then by test agent (a test message feeds only its own agent's
// test requests; "" holds the real ones), then by channel (sms, email),
// then by the literal parts of the sender pattern: a pattern without
// wildcards by the whole address, otherwise by its literal suffix (what
// follows the last wildcard) or, lacking one, its literal prefix. Only
// requests without a sender pattern, or with one that has no literal end
// (such as *code*), are met by every message of their channel.
type liveIndex struct {
	load func(ctx context.Context, ownerID string) ([]*agentotp.Request, error)

	mu     sync.Mutex
	owners map[string]*ownerIndex
}

// ownerIndex is one owner's part of the index.
type ownerIndex struct {
	mu     sync.RWMutex
	loaded bool
	byID   map[string]*indexEntry
	groups map[string]*indexGroup     // by test agent id; "" for real requests
	agents map[string]map[string]bool // agent id → ids of its live requests
	// gone remembers requests that left the live statuses, with the
	// version they left at, so that a change applied late (two commits of
	// one request whose applies cross) cannot bring them back.
	gone map[string]goneAt
}

type goneAt struct {
	version int64
	at      time.Time
}

// maxGone bounds the remembered departures; older ones are forgotten
// once they are a minute old (an apply runs microseconds after its
// commit, so a minute is ample).
const maxGone = 4096

// indexGroup holds one owner's live requests of one test agent (or the
// real ones), by channel.
type indexGroup struct {
	ch [2]channelIndex // 0: sms, 1: email
}

// channelIndex holds the requests that want one channel, by sender key.
type channelIndex struct {
	exact  map[string]map[string]*indexEntry
	suffix map[int]map[string]map[string]*indexEntry // by byte length of the suffix
	prefix map[int]map[string]map[string]*indexEntry
	any    map[string]*indexEntry
}

// indexEntry is one live request in the index.
type indexEntry struct {
	req  *agentotp.Request // snapshot without ciphertext; never changed once stored
	held bool              // it holds a message until the owner approves
	live *liveEntry
}

// senderKey says where a sender pattern is filed: kind 'e' (exact), 's'
// (suffix), 'p' (prefix) or 'a' (any), and the lower-cased literal.
func senderKey(pattern string) (kind byte, lit string) {
	if pattern == "" {
		return 'a', ""
	}
	p := lowerRunes(pattern)
	first := strings.IndexAny(p, "*?")
	if first < 0 {
		return 'e', p
	}
	last := strings.LastIndexAny(p, "*?")
	if suf := p[last+1:]; suf != "" {
		return 's', suf
	}
	if pre := p[:first]; pre != "" {
		return 'p', pre
	}
	return 'a', ""
}

// lowerRunes lowers s rune by rune, as Glob.Match compares.
func lowerRunes(s string) string {
	return strings.Map(unicode.ToLower, s)
}

func channelOf(source agentotp.Channel) int {
	if source == agentotp.ChannelEmail {
		return 1
	}
	return 0
}

func (c *channelIndex) bucket(kind byte, lit string, create bool) map[string]*indexEntry {
	var byLen map[int]map[string]map[string]*indexEntry
	switch kind {
	case 'a':
		if c.any == nil && create {
			c.any = map[string]*indexEntry{}
		}
		return c.any
	case 'e':
		if c.exact == nil {
			if !create {
				return nil
			}
			c.exact = map[string]map[string]*indexEntry{}
		}
		b := c.exact[lit]
		if b == nil && create {
			b = map[string]*indexEntry{}
			c.exact[lit] = b
		}
		return b
	case 's':
		if c.suffix == nil && create {
			c.suffix = map[int]map[string]map[string]*indexEntry{}
		}
		byLen = c.suffix
	default:
		if c.prefix == nil && create {
			c.prefix = map[int]map[string]map[string]*indexEntry{}
		}
		byLen = c.prefix
	}
	if byLen == nil {
		return nil
	}
	m := byLen[len(lit)]
	if m == nil {
		if !create {
			return nil
		}
		m = map[string]map[string]*indexEntry{}
		byLen[len(lit)] = m
	}
	b := m[lit]
	if b == nil && create {
		b = map[string]*indexEntry{}
		m[lit] = b
	}
	return b
}

// drop removes id from its bucket and prunes emptied maps.
func (c *channelIndex) drop(kind byte, lit, id string) {
	b := c.bucket(kind, lit, false)
	if b == nil {
		return
	}
	delete(b, id)
	if len(b) > 0 {
		return
	}
	switch kind {
	case 'e':
		delete(c.exact, lit)
	case 's':
		if m := c.suffix[len(lit)]; m != nil {
			delete(m, lit)
			if len(m) == 0 {
				delete(c.suffix, len(lit))
			}
		}
	case 'p':
		if m := c.prefix[len(lit)]; m != nil {
			delete(m, lit)
			if len(m) == 0 {
				delete(c.prefix, len(lit))
			}
		}
	}
}

// meet calls fn with every entry that a message from the lower-cased
// sender address addr could match.
func (c *channelIndex) meet(addr string, fn func(*indexEntry)) {
	for _, e := range c.any {
		fn(e)
	}
	for _, e := range c.exact[addr] {
		fn(e)
	}
	for n, m := range c.suffix {
		if n <= len(addr) {
			for _, e := range m[addr[len(addr)-n:]] {
				fn(e)
			}
		}
	}
	for n, m := range c.prefix {
		if n <= len(addr) {
			for _, e := range m[addr[:n]] {
				fn(e)
			}
		}
	}
}

// owner returns the owner's part, loaded, read-locked; the caller calls
// RUnlock.
func (x *liveIndex) owner(ctx context.Context, ownerID string) (*ownerIndex, error) {
	x.mu.Lock()
	if x.owners == nil {
		x.owners = map[string]*ownerIndex{}
	}
	oi := x.owners[ownerID]
	if oi == nil {
		oi = &ownerIndex{}
		x.owners[ownerID] = oi
	}
	x.mu.Unlock()
	for {
		oi.mu.RLock()
		if oi.loaded {
			return oi, nil
		}
		oi.mu.RUnlock()
		oi.mu.Lock()
		if !oi.loaded {
			// Changes applied meanwhile wait for the lock, and apply on
			// top of what the store held when it was read.
			rs, err := x.load(ctx, ownerID)
			if err != nil {
				oi.mu.Unlock()
				return nil, err
			}
			oi.byID = map[string]*indexEntry{}
			oi.groups = map[string]*indexGroup{}
			oi.agents = map[string]map[string]bool{}
			oi.gone = map[string]goneAt{}
			for _, r := range rs {
				oi.put(r, time.Time{})
			}
			oi.loaded = true
		}
		oi.mu.Unlock()
	}
}

// apply records r as created or changed. An owner whose part is not
// loaded is left alone: its load will read r from the store.
func (x *liveIndex) apply(r *agentotp.Request, now time.Time) {
	x.mu.Lock()
	oi := x.owners[r.OwnerID]
	x.mu.Unlock()
	if oi == nil {
		return
	}
	oi.mu.Lock()
	defer oi.mu.Unlock()
	if oi.loaded {
		oi.put(r, now)
	}
}

// entry returns the index's entry of the request id of the owner, if the
// owner's part is loaded and holds it.
func (x *liveIndex) entry(ownerID, id string) *indexEntry {
	x.mu.Lock()
	oi := x.owners[ownerID]
	x.mu.Unlock()
	if oi == nil {
		return nil
	}
	oi.mu.RLock()
	defer oi.mu.RUnlock()
	return oi.byID[id]
}

// put files r (or removes it, when it is no longer live) unless the index
// already holds a later version. oi.mu is held for writing.
func (oi *ownerIndex) put(r *agentotp.Request, now time.Time) {
	if g, ok := oi.gone[r.ID]; ok && g.version >= r.Version {
		return
	}
	old := oi.byID[r.ID]
	if old != nil && old.req.Version > r.Version {
		return
	}
	if old != nil {
		oi.remove(old)
	}
	if !r.Status.Live() {
		oi.gone[r.ID] = goneAt{version: r.Version, at: now}
		if len(oi.gone) > maxGone {
			for id, g := range oi.gone {
				if now.Sub(g.at) > time.Minute {
					delete(oi.gone, id)
				}
			}
		}
		return
	}
	snap := *r
	snap.Payload, snap.Content = nil, nil
	e := &indexEntry{req: &snap, held: r.Held()}
	if old != nil {
		e.live = old.live // a request's filter and key never change
	} else {
		e.live = newLiveEntry(r)
	}
	oi.byID[r.ID] = e
	ids := oi.agents[r.AgentID]
	if ids == nil {
		ids = map[string]bool{}
		oi.agents[r.AgentID] = ids
	}
	ids[r.ID] = true
	g := oi.group(r, true)
	kind, lit := senderKey(r.Filter.SenderPattern)
	for c, src := range []agentotp.Channel{agentotp.ChannelSMS, agentotp.ChannelEmail} {
		if r.Filter.WantsChannel(src) {
			g.ch[c].bucket(kind, lit, true)[r.ID] = e
		}
	}
}

// remove takes e out of every map. oi.mu is held for writing.
func (oi *ownerIndex) remove(e *indexEntry) {
	r := e.req
	delete(oi.byID, r.ID)
	if ids := oi.agents[r.AgentID]; ids != nil {
		delete(ids, r.ID)
		if len(ids) == 0 {
			delete(oi.agents, r.AgentID)
		}
	}
	g := oi.group(r, false)
	if g == nil {
		return
	}
	kind, lit := senderKey(r.Filter.SenderPattern)
	for c := range g.ch {
		g.ch[c].drop(kind, lit, r.ID)
	}
}

func (oi *ownerIndex) group(r *agentotp.Request, create bool) *indexGroup {
	key := ""
	if r.Test {
		key = r.AgentID
	}
	g := oi.groups[key]
	if g == nil && create {
		g = &indexGroup{}
		oi.groups[key] = g
	}
	return g
}

// candidates returns copies of the owner's live requests that msg could
// feed and that ok accepts, approved first, then oldest first.
func (x *liveIndex) candidates(ctx context.Context, msg *agentotp.Message, ok func(*indexEntry) bool) ([]*agentotp.Request, error) {
	oi, err := x.owner(ctx, msg.OwnerID)
	if err != nil {
		return nil, err
	}
	var out []*agentotp.Request
	if g := oi.groups[msg.TestAgentID]; g != nil {
		addr := lowerRunes(agentotp.SenderAddress(msg.Sender))
		g.ch[channelOf(msg.Channel)].meet(addr, func(e *indexEntry) {
			if ok(e) {
				cp := *e.req
				out = append(out, &cp)
			}
		})
	}
	oi.mu.RUnlock()
	sortCandidates(out)
	return out, nil
}

// all returns copies of every live request of the owner, approved first,
// then oldest first, with held ones marked by held.
func (x *liveIndex) all(ctx context.Context, ownerID string, ok func(*indexEntry) bool) ([]*agentotp.Request, error) {
	oi, err := x.owner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	out := make([]*agentotp.Request, 0, len(oi.byID))
	for _, e := range oi.byID {
		if ok(e) {
			cp := *e.req
			out = append(out, &cp)
		}
	}
	oi.mu.RUnlock()
	sortCandidates(out)
	return out, nil
}

// countAgent counts the agent's live requests for which ok holds.
func (x *liveIndex) countAgent(ctx context.Context, ownerID, agentID string, ok func(*indexEntry) bool) (int, error) {
	oi, err := x.owner(ctx, ownerID)
	if err != nil {
		return 0, err
	}
	defer oi.mu.RUnlock()
	n := 0
	for id := range oi.agents[agentID] {
		if ok(oi.byID[id]) {
			n++
		}
	}
	return n, nil
}

// sortCandidates orders requests as a message is offered to them:
// approved before pending, each oldest first (equal creation times in id
// order, as the store lists them).
func sortCandidates(rs []*agentotp.Request) {
	rank := func(r *agentotp.Request) int {
		if r.Status == agentotp.StatusApproved {
			return 0
		}
		return 1
	}
	slices.SortFunc(rs, func(a, b *agentotp.Request) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
