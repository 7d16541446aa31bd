package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Lockout counts failures (wrong passwords, say) per key and locks a key
// out for a time that grows with each failure past a free allowance:
// after free failures the next one locks the key for base, each later
// one for twice as long as the one before, up to maxLock. Only failures
// count; a key with no failure for forget is forgotten. It is safe for
// concurrent use; a nil Lockout locks nothing.
type Lockout struct {
	mu      sync.Mutex
	free    int
	base    time.Duration
	maxLock time.Duration
	forget  time.Duration
	maxKeys int
	keys    map[string]*lockState
	lastGC  time.Time
}

type lockState struct {
	failures int
	last     time.Time // of the last failure
	until    time.Time // locked until
}

// MaxLockoutKeys bounds the keys a Lockout keeps. When it is full, keys
// that are not locked make room first.
const MaxLockoutKeys = 100000

// NewLockout returns a lockout that lets free failures pass, then locks
// for base, doubling up to maxLock; a key is forgotten after a day
// without failures (or maxLock, if longer).
func NewLockout(free int, base, maxLock time.Duration) *Lockout {
	return &Lockout{free: max(0, free), base: base, maxLock: max(base, maxLock), forget: max(24*time.Hour, maxLock),
		maxKeys: MaxLockoutKeys, keys: map[string]*lockState{}}
}

// Locked reports whether key is locked out at now, and then the whole
// seconds until it is not.
func (l *Lockout) Locked(key string, now time.Time) (bool, int) {
	if l == nil {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.keys[key]
	if !ok || !now.Before(st.until) {
		return false, 0
	}
	return true, ceilSeconds(st.until.Sub(now))
}

// Fail records a failure of key at now and returns how long key is now
// locked out (0 while within the free allowance).
func (l *Lockout) Fail(key string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	st, ok := l.keys[key]
	if !ok || now.Sub(st.last) > l.forget {
		if !ok && len(l.keys) >= l.maxKeys {
			l.evict(now)
		}
		st = &lockState{}
		l.keys[key] = st
	}
	st.failures++
	st.last = now
	over := st.failures - l.free
	if over <= 0 || l.base <= 0 {
		return 0
	}
	d := l.maxLock
	if over <= 40 { // beyond, 2^(over-1) × base overflows long past maxLock
		d = time.Duration(math.Min(float64(l.maxLock), float64(l.base)*math.Pow(2, float64(over-1))))
	}
	if until := now.Add(d); until.After(st.until) {
		st.until = until
	}
	return d
}

// Reset forgets key's failures (after a success).
func (l *Lockout) Reset(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

// gc drops forgotten keys, at most once a minute.
func (l *Lockout) gc(now time.Time) {
	if now.Sub(l.lastGC) < time.Minute {
		return
	}
	l.lastGC = now
	for k, st := range l.keys {
		if now.Sub(st.last) > l.forget {
			delete(l.keys, k)
		}
	}
}

// evict makes room for one key: one that is not locked, else any.
func (l *Lockout) evict(now time.Time) {
	var any string
	for k, st := range l.keys {
		if !now.Before(st.until) {
			delete(l.keys, k)
			return
		}
		any = k
	}
	delete(l.keys, any)
}

// ceilSeconds is d in whole seconds, rounded up, at least 1.
func ceilSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
