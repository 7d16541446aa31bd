package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/agentotp/agentotp/relay"
)

// isAPIPath reports whether path belongs to the API rather than to the web
// dashboard that Config.Web serves.
func isAPIPath(path string) bool {
	switch path {
	case "/v1", "/healthz", "/readyz", "/metrics", "/openapi.json":
		return true
	}
	return strings.HasPrefix(path, "/v1/")
}

// dashboardRoutes registers the owner endpoints behind `agentotp owner
// passwd` and `agentotp owner login-link`: the owner token sets the
// dashboard password and mints one-time log-in links.
func (s *Server) dashboardRoutes(owner func(authedHandler) http.Handler) {
	s.mux.Handle("PUT /v1/owner/password", owner(s.ownerSetPassword))
	s.mux.Handle("POST /v1/owner/login-links", owner(s.ownerCreateLoginLink))
}

// ownerSetPassword sets the dashboard password (stored as argon2id) and
// ends the owner's dashboard sessions. The password is never logged.
func (s *Server) ownerSetPassword(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	if err := s.svc.SetOwnerPassword(r.Context(), p.OwnerID, body.Password); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type loginLinkJSON struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ownerCreateLoginLink returns a one-time log-in link for the dashboard.
func (s *Server) ownerCreateLoginLink(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct{}
	if err := decodeJSON(w, r, &body, true); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	l, err := s.svc.CreateLoginLink(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, s.log, http.StatusCreated, loginLinkJSON{URL: l.URL, ExpiresAt: l.ExpiresAt.UTC()})
}
