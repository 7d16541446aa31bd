package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/seal"
)

// ownTestKey makes a test key of its own for a test, so that the test
// spends its own rate budget, not that of the examples' shared key.
func ownTestKey(t *testing.T) string {
	t.Helper()
	a, err := client.NewOwnerClient(os.Getenv("AGENT_OTP_OWNER_TOKEN")).CreateAgent(context.Background(), t.Name(), true)
	if err != nil {
		t.Fatal(err)
	}
	return a.APIKey
}

// TestRSAReplayRefused is issue 13 item 10: a capture source keeps the
// RSA ciphertext it delivered for one request and posts it again into the
// agent's next request with the same key. In the guide's plain form
// (empty OAEP label) the agent accepted the old code; in the bound form
// ExportPublicKey now sends (label "agentotp/v1:" + request id),
// ConsumeOTP refuses it, and it refuses a plain ciphertext too.
func TestRSAReplayRefused(t *testing.T) {
	ctx := context.Background()
	owner := client.NewOwnerClient(os.Getenv("AGENT_OTP_OWNER_TOKEN"))
	agent := client.New(os.Getenv("AGENT_OTP_API_KEY"))
	src, err := owner.CreateSource(ctx, "replayer", "generic")
	if err != nil {
		t.Fatal(err)
	}
	source := client.NewSourceClient(src.Token)
	pub, priv, err := client.GenerateKeyPair(client.RSAOAEP256)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	// open makes an approved request with the key in form export and
	// returns it as the edge sees it.
	open := func(t *testing.T, export func(*client.PublicKey) string) client.CaptureRequest {
		t.Helper()
		n++
		sender := fmt.Sprintf("REPLAY%d", n)
		r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "replay " + sender, PublicKey: export(pub),
			Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: sender}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := owner.Approve(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		reqs, err := source.CaptureRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range reqs {
			if c.ID == r.ID {
				return c
			}
		}
		t.Fatalf("request %s not offered to the edge", r.ID)
		return client.CaptureRequest{}
	}
	deliver := func(t *testing.T, r client.CaptureRequest, payload []byte) {
		t.Helper()
		n := r.Filter.SenderPattern
		if _, err := source.Deliver(ctx, client.Delivery{RequestID: r.ID, EncryptedPayload: payload,
			Metadata: client.DeliveryMetadata{Source: "sms", Sender: n}}); err != nil {
			t.Fatalf("deliver to %s: %v", r.ID, err)
		}
	}
	sealFor := func(t *testing.T, r client.CaptureRequest, code string) []byte {
		t.Helper()
		k, err := seal.ParsePublicKey(r.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := k.Seal(r.ID, []byte(code))
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	tests := []struct {
		name         string
		first, again func(*client.PublicKey) string
		refused      bool
	}{
		{"plain into plain: the guide's form is not bound", client.ExportPublicKeyPlain, client.ExportPublicKeyPlain, false},
		{"bound into bound", client.ExportPublicKey, client.ExportPublicKey, true},
		{"plain into bound", client.ExportPublicKeyPlain, client.ExportPublicKey, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := open(t, tt.first)
			oldCT := sealFor(t, old, "111111")
			deliver(t, old, oldCT)
			res, err := agent.ConsumeOTP(ctx, old.ID, priv)
			if err != nil || res.Code != "111111" {
				t.Fatalf("the first request: %+v, %v", res, err)
			}
			next := open(t, tt.again)
			if want := client.RSAOAEP256Bound; tt.refused && next.Encryption != want {
				t.Fatalf("ExportPublicKey's request is %s, want %s", next.Encryption, want)
			}
			deliver(t, next, oldCT) // the replay: the relay cannot tell
			res, err = agent.ConsumeOTP(ctx, next.ID, priv)
			if tt.refused {
				if !errors.Is(err, client.ErrDecryption) || res == nil || res.Code != "" || res.EncryptedPayload == "" {
					t.Fatalf("the replayed payload: %+v, %v; want ErrDecryption and no code", res, err)
				}
				return
			}
			if err != nil || res.Code != "111111" {
				t.Fatalf("plain replay: %+v, %v (the plain form opens it: it is not bound)", res, err)
			}
		})
	}
}
