package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/agentotp/agentotp"
)

// CORS on the agent API (/v1/otp/…, /v1/test/messages), so that an agent
// running in a browser page or extension can call the relay. It is off
// unless Config.CORSOrigins names origins. Credentials are never allowed:
// agents authenticate with their API key in a header, and no
// Access-Control-Allow-Credentials header is ever sent, so a browser never
// lets a page read an answer obtained with cookies. The owner API, the
// dashboard and ingestion get no CORS headers at all.

// corsMaxAge is how long, in seconds, a browser may cache a preflight.
const corsMaxAge = "600"

// Headers an agent sends and reads through CORS.
const (
	corsAllowHeaders  = "Authorization, Content-Type, X-API-Key, Last-Event-ID"
	corsExposeHeaders = "Retry-After, Location, WWW-Authenticate"
	corsAllowMethods  = "GET, POST, DELETE"
)

// ParseCORSOrigin checks one --cors-origin value: "*" (any origin), or a
// scheme and host with an optional port and nothing else, such as
// "https://agent.example" or "chrome-extension://abcdef". It returns the
// origin as browsers send it (scheme and host lower-cased, no trailing
// slash).
func ParseCORSOrigin(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return s, nil
	}
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("CORS origin %q: want scheme://host[:port], e.g. https://agent.example, or *", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("CORS origin %q: an origin has no user, path, query or fragment", s)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

// isAgentAPIPath reports whether p is served to agents, the only part of
// the API that CORS opens.
func isAgentAPIPath(p string) bool {
	return strings.HasPrefix(p, "/v1/otp/") || p == "/v1/test/messages"
}

// corsAllowed returns the value of Access-Control-Allow-Origin for origin,
// or "" when origin may not read the agent API.
func (s *Server) corsAllowed(origin string) string {
	if origin == "" || len(s.cfg.CORSOrigins) == 0 {
		return ""
	}
	if slices.Contains(s.cfg.CORSOrigins, "*") {
		return "*"
	}
	if slices.ContainsFunc(s.cfg.CORSOrigins, func(o string) bool { return strings.EqualFold(o, origin) }) {
		return origin
	}
	return ""
}

// cors answers preflights on the agent API and adds the CORS headers to
// its answers for an allowed Origin. With no origins configured it is a
// plain pass-through.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAgentAPIPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		allow := s.corsAllowed(origin)
		h := w.Header()
		h.Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			if allow == "" {
				s.writeError(w, r, agentotp.Errorf(agentotp.EForbidden, "origin %s may not call this relay's agent API; start the relay with --cors-origin to allow it", quoteOrigin(origin)), 0)
				return
			}
			h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Origin", allow)
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allow != "" {
			h.Set("Access-Control-Allow-Origin", allow)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

// quoteOrigin quotes an Origin header for an error message, cut short.
func quoteOrigin(o string) string {
	if o == "" {
		return "(none)"
	}
	if len(o) > 100 {
		o = o[:100]
	}
	return fmt.Sprintf("%q", o)
}
