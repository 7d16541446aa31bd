package httpapi_test

import (
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
)

// TestExtractionContext: a request that names its sender makes a bare
// token from that sender its code, end to end over HTTP; the same bare
// message from a sender no request names matches nothing; an origin-bound
// code for another site is not delivered to a request that expects one.
func TestExtractionContext(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("signup-bot", false)
	src, _ := h.source("sms")
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	newRequest := func(pattern string) *client.OTPRequest {
		t.Helper()
		req, err := agent.RequestOTP(ctx, client.RequestOptions{
			Reason: "Sign up for Acme", ExpectedSender: "Acme", PublicKey: client.ExportPublicKey(pub),
			Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: pattern},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.owner.Approve(ctx, req.ID); err != nil {
			t.Fatal(err)
		}
		return req
	}

	req := newRequest("ACME*")

	// The bare number from a sender no request names: no context, no code.
	res, err := src.Send(ctx, client.Message{Source: "sms", Sender: "OTHER", Text: "482193"})
	if err != nil || res.Matched {
		t.Fatalf("bare message from OTHER: %+v %v, want no match", res, err)
	}
	st, err := agent.GetOTPStatus(ctx, req.ID)
	if err != nil || st.Status != client.StatusApproved {
		t.Fatalf("after OTHER: %+v %v, want still approved", st, err)
	}

	// The same bare number from ACME: the request names the sender.
	res, err = src.Send(ctx, client.Message{Source: "sms", Sender: "ACME", Text: "482193"})
	if err != nil || !res.Matched {
		t.Fatalf("bare message from ACME: %+v %v, want a match", res, err)
	}
	w, err := agent.WaitForOTP(ctx, req.ID, 10*time.Second)
	if err != nil || w.Status != client.StatusOTPReceived {
		t.Fatalf("wait: %+v %v", w, err)
	}
	out, err := agent.ConsumeOTP(ctx, req.ID, priv)
	if err != nil || out.Code != "482193" {
		t.Fatalf("consume: %+v %v, want 482193", out, err)
	}

	// An origin-bound code for another site is withheld from a request
	// whose sender pattern names acme.com, and delivered when it names it.
	bound := newRequest("*@acme.com")
	res, err = src.Send(ctx, client.Message{Source: "sms", Sender: "login@acme.com", Text: "Your code is 731904\n\n@evil.example #731904"})
	if err != nil || res.Matched {
		t.Fatalf("code bound to evil.example: %+v %v, want no match", res, err)
	}
	res, err = src.Send(ctx, client.Message{Source: "sms", Sender: "login@acme.com", Text: "Your code is 552013\n\n@login.acme.com #552013"})
	if err != nil || !res.Matched {
		t.Fatalf("code bound to login.acme.com: %+v %v, want a match", res, err)
	}
	out, err = agent.ConsumeOTP(ctx, bound.ID, priv)
	if err != nil || out.Code != "552013" {
		t.Fatalf("consume bound: %+v %v, want 552013", out, err)
	}
	if out.Metadata == nil || out.Metadata.Domain != "login.acme.com" {
		t.Fatalf("metadata %+v, want domain login.acme.com", out.Metadata)
	}
}
