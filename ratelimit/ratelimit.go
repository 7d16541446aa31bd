// Package ratelimit is a token-bucket rate limiter keyed by string (a
// credential's hash, a client address), shared by the HTTP API and the
// web dashboard.
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
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, int(math.Ceil((1 - b.tokens) / l.rate))
}

// ClientIP is the address r came from, for keying limits per client: the
// host of r.RemoteAddr, or all of it when it has no port. No proxy headers
// are trusted.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
