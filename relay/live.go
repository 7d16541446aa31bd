package relay

import (
	"fmt"
	"sync"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/seal"
)

// liveEntry is what matching and sealing need of a live request, made
// once, on first use (a restart that reloads 10,000 live requests compiles
// and parses none of them until a message meets them): its filter
// compiled and its public key parsed. A request's filter and key never
// change once it is stored.
type liveEntry struct {
	filter    agentotp.Filter
	publicKey string
	id        string

	compile sync.Once
	matcher *agentotp.Matcher // nil: the filter no longer compiles
	// meta is the filter without its content pattern: what an edge
	// delivery, whose text the relay never sees, is checked against.
	meta *agentotp.Matcher

	parse  sync.Once
	key    *seal.PublicKey
	keyErr error
}

// newLiveEntry returns the entry of r, with nothing made yet.
func newLiveEntry(r *agentotp.Request) *liveEntry {
	return &liveEntry{filter: r.Filter, publicKey: r.PublicKey, id: r.ID}
}

// matchers returns the compiled filter and the filter without content
// pattern (nil: it no longer compiles).
func (e *liveEntry) matchers() (full, meta *agentotp.Matcher) {
	e.compile.Do(func() {
		if m, err := e.filter.Compile(); err == nil {
			e.matcher = m
		}
		f := e.filter
		f.ContentPattern = ""
		if m, err := f.Compile(); err == nil {
			e.meta = m
		}
	})
	return e.matcher, e.meta
}

// primeKey gives the entry the key already parsed (and checked) when the
// request was created, so that delivery does not parse it again.
func (e *liveEntry) primeKey(k *seal.PublicKey) {
	e.parse.Do(func() { e.key = k })
}

// sealKey returns the request's parsed public key.
func (e *liveEntry) sealKey() (*seal.PublicKey, error) {
	e.parse.Do(func() {
		e.key, e.keyErr = seal.ParsePublicKey(e.publicKey)
		if e.keyErr != nil {
			e.keyErr = fmt.Errorf("the key of %s: %w", e.id, e.keyErr)
		}
	})
	return e.key, e.keyErr
}

// liveOf returns r's compiled filter and parsed key: the live index's, or
// made anew for a request the index does not hold.
func (s *Service) liveOf(r *agentotp.Request) *liveEntry {
	if e := s.index.entry(r.OwnerID, r.ID); e != nil {
		return e.live
	}
	return newLiveEntry(r)
}
