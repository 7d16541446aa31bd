package client_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
)

// TestShortWaitOnWaitingRequest: a wait shorter than one long-poll second
// on a request that is still waiting reads the status once and answers
// ErrTimeout with the request as it stands (it used to dereference a nil
// request and panic).
func TestShortWaitOnWaitingRequest(t *testing.T) {
	ctx := context.Background()
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    string // environment variable holding the agent key
		status client.Status
	}{
		{"pending live key", "AGENT_OTP_API_KEY", client.StatusPendingApproval},
		{"approved test key", "AGENT_OTP_TEST_KEY", client.StatusApproved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otp := client.New(os.Getenv(tt.key))
			opts := client.RequestOptions{Reason: "short wait", PublicKey: client.ExportPublicKey(pub),
				Filter: &client.Filter{SenderPattern: "NOBODY"}}
			req, err := otp.RequestOTP(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer otp.CancelOTPRequest(ctx, req.ID)
			for _, timeout := range []time.Duration{0, 500 * time.Millisecond, 999 * time.Millisecond} {
				got, err := otp.WaitForOTP(ctx, req.ID, timeout)
				if !errors.Is(err, client.ErrTimeout) || got == nil || got.ID != req.ID || got.Status != tt.status {
					t.Fatalf("WaitForOTP(%v) = %+v, %v; want the %s request and ErrTimeout", timeout, got, err, tt.status)
				}
				got, err = otp.WaitForOTPEvents(ctx, req.ID, timeout)
				if !errors.Is(err, client.ErrTimeout) || got == nil || got.ID != req.ID || got.Status != tt.status {
					t.Fatalf("WaitForOTPEvents(%v) = %+v, %v; want the %s request and ErrTimeout", timeout, got, err, tt.status)
				}
			}
			// RequestOTP with a sub-second Timeout: the created request,
			// still waiting, and no error.
			opts.WaitForOTP, opts.Timeout = true, 300*time.Millisecond
			got, err := otp.RequestOTP(ctx, opts)
			if err != nil || got == nil || got.Status != tt.status {
				t.Fatalf("RequestOTP(Timeout 300ms) = %+v, %v; want the %s request, no error", got, err, tt.status)
			}
			otp.CancelOTPRequest(ctx, got.ID)
		})
	}
}
