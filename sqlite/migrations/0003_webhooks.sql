-- 0003_webhooks: the outbox of outbound webhooks and the agents' webhook
-- settings.
--
-- agents.webhook_secret holds, from this migration on, the secret sealed
-- with the store's secret box ("box1:" + base64); Open seals any secret
-- that an older version stored in the clear.

ALTER TABLE agents ADD COLUMN webhook_url TEXT NOT NULL DEFAULT '';

CREATE TABLE webhook_outbox (
	seq             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, -- send order per URL
	id              TEXT    NOT NULL UNIQUE,                     -- the webhook-id header
	owner_id        TEXT    NOT NULL REFERENCES owners (id),
	agent_id        TEXT    NOT NULL,
	request_id      TEXT    NOT NULL,
	url             TEXT    NOT NULL,
	status          TEXT    NOT NULL,                            -- the request status reported
	occurred_at     INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_attempt_at INTEGER NOT NULL DEFAULT 0,
	last_status     INTEGER NOT NULL DEFAULT 0,                  -- HTTP status of the last attempt
	last_error      TEXT    NOT NULL DEFAULT '',
	delivered_at    INTEGER NOT NULL DEFAULT 0,
	updated_at      INTEGER NOT NULL
) STRICT;

-- The worker's claim: due pending rows, and the head of each URL's queue.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX webhook_outbox_url ON webhook_outbox (url, seq) WHERE state = 'pending';
-- The owner's listings.
CREATE INDEX webhook_outbox_owner ON webhook_outbox (owner_id, seq);
CREATE INDEX webhook_outbox_request ON webhook_outbox (request_id, seq);
-- Pruning of finished rows.
CREATE INDEX webhook_outbox_finished ON webhook_outbox (updated_at) WHERE state <> 'pending';
