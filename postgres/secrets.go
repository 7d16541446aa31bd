package postgres

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/agentotp/agentotp"
)

// sealedPrefix marks a sealed secret in a TEXT column.
const sealedPrefix = "box1:"

// webhookSecretPurpose binds a sealed webhook secret to its agent.
func webhookSecretPurpose(agentID string) string { return "webhook-secret:" + agentID }

// sealSecret returns the stored form of an agent's webhook secret.
func (db *Store) sealSecret(agentID, secret string) string {
	if secret == "" {
		return ""
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(db.box.Seal([]byte(secret), webhookSecretPurpose(agentID)))
}

// openSecret inverts sealSecret. A secret that does not open (the box key
// changed) reads as "" and is logged: the agent's webhooks then fail until
// the owner rotates its webhook secret.
func (db *Store) openSecret(agentID, stored string) string {
	if stored == "" {
		return ""
	}
	b64, ok := strings.CutPrefix(stored, sealedPrefix)
	var pt []byte
	ct, err := base64.StdEncoding.DecodeString(b64)
	if ok && err == nil {
		pt, err = db.box.Open(ct, webhookSecretPurpose(agentID))
	}
	if !ok || err != nil {
		if err == nil {
			err = errors.New("not sealed")
		}
		db.logger.Warn("postgres: webhook secret does not open; rotate it", "agent_id", agentID, "err", err)
		return ""
	}
	return string(pt)
}

// openAgentSecret replaces the stored form of a's webhook secret with the
// secret.
func (db *Store) openAgentSecret(a *agentotp.Agent) *agentotp.Agent {
	a.WebhookSecret = db.openSecret(a.ID, a.WebhookSecret)
	return a
}
