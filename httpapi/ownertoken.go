package httpapi

import (
	"net/http"

	"github.com/agentotp/agentotp/relay"
)

// newOwnerTokenView is the answer of rotating or revoking owner tokens:
// the new token, shown once.
type newOwnerTokenView struct {
	Token       string   `json:"token"`
	TokenPrefix string   `json:"token_prefix"`
	Revoked     []string `json:"revoked_prefixes"`
}

func newOwnerTokenBody(n *relay.NewOwnerToken) newOwnerTokenView {
	v := newOwnerTokenView{Token: n.Token, TokenPrefix: n.Prefix, Revoked: n.Revoked}
	if v.Revoked == nil {
		v.Revoked = []string{}
	}
	return v
}

// ownerRotateToken serves POST /v1/owner/token/rotate: the calling owner
// token is replaced by a new one and stops working at once.
func (s *Server) ownerRotateToken(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	n, err := s.svc.RotateOwnerToken(r.Context(), p.OwnerID, bearer(r))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, newOwnerTokenBody(n))
}

// ownerRevokeTokens serves POST /v1/owner/token/revoke: every owner token
// of the owner, the caller's included, stops working at once, and the
// one new token returned is the only one left.
func (s *Server) ownerRevokeTokens(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	n, err := s.svc.RevokeOwnerTokens(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, newOwnerTokenBody(n))
}
