package client

import (
	"context"
	"net/http"
	"time"
)

// CaptureRequest is a live request as an edge capture sees it
// (GET /v1/capture/requests): what it needs to match a message and seal
// the code, and nothing else.
type CaptureRequest struct {
	ID                   string    `json:"id"`
	OwnerID              string    `json:"owner_id"`
	AgentID              string    `json:"agent_id"`
	Status               Status    `json:"status"`
	Filter               Filter    `json:"filter"`
	Encryption           Algorithm `json:"encryption"`
	PublicKey            string    `json:"public_key"`
	PublicKeyFingerprint string    `json:"public_key_fingerprint"`
	IncludeMessage       bool      `json:"include_message"`
	CreatedAt            time.Time `json:"created_at"`
	ExpiresAt            time.Time `json:"expires_at"`
	// Approval is the owner's decision as a signed statement, once the
	// request is decided (see package approval).
	Approval *Approval `json:"approval,omitempty"`
}

// Approval is a decided request's statement and its signature, as the
// relay hands them on: the canonical statement bytes, how they were
// signed (ed25519, or none when no owner key signed), the signing key's
// id and the signature. Package approval checks them.
type Approval struct {
	Statement []byte `json:"statement"`
	Method    string `json:"method"`
	KeyID     string `json:"key_id,omitempty"`
	Signature []byte `json:"signature,omitempty"`
}

// DeliveryMetadata describes the captured message of a delivery. Subject
// must have the code masked.
type DeliveryMetadata struct {
	Source     string    `json:"source"`
	Sender     string    `json:"sender"`
	Subject    string    `json:"subject,omitempty"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
	Confidence float64   `json:"confidence,omitempty"`
	Domain     string    `json:"domain,omitempty"`
}

// Delivery is a code sealed at the edge for one request
// (POST /v1/capture/deliveries): ciphertext and metadata only.
type Delivery struct {
	RequestID        string           `json:"request_id"`
	EncryptedPayload []byte           `json:"encrypted_payload"`
	EncryptedContent []byte           `json:"encrypted_content,omitempty"`
	Metadata         DeliveryMetadata `json:"metadata"`
	ExternalID       string           `json:"external_id,omitempty"`
}

// DeliveryResult is the relay's answer to a delivery.
type DeliveryResult struct {
	MessageID string `json:"message_id"`
	RequestID string `json:"request_id"`
	Status    Status `json:"status"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// CaptureRequests lists the live requests that this source may feed.
func (s *SourceClient) CaptureRequests(ctx context.Context) ([]CaptureRequest, error) {
	var out struct {
		Data []CaptureRequest `json:"data"`
	}
	if err := s.c.do(ctx, http.MethodGet, "/v1/capture/requests", nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// Deliver hands the relay a code sealed at the edge.
func (s *SourceClient) Deliver(ctx context.Context, d Delivery) (*DeliveryResult, error) {
	var res DeliveryResult
	if err := s.c.do(ctx, http.MethodPost, "/v1/capture/deliveries", d, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
