package httpapi

import (
	"net/http"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/relay"
)

// captureRequestJSON is a live request as an edge capture sees it: what it
// needs to match and seal, nothing else (no reason, no agent, no
// ciphertext).
type captureRequestJSON struct {
	ID                   string          `json:"id"`
	OwnerID              string          `json:"owner_id"`
	AgentID              string          `json:"agent_id"`
	Status               agentotp.Status `json:"status"`
	Filter               agentotp.Filter `json:"filter"`
	Encryption           string          `json:"encryption"`
	PublicKey            string          `json:"public_key"`
	PublicKeyFingerprint string          `json:"public_key_fingerprint"`
	IncludeMessage       bool            `json:"include_message"`
	CreatedAt            time.Time       `json:"created_at"`
	ExpiresAt            time.Time       `json:"expires_at"`
	// Approval is the owner's statement of the decision, once approved:
	// a strict edge seals only when the owner signed it.
	Approval *approval.Signed `json:"approval"`
}

// captureRequests serves GET /v1/capture/requests (source tokens).
func (s *Server) captureRequests(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	rs, err := s.svc.CaptureRequests(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	out := listJSON[captureRequestJSON]{Data: make([]captureRequestJSON, 0, len(rs))}
	for _, req := range rs {
		a, err := s.svc.Approval(r.Context(), req)
		if err != nil {
			s.writeError(w, r, err, 0)
			return
		}
		out.Data = append(out.Data, captureRequestJSON{
			ID: req.ID, OwnerID: req.OwnerID, AgentID: req.AgentID, Approval: a, Status: req.Status, Filter: req.Filter, Encryption: req.Encryption,
			PublicKey: req.PublicKey, PublicKeyFingerprint: req.KeyFingerprint, IncludeMessage: req.IncludeMessage,
			CreatedAt: req.CreatedAt.UTC(), ExpiresAt: req.ExpiresAt.UTC(),
		})
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

// maxDeliveryBody bounds a delivery: the sealed message text of an
// include_message request, base64-encoded, is the bulk of it.
const maxDeliveryBody = 512 << 10

// deliveryBody is the body of POST /v1/capture/deliveries: ciphertext and
// metadata only. encoding/json reads the []byte fields as standard base64.
type deliveryBody struct {
	RequestID        string `json:"request_id"`
	EncryptedPayload []byte `json:"encrypted_payload"`
	EncryptedContent []byte `json:"encrypted_content"`
	Metadata         struct {
		Source     agentotp.Channel `json:"source"`
		Sender     string           `json:"sender"`
		Subject    string           `json:"subject"`
		ReceivedAt time.Time        `json:"received_at"`
		Confidence float64          `json:"confidence"`
		Domain     string           `json:"domain"`
	} `json:"metadata"`
	ExternalID string `json:"external_id"`
}

// captureDeliver serves POST /v1/capture/deliveries (source tokens).
func (s *Server) captureDeliver(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	if mt := mediaType(r); mt != "" && mt != "application/json" {
		s.writeError(w, r, agentotp.Errorf(agentotp.EUnsupportedMedia, "Content-Type must be application/json"), 0)
		return
	}
	raw, err := readBody(w, r, maxDeliveryBody)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	var b deliveryBody
	if err := unmarshalStrict(raw, &b, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	res, err := s.svc.DeliverSealed(r.Context(), p, relay.Delivery{
		RequestID: b.RequestID, Payload: b.EncryptedPayload, Content: b.EncryptedContent,
		Source: b.Metadata.Source, Sender: b.Metadata.Sender, Subject: b.Metadata.Subject,
		ReceivedAt: b.Metadata.ReceivedAt, Confidence: b.Metadata.Confidence, Domain: b.Metadata.Domain,
		ExternalID: b.ExternalID,
	})
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	s.metrics.ingested(b.Metadata.Source, !res.Duplicate, res.Duplicate)
	writeJSON(w, s.log, http.StatusAccepted, res)
}
