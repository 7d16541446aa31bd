package capture_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/capture"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/seal"
)

// compromisedRelay speaks the capture API (GET /v1/capture/requests, POST
// /v1/capture/deliveries) and hands the edge whatever requests the test
// chooses, as a relay under an attacker's control would. It records every
// delivery: the bytes that left the edge.
type compromisedRelay struct {
	mu         sync.Mutex
	requests   []client.CaptureRequest
	deliveries [][]byte
}

func (m *compromisedRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/capture/requests":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": m.requests})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/capture/deliveries":
		b, _ := io.ReadAll(r.Body)
		m.deliveries = append(m.deliveries, b)
		var d client.Delivery
		json.Unmarshal(b, &d)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(client.DeliveryResult{MessageID: "msg_1", RequestID: d.RequestID, Status: client.StatusOTPReceived})
	default:
		http.NotFound(w, r)
	}
}

type signer struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newSigner(t *testing.T) signer {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{pub, priv}
}

// sign makes the owner's signed approval of the request the capture API
// shows.
func (s signer) sign(r client.CaptureRequest) *client.Approval {
	b := approval.For(asRequest(r), approval.Approve, time.Now()).Canonical()
	return &client.Approval{Statement: b, Method: approval.MethodEd25519, KeyID: approval.KeyID(s.pub), Signature: approval.SignEd25519(s.priv, b)}
}

func asRequest(r client.CaptureRequest) *agentotp.Request {
	return &agentotp.Request{ID: r.ID, OwnerID: r.OwnerID, AgentID: r.AgentID, KeyFingerprint: r.PublicKeyFingerprint,
		Encryption: string(r.Encryption), IncludeMessage: r.IncludeMessage, ExpiresAt: r.ExpiresAt,
		Filter: agentotp.Filter{Sources: agentotp.Channels(r.Filter.Sources), SenderPattern: r.Filter.SenderPattern, ContentPattern: r.Filter.ContentPattern, ReceivedAfter: r.Filter.ReceivedAfter}}
}

func liveRequest(t *testing.T, id string, key *seal.PrivateKey) client.CaptureRequest {
	pub := key.Public()
	now := time.Now().UTC().Truncate(time.Second)
	return client.CaptureRequest{
		ID: id, OwnerID: "own_1", AgentID: "agt_1", Status: client.StatusApproved,
		Filter:     client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.example"},
		Encryption: client.Algorithm(pub.Algorithm()), PublicKey: pub.String(), PublicKeyFingerprint: pub.Fingerprint(),
		CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(5 * time.Minute),
	}
}

// TestStrictEdgeRefusesACompromisedRelay: against a relay that invents,
// swaps, widens or replays, the edge in strict mode seals nothing and says
// why; the honest request gets the code.
func TestStrictEdgeRefusesACompromisedRelay(t *testing.T) {
	owner, stranger := newSigner(t), newSigner(t)
	trust := &approval.Trust{OwnerID: "own_1", Keys: []approval.TrustedKey{{KeyID: approval.KeyID(owner.pub), Method: approval.MethodEd25519, PublicKey: owner.pub}}}
	agentKey, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	relayKey, _ := seal.GenerateKey(seal.HPKEX25519) // the attacker's own key
	const code = "482913"
	email := rawEmail("Acme <login@acme.example>", "Your Acme code", "Your Acme verification code is "+code+".")

	tests := []struct {
		name    string
		make    func() client.CaptureRequest
		refusal string // "" for the honest request
	}{
		{"honest", func() client.CaptureRequest {
			r := liveRequest(t, "req_honest", agentKey)
			r.Approval = owner.sign(r)
			return r
		}, ""},
		{"invented request", func() client.CaptureRequest { return liveRequest(t, "req_invented", agentKey) }, "carries no approval"},
		{"swapped agent key", func() client.CaptureRequest {
			r := liveRequest(t, "req_swap", agentKey)
			r.Approval = owner.sign(r)
			r.PublicKey = relayKey.Public().String() // the fingerprint field still says the agent's
			return r
		}, "not the key the owner approved"},
		{"widened filter", func() client.CaptureRequest {
			r := liveRequest(t, "req_wide", agentKey)
			r.Approval = owner.sign(r)
			r.Filter.SenderPattern = "*"
			return r
		}, "filter.sender_pattern"},
		{"include_message flipped on", func() client.CaptureRequest {
			r := liveRequest(t, "req_full", agentKey)
			r.Approval = owner.sign(r)
			r.IncludeMessage = true
			return r
		}, "include_message"},
		{"statement replayed from another request", func() client.CaptureRequest {
			old := liveRequest(t, "req_old", agentKey)
			r := liveRequest(t, "req_new", agentKey)
			r.Approval = owner.sign(old)
			return r
		}, "request_id"},
		{"expired statement", func() client.CaptureRequest {
			r := liveRequest(t, "req_expired", agentKey)
			r.ExpiresAt = time.Now().UTC().Add(-time.Second)
			r.Approval = owner.sign(r)
			return r
		}, "expired"},
		{"statement signed by an unknown key", func() client.CaptureRequest {
			r := liveRequest(t, "req_stranger", agentKey)
			r.Approval = stranger.sign(r)
			return r
		}, "not one of the owner's pinned keys"},
		{"unsigned approval", func() client.CaptureRequest {
			r := liveRequest(t, "req_unsigned", agentKey)
			r.Approval = &client.Approval{Statement: approval.For(asRequest(r), approval.Approve, time.Now()).Canonical(), Method: approval.MethodNone}
			return r
		}, "without an owner signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			relay := &compromisedRelay{requests: []client.CaptureRequest{tt.make()}}
			srv := httptest.NewServer(relay)
			defer srv.Close()
			c := capture.New(capture.Config{Server: srv.URL, Token: "sk_test", Trust: trust, Strict: true})
			msg, err := capture.FromEmail(email)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Capture(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			relay.mu.Lock()
			defer relay.mu.Unlock()
			if tt.refusal != "" {
				if len(relay.deliveries) != 0 || res.Matched {
					t.Fatalf("the edge delivered to a request it should refuse: %s", relay.deliveries)
				}
				if !strings.Contains(res.Reason, tt.refusal) {
					t.Fatalf("reason %q; want it to say %q", res.Reason, tt.refusal)
				}
				return
			}
			if len(relay.deliveries) != 1 || !res.Matched {
				t.Fatalf("honest request: %d deliveries, result %+v", len(relay.deliveries), res)
			}
			var d client.Delivery
			if err := json.Unmarshal(relay.deliveries[0], &d); err != nil {
				t.Fatal(err)
			}
			got, err := agentKey.Open(d.RequestID, d.EncryptedPayload)
			if err != nil || string(got) != code {
				t.Fatalf("the agent opens %q, %v", got, err)
			}
		})
	}
}

// TestPermissiveEdgeTakesUnsigned: permissive mode trusts the relay's
// unsigned approvals and requests without one (today's edge), but still
// refuses a statement that does not cover the request.
func TestPermissiveEdgeTakesUnsigned(t *testing.T) {
	agentKey, _ := seal.GenerateKey(seal.HPKEX25519)
	email := rawEmail("Acme <login@acme.example>", "Your Acme code", "Your Acme verification code is 482913.")
	unsigned := liveRequest(t, "req_unsigned", agentKey)
	unsigned.Approval = &client.Approval{Statement: approval.For(asRequest(unsigned), approval.Approve, time.Now()).Canonical(), Method: approval.MethodNone}
	widened := unsigned
	widened.ID = "req_widened"
	widened.Approval = &client.Approval{Statement: approval.For(asRequest(unsigned), approval.Approve, time.Now()).Canonical(), Method: approval.MethodNone}
	widened.Filter.SenderPattern = "*"
	for _, tt := range []struct {
		name      string
		r         client.CaptureRequest
		delivered bool
	}{
		{"unsigned", unsigned, true},
		{"none", liveRequest(t, "req_none", agentKey), true},
		{"unsigned, widened", widened, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			relay := &compromisedRelay{requests: []client.CaptureRequest{tt.r}}
			srv := httptest.NewServer(relay)
			defer srv.Close()
			c := capture.New(capture.Config{Server: srv.URL, Token: "sk_test", Strict: false})
			msg, _ := capture.FromEmail(email)
			res, err := c.Capture(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched != tt.delivered || (len(relay.deliveries) == 1) != tt.delivered {
				t.Fatalf("delivered %v (%d), want %v; reason %q", res.Matched, len(relay.deliveries), tt.delivered, res.Reason)
			}
		})
	}
}
