package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/ratelimit"
)

// SharedLimits counts calls against budgets kept for a whole cluster of
// relays (agentotp.Cluster's Allow): key's call is within perMinute calls
// a minute with bursts of burst, or is refused with the seconds until one
// more would be.
type SharedLimits interface {
	Allow(ctx context.Context, key string, perMinute, burst int) (ok bool, retryAfter int, err error)
}

// limiter is one kind of credential's rate limit.
type limiter interface {
	allow(ctx context.Context, key string, now time.Time) (ok bool, retryAfter int, err error)
}

// newLimiter returns the limit of one kind of credential: in this process
// alone, or, with shared set, for the whole cluster. A rate of 0 or less
// limits nothing.
func newLimiter(shared SharedLimits, kind string, perMinute, burst int) limiter {
	if shared == nil {
		return localLimiter{ratelimit.New(perMinute, burst)}
	}
	return sharedLimiter{shared: shared, prefix: "rate:" + kind + ":", perMinute: perMinute, burst: max(burst, 1)}
}

type localLimiter struct{ l *ratelimit.Limiter }

func (l localLimiter) allow(_ context.Context, key string, now time.Time) (bool, int, error) {
	ok, retry := l.l.Allow(key, now)
	return ok, retry, nil
}

type sharedLimiter struct {
	shared           SharedLimits
	prefix           string
	perMinute, burst int
}

func (l sharedLimiter) allow(ctx context.Context, key string, _ time.Time) (bool, int, error) {
	if l.perMinute <= 0 {
		return true, 0, nil
	}
	return l.shared.Allow(ctx, l.prefix+key, l.perMinute, l.burst)
}

// limitRetryAfter is the Retry-After, in seconds, of a call refused
// because its limit could not be counted.
const limitRetryAfter = 2

// checkLimit applies rl to the credential key and, when the call is over
// its limit or the limit cannot be counted (the shared store does not
// answer), answers and returns false. It fails closed: a limit that
// cannot be counted refuses the call, 503 with RATE_LIMIT_ERROR.
func (s *Server) checkLimit(w http.ResponseWriter, r *http.Request, rl limiter, key string, now time.Time) bool {
	ok, retry, err := rl.allow(r.Context(), key, now)
	if err != nil {
		if r.Context().Err() == nil {
			s.log.ErrorContext(r.Context(), "rate limit: count failed; refusing the call", "err", err)
		}
		s.writeError(w, r, &agentotp.Error{Code: agentotp.ERateLimit, RetryAfter: limitRetryAfter,
			Message: "the rate limit cannot be checked now; retry shortly"}, http.StatusServiceUnavailable)
		return false
	}
	if !ok {
		s.writeError(w, r, &agentotp.Error{Code: agentotp.ERateLimit, Message: "rate limit exceeded; retry later", RetryAfter: retry}, 0)
		return false
	}
	return true
}
