package postgres

import (
	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// sealSecret returns the stored form of an agent's webhook secret.
func (db *Store) sealSecret(agentID, secret string) string {
	return storerow.SealWebhookSecret(db.box, agentID, secret)
}

// openSecret inverts sealSecret. A secret that does not open (the box key
// changed) reads as "" and is logged: the agent's webhooks then fail until
// the owner rotates its webhook secret.
func (db *Store) openSecret(agentID, stored string) string {
	pt, err := storerow.OpenWebhookSecret(db.box, agentID, stored)
	if err != nil {
		db.logger.Warn("postgres: webhook secret does not open; rotate it", "agent_id", agentID, "err", err)
		return ""
	}
	return pt
}

// openAgentSecret replaces the stored form of a's webhook secret with the
// secret.
func (db *Store) openAgentSecret(a *agentotp.Agent) *agentotp.Agent {
	a.WebhookSecret = db.openSecret(a.ID, a.WebhookSecret)
	return a
}
