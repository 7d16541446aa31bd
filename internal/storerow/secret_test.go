package storerow

import (
	"bytes"
	"strings"
	"testing"

	"github.com/agentotp/agentotp/secretbox"
)

func newBox(t *testing.T, fill byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWebhookSecret: a sealed secret holds no plaintext, opens for its
// agent with its box, and for no other agent or box.
func TestWebhookSecret(t *testing.T) {
	box := newBox(t, 1)
	stored := SealWebhookSecret(box, "agt_1", "whsec_plain")
	if !strings.HasPrefix(stored, SealedPrefix) || strings.Contains(stored, "whsec_plain") {
		t.Fatalf("stored form %q", stored)
	}
	if got, err := OpenWebhookSecret(box, "agt_1", stored); err != nil || got != "whsec_plain" {
		t.Errorf("open: %q, %v", got, err)
	}
	for _, tt := range []struct {
		name, agent, stored string
		box                 *secretbox.Box
	}{
		{"other agent", "agt_2", stored, box},
		{"other box", "agt_1", stored, newBox(t, 2)},
		{"clear text", "agt_1", "whsec_plain", box},
		{"bad base64", "agt_1", SealedPrefix + "***", box},
	} {
		if got, err := OpenWebhookSecret(tt.box, tt.agent, tt.stored); err == nil {
			t.Errorf("%s: opened as %q", tt.name, got)
		}
	}
	if SealWebhookSecret(box, "agt_1", "") != "" {
		t.Error("an empty secret is stored non-empty")
	}
	if got, err := OpenWebhookSecret(box, "agt_1", ""); got != "" || err != nil {
		t.Errorf("empty stored form: %q, %v", got, err)
	}
}
