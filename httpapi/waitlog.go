package httpapi

import (
	"net/http"
	"time"

	"github.com/agentotp/agentotp/ratelimit"
)

// logRequest writes the access log line of logRequests. It is a function
// of its own, not inlined, so that the attributes it builds are not part
// of the middleware's frame, which every waiting long-poll and event
// stream keeps on its stack while it waits.
//
//go:noinline
func (s *Server) logRequest(r *http.Request, sw *statusWriter, start time.Time) {
	s.log.InfoContext(r.Context(), "http", "method", r.Method, "path", r.URL.Path, "route", routeOf(r), "status", sw.status,
		"bytes", sw.bytes, "ms", time.Since(start).Milliseconds(), "remote", ratelimit.ClientIP(r), "user_agent", clip(r.UserAgent(), 256))
}
