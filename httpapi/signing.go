package httpapi

import (
	"net/http"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/relay"
)

// signingKeyJSON is an owner signing key as the owner API shows it.
type signingKeyJSON struct {
	ID        string     `json:"id"`
	KeyID     string     `json:"key_id"`
	Method    string     `json:"method"`
	Name      string     `json:"name"`
	PublicKey []byte     `json:"public_key"` // raw key, base64
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

func signingKeyView(k *agentotp.SigningKey) signingKeyJSON {
	status := "active"
	if !k.Active() {
		status = "revoked"
	}
	return signingKeyJSON{ID: k.ID, KeyID: k.KeyID, Method: k.Method, Name: k.Name, PublicKey: k.PublicKey,
		Status: status, CreatedAt: k.CreatedAt.UTC(), RevokedAt: timePtr(k.RevokedAt)}
}

// ownerAddSigningKey serves POST /v1/owner/signing-keys: the public half
// of a key the owner made (agentotp owner keygen).
func (s *Server) ownerAddSigningKey(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct {
		Name      string `json:"name"`
		PublicKey []byte `json:"public_key"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	k, err := s.svc.AddSigningKey(r.Context(), p.OwnerID, body.Name, body.PublicKey)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusCreated, signingKeyView(k))
}

// ownerListSigningKeys serves GET /v1/owner/signing-keys.
func (s *Server) ownerListSigningKeys(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	ks, err := s.svc.ListSigningKeys(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	out := listJSON[signingKeyJSON]{Data: make([]signingKeyJSON, 0, len(ks))}
	for _, k := range ks {
		out.Data = append(out.Data, signingKeyView(k))
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

// ownerRevokeSigningKey serves DELETE /v1/owner/signing-keys/{id}.
func (s *Server) ownerRevokeSigningKey(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	if err := s.svc.RevokeSigningKey(r.Context(), p.OwnerID, r.PathValue("id")); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ownerTrust serves GET /v1/owner/trust: the owner's id and active signing
// keys, the file an edge (agentotp capture --trust) or an agent pins.
func (s *Server) ownerTrust(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	t, err := s.svc.Trust(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, t)
}

// decisionBody is the optional body of an approve or deny call: the
// owner's signed statement of the decision, and a denial's reason.
type decisionBody struct {
	Reason   string           `json:"reason"`
	Approval *approval.Signed `json:"approval"`
}
