package client_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/agentotp/agentotp/client"
)

// TestFormatCharactersRefused: a reason, an expected sender or a sender
// pattern holding a format character (here U+202E, which shows
// "*@\u202emoc.emca" to the owner as "*@acme.com") is refused with a
// validation error on that field, by the running relay.
func TestFormatCharactersRefused(t *testing.T) {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_API_KEY"))
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	base := func() client.RequestOptions {
		return client.RequestOptions{Reason: "sign up", PublicKey: client.ExportPublicKey(pub)}
	}
	tests := []struct {
		name  string
		edit  func(*client.RequestOptions)
		field string
	}{
		{"reason", func(o *client.RequestOptions) { o.Reason = "sign up \u202e" }, "reason"},
		{"expected sender", func(o *client.RequestOptions) { o.ExpectedSender = "Acme\u200b" }, "expected_sender"},
		{"sender pattern", func(o *client.RequestOptions) { o.Filter = &client.Filter{SenderPattern: "*@\u202emoc.emca"} }, "filter.sender_pattern"},
		{"content pattern", func(o *client.RequestOptions) { o.Filter = &client.Filter{ContentPattern: "code\u2066"} }, "filter.content_pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base()
			tt.edit(&opts)
			req, err := otp.RequestOTP(ctx, opts)
			var e *client.Error
			if !errors.Is(err, client.ErrValidation) || !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
				if req != nil {
					otp.CancelOTPRequest(ctx, req.ID)
				}
				t.Fatalf("RequestOTP = %v, %v; want a validation error on %s alone", req, err, tt.field)
			}
		})
	}
}
