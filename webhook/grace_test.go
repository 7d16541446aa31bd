package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/webhook"
)

// TestRotationGraceSignsWithBothSecrets: rotating an agent's key with a
// grace period used to change its webhook secret at once, so a receiver
// still holding the old secret refused every delivery. During the grace
// period each delivery now carries two signatures (Standard Webhooks:
// space separated), one per secret, and the SDK's verifier accepts it
// with either; with no grace, or after the secret itself is rotated, only
// the new secret signs.
func TestRotationGraceSignsWithBothSecrets(t *testing.T) {
	e := newEnv(t, webhook.Config{AllowPrivate: true})
	rc := newReceiver(t, nil)
	p, oldSecret := e.agent(true)
	rot, err := e.svc.RotateAgent(t.Context(), e.owner, p.AgentID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	newSecret := rot.WebhookSecret
	if newSecret == oldSecret {
		t.Fatal("rotation kept the webhook secret")
	}
	p2, err := e.svc.Authenticate(t.Context(), rot.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	e.request(p2, rc.srv.URL)
	got := rc.wait(t, 3)
	for _, g := range got {
		sigs := strings.Fields(g.header.Get("webhook-signature"))
		if len(sigs) != 2 || g.header.Get("X-OTP-Signature") != g.header.Get("webhook-signature") {
			t.Fatalf("during the grace period: signatures %q; want two, the same in X-OTP-Signature", g.header.Get("webhook-signature"))
		}
		for _, s := range []string{newSecret, oldSecret} {
			if err := client.VerifyWebhook(s, g.header, g.body, time.Minute); err != nil {
				t.Errorf("VerifyWebhook with the %s secret: %v", map[bool]string{true: "new", false: "old"}[s == newSecret], err)
			}
		}
	}

	// Rotating the secret alone drops the old one: one signature, the new one's.
	_, only, err := e.svc.RotateWebhookSecret(t.Context(), e.owner, p.AgentID)
	if err != nil {
		t.Fatal(err)
	}
	e.request(p2, rc.srv.URL)
	got = rc.wait(t, 6)[3:]
	checkOne(t, got, only, oldSecret, newSecret)

	// No grace: the old secret stops signing at once.
	rot2, err := e.svc.RotateAgent(t.Context(), e.owner, p.AgentID, 0)
	if err != nil {
		t.Fatal(err)
	}
	p3, err := e.svc.Authenticate(t.Context(), rot2.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	e.request(p3, rc.srv.URL)
	got = rc.wait(t, 9)[6:]
	checkOne(t, got, rot2.WebhookSecret, only)
}

// checkOne checks that each delivery carries one signature, which want
// verifies and none of refused does.
func checkOne(t *testing.T, got []received, want string, refused ...string) {
	t.Helper()
	for _, g := range got {
		if n := len(strings.Fields(g.header.Get("webhook-signature"))); n != 1 {
			t.Fatalf("%d signatures %q; want one", n, g.header.Get("webhook-signature"))
		}
		if err := client.VerifyWebhook(want, g.header, g.body, time.Minute); err != nil {
			t.Errorf("VerifyWebhook with the current secret: %v", err)
		}
		for _, s := range refused {
			if err := client.VerifyWebhook(s, g.header, g.body, time.Minute); err == nil {
				t.Error("a secret that should no longer sign verifies")
			}
		}
	}
}
