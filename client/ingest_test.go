package client_test

import (
	"context"
	"testing"

	"github.com/agentotp/agentotp/client"
)

// TestIngestReason: a message that feeds no request says why, as the
// relay answers it (reason no_match / no_code); IngestResult used to drop
// the member.
func TestIngestReason(t *testing.T) {
	ctx := context.Background()
	otp := client.New(ownTestKey(t))
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	req, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "ingest reason", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: "+15550199"}})
	if err != nil {
		t.Fatal(err)
	}
	defer otp.CancelOTPRequest(ctx, req.ID)
	tests := []struct {
		name    string
		msg     client.TestMessage
		matched bool
		reason  string
	}{
		{"no request takes it", client.TestMessage{Source: "sms", Sender: "+15550100", Text: "Your code is 482913"}, false, client.IngestNoMatch},
		{"taken, but no code in it", client.TestMessage{Source: "sms", Sender: "+15550199", Text: "Welcome aboard, see you soon"}, false, client.IngestNoCode},
		{"matched", client.TestMessage{Source: "sms", Sender: "+15550199", Text: "Your code is 482913"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := otp.SendTestMessage(ctx, tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched != tt.matched || res.Reason != tt.reason {
				t.Fatalf("SendTestMessage = %+v; want matched %v, reason %q", res, tt.matched, tt.reason)
			}
		})
	}
}
