-- Rotating an agent's key with a grace period used to change its webhook
-- secret at once. The secret it had is kept here (sealed as in agents)
-- until the grace period ends; webhooks are signed with both meanwhile.
CREATE TABLE agent_prev_webhook_secrets (
	agent_id       TEXT    NOT NULL PRIMARY KEY REFERENCES agents (id),
	webhook_secret TEXT    NOT NULL,
	until          INTEGER NOT NULL
) STRICT;
