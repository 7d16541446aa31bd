// Package ratelimit is a token-bucket rate limiter keyed by string (a
// credential's hash, a client address), and a bound on concurrent
// long-lived requests (Slots), shared by the HTTP API and the web
// dashboard.
package ratelimit

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limiter is a token bucket per key: rate tokens a minute, at most burst
// saved up. Buckets idle long enough to be full again are forgotten, so
// memory stays bounded by the active keys. It is safe for concurrent use.
// A nil Limiter, or one with a rate of 0 or less, allows everything.
type Limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[string]*bucket
	lastGC  time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of perMinute tokens a minute per key, with at most
// burst saved up; perMinute of 0 or less disables it.
func New(perMinute, burst int) *Limiter {
	return &Limiter{rate: float64(perMinute) / 60, burst: float64(burst), buckets: map[string]*bucket{}}
}

// Allow takes a token for key at now. When none is left it returns false
// and the whole seconds until one is.
func (l *Limiter) Allow(key string, now time.Time) (bool, int) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastGC) > time.Minute {
		full := time.Duration(l.burst / l.rate * float64(time.Second))
		for k, b := range l.buckets {
			if now.Sub(b.last) > full {
				delete(l.buckets, k)
			}
		}
		l.lastGC = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = l.level(b, now)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.retryAfter(b.tokens)
}

// level is the tokens in b at now, refilled since b.last.
func (l *Limiter) level(b *bucket, now time.Time) float64 {
	return math.Min(l.burst, b.tokens+max(0, now.Sub(b.last).Seconds())*l.rate)
}

// retryAfter is the whole seconds until a bucket of tokens has one.
func (l *Limiter) retryAfter(tokens float64) int {
	return int(math.Ceil((1 - tokens) / l.rate))
}

// ClientIP is the client r came from, for keying limits per client: the
// address [Proxies.Middleware] resolved (which believes trusted proxies'
// forwarding headers) or, without it, the host of r.RemoteAddr (all of it
// when it has no port). An IPv4 address, or an IPv4-mapped IPv6 one, is
// the address itself ("192.0.2.1"); an IPv6 address is its /64
// ("2001:db8:1:2::/64"), as a single host is commonly given a whole /64
// and could otherwise rotate through it to escape every limit. A host
// that is not an IP address is returned as it is.
func ClientIP(r *http.Request) string {
	a, ok := clientFromContext(r.Context())
	if !ok {
		if a, ok = peerAddr(r.RemoteAddr); !ok {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			return host
		}
	}
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// Slots bounds concurrent holders of something long-lived (a long-poll,
// an event stream): at most perKey for one key (a credential, a session)
// and at most total across all keys. Only keys that hold a slot are
// kept. It is safe for concurrent use. A nil Slots allows everything.
type Slots struct {
	mu     sync.Mutex
	perKey int
	total  int
	n      int
	held   map[string]int
}

// NewSlots returns a bound of perKey slots per key and total slots in
// all; either, when 0 or less, does not bound.
func NewSlots(perKey, total int) *Slots {
	return &Slots{perKey: perKey, total: total, held: map[string]int{}}
}

// Acquire takes a slot for key. When key already holds its share, or all
// slots are taken, it returns false and nothing is taken. Otherwise the
// returned release gives the slot back; calling it again does nothing.
func (s *Slots) Acquire(key string) (release func(), ok bool) {
	if s == nil {
		return func() {}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if (s.perKey > 0 && s.held[key] >= s.perKey) || (s.total > 0 && s.n >= s.total) {
		return nil, false
	}
	s.held[key]++
	s.n++
	var once sync.Once
	return func() { once.Do(func() { s.release(key) }) }, true
}

func (s *Slots) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if s.held[key]--; s.held[key] <= 0 {
		delete(s.held, key)
	}
}

// InUse returns the slots held in all.
func (s *Slots) InUse() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
