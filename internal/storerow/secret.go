package storerow

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/agentotp/agentotp/secretbox"
)

// SealedPrefix marks a sealed secret in a TEXT column.
const SealedPrefix = "box1:"

// webhookSecretPurpose binds a sealed webhook secret to its agent.
func webhookSecretPurpose(agentID string) string { return "webhook-secret:" + agentID }

// SealWebhookSecret returns the stored form of an agent's webhook secret:
// "" for none, else SealedPrefix and the secret sealed with box, bound to
// the agent.
func SealWebhookSecret(box *secretbox.Box, agentID, secret string) string {
	if secret == "" {
		return ""
	}
	return SealedPrefix + base64.StdEncoding.EncodeToString(box.Seal([]byte(secret), webhookSecretPurpose(agentID)))
}

// OpenWebhookSecret inverts SealWebhookSecret. A stored value that is not
// sealed, or does not open with box (the box key changed, or the value
// belongs to another agent), is an error.
func OpenWebhookSecret(box *secretbox.Box, agentID, stored string) (string, error) {
	if stored == "" {
		return "", nil
	}
	b64, ok := strings.CutPrefix(stored, SealedPrefix)
	if !ok {
		return "", errors.New("not sealed")
	}
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("decode sealed secret: %w", err)
	}
	pt, err := box.Open(ct, webhookSecretPurpose(agentID))
	if err != nil {
		return "", err
	}
	return string(pt), nil
}
