-- 0007_webhook_gone: URLs whose receiver answered 410 Gone to an agent's
-- delivery. While a row is here, deliveries of that agent to that URL are
-- recorded failed and never sent; setting the agent's webhook URL again
-- deletes the agent's rows.

CREATE TABLE webhook_gone (
	agent_id TEXT    NOT NULL,
	url      TEXT    NOT NULL,
	reason   TEXT    NOT NULL,  -- the failed delivery's last_error
	gone_at  INTEGER NOT NULL,
	PRIMARY KEY (agent_id, url)
) STRICT;
