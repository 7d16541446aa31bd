-- 0001_init: the whole schema of the agentotp store on PostgreSQL, as the
-- SQLite store's migrations 0001-0012 leave it (sqlite/migrations).
--
-- Tables and columns have the SQLite store's names and meanings, and the
-- same kinds of values, so that `agentotp migrate` copies rows table by
-- table without converting them:
--   - times are bigint unix microseconds, 0 standing for the zero time;
--   - booleans are bigint 0 or 1 (CHECKed), as in SQLite;
--   - every text column sorts and compares bytewise (COLLATE "C"), as in
--     SQLite and Go, whatever the database's default collation: ids order
--     listings and cursors;
--   - JSON is text; hashes, sealed secrets and ciphertext are bytea, except
--     where SQLite keeps them as TEXT (agents.webhook_secret "box1:...",
--     audit hashes in hex, owner_passwords.hash as a PHC string).
-- Ciphertext lives only in requests.payload and requests.content, and never
-- in a row of a final status.

CREATE TABLE owners (
	id         text COLLATE "C"   NOT NULL PRIMARY KEY,
	name       text COLLATE "C"   NOT NULL,
	created_at bigint NOT NULL
);

CREATE INDEX owners_created ON owners (created_at, id);

CREATE TABLE agents (
	id             text COLLATE "C"   NOT NULL PRIMARY KEY,
	owner_id       text COLLATE "C"   NOT NULL REFERENCES owners (id),
	name           text COLLATE "C"   NOT NULL,
	test           bigint NOT NULL CHECK (test IN (0, 1)),
	key_prefix     text COLLATE "C"   NOT NULL,
	webhook_secret text COLLATE "C"   NOT NULL, -- sealed with the secret box: "box1:" + base64
	created_at     bigint NOT NULL,
	revoked_at     bigint NOT NULL DEFAULT 0,
	webhook_url    text COLLATE "C"   NOT NULL DEFAULT ''
);

CREATE INDEX agents_owner ON agents (owner_id, created_at, id);

CREATE TABLE sources (
	id         text COLLATE "C"   NOT NULL PRIMARY KEY,
	owner_id   text COLLATE "C"   NOT NULL REFERENCES owners (id),
	name       text COLLATE "C"   NOT NULL,
	kind       text COLLATE "C"   NOT NULL,
	key_prefix text COLLATE "C"   NOT NULL,
	created_at bigint NOT NULL,
	revoked_at bigint NOT NULL DEFAULT 0
);

CREATE INDEX sources_owner ON sources (owner_id, created_at, id);

CREATE TABLE credentials (
	hash       bytea  NOT NULL PRIMARY KEY,
	kind       text COLLATE "C"   NOT NULL,
	owner_id   text COLLATE "C"   NOT NULL REFERENCES owners (id),
	agent_id   text COLLATE "C"   REFERENCES agents (id),
	source_id  text COLLATE "C"   REFERENCES sources (id),
	prefix     text COLLATE "C"   NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL DEFAULT 0,
	revoked_at bigint NOT NULL DEFAULT 0
);

CREATE INDEX credentials_owner ON credentials (owner_id);
CREATE INDEX credentials_agent ON credentials (agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX credentials_source ON credentials (source_id) WHERE source_id IS NOT NULL;

CREATE TABLE requests (
	id              text COLLATE "C"   NOT NULL PRIMARY KEY,
	owner_id        text COLLATE "C"   NOT NULL REFERENCES owners (id),
	agent_id        text COLLATE "C"   NOT NULL REFERENCES agents (id),
	test            bigint NOT NULL CHECK (test IN (0, 1)),
	status          text COLLATE "C"   NOT NULL CHECK (status IN (
		'pending_approval', 'approved', 'otp_received',
		'consumed', 'denied', 'expired', 'cancelled')),
	reason          text COLLATE "C"   NOT NULL,
	expected_sender text COLLATE "C"   NOT NULL,
	filter          text COLLATE "C"   NOT NULL,            -- JSON of agentotp.Filter
	encryption      text COLLATE "C"   NOT NULL,
	public_key      text COLLATE "C"   NOT NULL,
	key_fingerprint text COLLATE "C"   NOT NULL,
	webhook_url     text COLLATE "C"   NOT NULL,
	include_message bigint NOT NULL CHECK (include_message IN (0, 1)),
	created_at      bigint NOT NULL,
	expires_at      bigint NOT NULL,
	decided_at      bigint NOT NULL DEFAULT 0,
	decided_by      text COLLATE "C"   NOT NULL DEFAULT '',
	deny_reason     text COLLATE "C"   NOT NULL DEFAULT '',
	consumed_at     bigint NOT NULL DEFAULT 0,
	updated_at      bigint NOT NULL DEFAULT 0,
	metadata        text,                        -- JSON of agentotp.MessageMetadata, or NULL
	payload         bytea,                       -- sealed code, NULL when none
	content         bytea,                       -- sealed message text, NULL when none
	version         bigint NOT NULL DEFAULT 0,
	-- A final request holds no ciphertext (docs/design.md, "The request lifecycle").
	CHECK (status IN ('pending_approval', 'approved', 'otp_received')
		OR (payload IS NULL AND content IS NULL))
);

CREATE INDEX requests_owner_status ON requests (owner_id, status, created_at, id);
CREATE INDEX requests_live ON requests (owner_id, created_at, id)
	WHERE status IN ('pending_approval', 'approved');
CREATE INDEX requests_owner_created ON requests (owner_id, created_at DESC, id DESC);
CREATE INDEX requests_agent_created ON requests (agent_id, created_at DESC, id DESC);
CREATE INDEX requests_due ON requests (expires_at, id)
	WHERE status IN ('pending_approval', 'approved', 'otp_received');
-- The cap of an auto-approving policy counts its recent decisions per agent.
CREATE INDEX requests_agent_decided ON requests (agent_id, decided_by, decided_at);
-- The live cap (agentotp.MaxLiveRequestsPerAgent) counts an agent's waiting requests.
CREATE INDEX requests_agent_live ON requests (agent_id, expires_at)
	WHERE status IN ('pending_approval', 'approved', 'otp_received');

CREATE TABLE messages_seen (
	source_id   text COLLATE "C"   NOT NULL,
	external_id text COLLATE "C"   NOT NULL,
	seen_at     bigint NOT NULL,
	PRIMARY KEY (source_id, external_id)
);

CREATE INDEX messages_seen_at ON messages_seen (seen_at);

-- seq is global and increasing; each owner's entries form one hash chain
-- (prev_hash). chain: 0 the unkeyed SHA-256 of rows copied from an SQLite
-- store older than its keyed chain, 1 the keyed HMAC of every row this
-- store writes.
CREATE TABLE audit (
	seq        bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	id         text COLLATE "C"   NOT NULL,
	owner_id   text COLLATE "C"   NOT NULL,
	at         bigint NOT NULL,
	actor      text COLLATE "C"   NOT NULL,
	action     text COLLATE "C"   NOT NULL,
	request_id text COLLATE "C"   NOT NULL DEFAULT '',
	agent_id   text COLLATE "C"   NOT NULL DEFAULT '',
	source_id  text COLLATE "C"   NOT NULL DEFAULT '',
	details    text,                             -- JSON object of strings, or NULL
	prev_hash  text COLLATE "C"   NOT NULL,
	hash       text COLLATE "C"   NOT NULL,
	chain      bigint NOT NULL DEFAULT 0
);

CREATE INDEX audit_owner_seq ON audit (owner_id, seq);
CREATE INDEX audit_request ON audit (request_id, seq) WHERE request_id <> '';

-- One row per owner with an audit chain: a transaction that appends to the
-- owner's chain locks it first (FOR UPDATE), so that the writers of one
-- chain, on any relay, take turns and the chain stays linear. It holds no
-- data; a row missing here (after a copy) is created by the next append.
CREATE TABLE audit_heads (
	owner_id text COLLATE "C" NOT NULL PRIMARY KEY
);

-- The seal of the unkeyed rows copied from an SQLite store (its
-- audit_legacy row, copied as it is). A store that never held unkeyed rows
-- has no row here, and then every unkeyed row fails verification.
CREATE TABLE audit_legacy (
	id      bigint NOT NULL PRIMARY KEY CHECK (id = 1),
	max_seq bigint NOT NULL,
	heads   text COLLATE "C"   NOT NULL, -- JSON object: owner id -> {"seq","hash"}
	mac     text COLLATE "C"   NOT NULL
);

-- The audit log is append-only and the legacy seal written once. These
-- triggers stop accidental edits; the hash chain detects deliberate ones.
CREATE FUNCTION agentotp_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION agentotp_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION agentotp_append_only();
CREATE TRIGGER audit_legacy_no_update BEFORE UPDATE OR DELETE ON audit_legacy
	FOR EACH ROW EXECUTE FUNCTION agentotp_append_only();

CREATE TABLE policies (
	id           text COLLATE "C"   NOT NULL PRIMARY KEY,
	owner_id     text COLLATE "C"   NOT NULL REFERENCES owners (id),
	name         text COLLATE "C"   NOT NULL,
	position     bigint NOT NULL CHECK (position >= 1),
	conditions   text COLLATE "C"   NOT NULL,                 -- JSON of agentotp.PolicyConditions
	action       text COLLATE "C"   NOT NULL CHECK (action IN ('auto_approve', 'deny', 'ask')),
	max_per_hour bigint,                          -- NULL: no cap
	enabled      bigint NOT NULL CHECK (enabled IN (0, 1)),
	created_at   bigint NOT NULL,
	updated_at   bigint NOT NULL
);

CREATE INDEX policies_owner_position ON policies (owner_id, position);

CREATE TABLE owner_settings (
	owner_id   text COLLATE "C"   NOT NULL PRIMARY KEY REFERENCES owners (id),
	time_zone  text COLLATE "C"   NOT NULL DEFAULT '',
	updated_at bigint NOT NULL
);

CREATE TABLE telegram_links (
	owner_id  text COLLATE "C"   NOT NULL PRIMARY KEY REFERENCES owners (id),
	chat_id   bigint NOT NULL UNIQUE,
	user_id   bigint NOT NULL,
	username  text COLLATE "C"   NOT NULL DEFAULT '',
	linked_at bigint NOT NULL
);

CREATE TABLE telegram_link_codes (
	owner_id   text COLLATE "C"   NOT NULL PRIMARY KEY REFERENCES owners (id),
	code_hash  bytea  NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL
);

CREATE TABLE telegram_prompts (
	token_hash bytea  NOT NULL PRIMARY KEY,
	request_id text COLLATE "C"   NOT NULL REFERENCES requests (id),
	owner_id   text COLLATE "C"   NOT NULL REFERENCES owners (id),
	chat_id    bigint NOT NULL,
	message_id bigint NOT NULL DEFAULT 0,
	created_at bigint NOT NULL,
	closed_at  bigint NOT NULL DEFAULT 0
);

CREATE INDEX telegram_prompts_request ON telegram_prompts (request_id);

CREATE TABLE webhook_outbox (
	seq             bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, -- send order
	id              text COLLATE "C"   NOT NULL UNIQUE,                                        -- the webhook-id header
	owner_id        text COLLATE "C"   NOT NULL REFERENCES owners (id),
	agent_id        text COLLATE "C"   NOT NULL,
	request_id      text COLLATE "C"   NOT NULL,
	url             text COLLATE "C"   NOT NULL,
	status          text COLLATE "C"   NOT NULL,
	occurred_at     bigint NOT NULL,
	created_at      bigint NOT NULL,
	state           text COLLATE "C"   NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        bigint NOT NULL DEFAULT 0,
	next_attempt_at bigint NOT NULL,
	last_attempt_at bigint NOT NULL DEFAULT 0,
	last_status     bigint NOT NULL DEFAULT 0,
	last_error      text COLLATE "C"   NOT NULL DEFAULT '',
	delivered_at    bigint NOT NULL DEFAULT 0,
	updated_at      bigint NOT NULL
);

CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX webhook_outbox_url ON webhook_outbox (url, seq) WHERE state = 'pending';
CREATE INDEX webhook_outbox_owner ON webhook_outbox (owner_id, seq);
CREATE INDEX webhook_outbox_request ON webhook_outbox (request_id, seq);
CREATE INDEX webhook_outbox_finished ON webhook_outbox (updated_at) WHERE state <> 'pending';
CREATE INDEX webhook_outbox_request_pending ON webhook_outbox (request_id, seq) WHERE state = 'pending';

CREATE TABLE owner_passwords (
	owner_id   text COLLATE "C"   NOT NULL PRIMARY KEY REFERENCES owners (id),
	hash       text COLLATE "C"   NOT NULL,
	updated_at bigint NOT NULL
);

CREATE TABLE dashboard_sessions (
	hash       bytea  NOT NULL PRIMARY KEY,
	id         text COLLATE "C"   NOT NULL UNIQUE,
	owner_id   text COLLATE "C"   NOT NULL REFERENCES owners (id),
	method     text COLLATE "C"   NOT NULL CHECK (method IN ('password', 'link', 'passkey')),
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL
);

CREATE INDEX dashboard_sessions_owner ON dashboard_sessions (owner_id);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);

CREATE TABLE login_links (
	hash       bytea  NOT NULL PRIMARY KEY,
	owner_id   text COLLATE "C"   NOT NULL REFERENCES owners (id),
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	used_at    bigint NOT NULL DEFAULT 0
);

CREATE INDEX login_links_expires ON login_links (expires_at);

CREATE TABLE source_keys (
	source_id  text COLLATE "C"   NOT NULL PRIMARY KEY REFERENCES sources (id),
	owner_id   text COLLATE "C"   NOT NULL REFERENCES owners (id),
	sealed     bytea  NOT NULL,
	created_at bigint NOT NULL
);

CREATE TABLE imap_sources (
	source_id         text COLLATE "C"   NOT NULL PRIMARY KEY REFERENCES sources (id),
	owner_id          text COLLATE "C"   NOT NULL REFERENCES owners (id),
	host              text COLLATE "C"   NOT NULL,
	port              bigint NOT NULL CHECK (port BETWEEN 1 AND 65535),
	tls_mode          text COLLATE "C"   NOT NULL CHECK (tls_mode IN ('tls', 'starttls', 'plain')),
	username          text COLLATE "C"   NOT NULL,
	password_sealed   bytea  NOT NULL,
	mailbox           text COLLATE "C"   NOT NULL,
	poll_interval_ms  bigint NOT NULL CHECK (poll_interval_ms > 0),
	mark_as_read      bigint NOT NULL CHECK (mark_as_read IN (0, 1)),
	created_at        bigint NOT NULL,
	updated_at        bigint NOT NULL,
	version           bigint NOT NULL DEFAULT 1,
	uid_validity      bigint NOT NULL DEFAULT 0,
	last_uid          bigint NOT NULL DEFAULT 0,
	state             text COLLATE "C"   NOT NULL DEFAULT '',
	last_error        text COLLATE "C"   NOT NULL DEFAULT '',
	last_error_at     bigint NOT NULL DEFAULT 0,
	last_connected_at bigint NOT NULL DEFAULT 0,
	last_message_at   bigint NOT NULL DEFAULT 0,
	status_at         bigint NOT NULL DEFAULT 0
);

CREATE INDEX imap_sources_owner ON imap_sources (owner_id, source_id);

CREATE TABLE webhook_gone (
	agent_id text COLLATE "C"   NOT NULL,
	url      text COLLATE "C"   NOT NULL,
	reason   text COLLATE "C"   NOT NULL,
	gone_at  bigint NOT NULL,
	PRIMARY KEY (agent_id, url)
);

CREATE TABLE enrollments (
	id               text COLLATE "C"   NOT NULL PRIMARY KEY,
	owner_id         text COLLATE "C"   NOT NULL REFERENCES owners (id),
	name             text COLLATE "C"   NOT NULL,
	description      text COLLATE "C"   NOT NULL,
	test             bigint NOT NULL CHECK (test IN (0, 1)),
	user_code_hash   bytea  NOT NULL,
	device_code_hash bytea  NOT NULL UNIQUE,
	client_addr      text COLLATE "C"   NOT NULL,
	user_agent       text COLLATE "C"   NOT NULL,
	status           text COLLATE "C"   NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'issued')),
	created_at       bigint NOT NULL,
	expires_at       bigint NOT NULL,
	decided_at       bigint NOT NULL DEFAULT 0,
	decided_by       text COLLATE "C"   NOT NULL DEFAULT '',
	issued_at        bigint NOT NULL DEFAULT 0,
	agent_id         text COLLATE "C"   REFERENCES agents (id),
	version          bigint NOT NULL DEFAULT 0,
	CHECK ((status = 'issued') = (agent_id IS NOT NULL))
);

CREATE INDEX enrollments_owner_created ON enrollments (owner_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX enrollments_user_code ON enrollments (user_code_hash)
	WHERE status IN ('pending', 'approved');
CREATE INDEX enrollments_due ON enrollments (expires_at, id)
	WHERE status IN ('pending', 'approved');

CREATE TABLE enrollment_prompts (
	token_hash    bytea  NOT NULL PRIMARY KEY,
	enrollment_id text COLLATE "C"   NOT NULL REFERENCES enrollments (id),
	owner_id      text COLLATE "C"   NOT NULL REFERENCES owners (id),
	chat_id       bigint NOT NULL,
	message_id    bigint NOT NULL DEFAULT 0,
	created_at    bigint NOT NULL,
	closed_at     bigint NOT NULL DEFAULT 0
);

CREATE INDEX enrollment_prompts_enrollment ON enrollment_prompts (enrollment_id);

CREATE TABLE agent_prev_webhook_secrets (
	agent_id       text COLLATE "C"   NOT NULL PRIMARY KEY REFERENCES agents (id),
	webhook_secret text COLLATE "C"   NOT NULL,
	until          bigint NOT NULL
);

CREATE TABLE signing_keys (
	id         text COLLATE "C"   NOT NULL PRIMARY KEY,
	owner_id   text COLLATE "C"   NOT NULL REFERENCES owners (id),
	method     text COLLATE "C"   NOT NULL,
	key_id     text COLLATE "C"   NOT NULL,
	public_key bytea  NOT NULL,
	credential bytea  NOT NULL DEFAULT ''::bytea,
	name       text COLLATE "C"   NOT NULL,
	created_at bigint NOT NULL,
	revoked_at bigint NOT NULL DEFAULT 0,
	UNIQUE (owner_id, key_id)
);
