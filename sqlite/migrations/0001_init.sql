-- 0001_init: the first schema of the agentotp store.
--
-- Times are INTEGER unix microseconds; 0 stands for the zero time.
-- Booleans are INTEGER 0 or 1. Ciphertext lives only in requests.payload and
-- requests.content, and never in a row of a final status.

CREATE TABLE owners (
	id         TEXT    NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX owners_created ON owners (created_at, id);

CREATE TABLE agents (
	id             TEXT    NOT NULL PRIMARY KEY,
	owner_id       TEXT    NOT NULL REFERENCES owners (id),
	name           TEXT    NOT NULL,
	test           INTEGER NOT NULL CHECK (test IN (0, 1)),
	key_prefix     TEXT    NOT NULL,
	webhook_secret TEXT    NOT NULL,
	created_at     INTEGER NOT NULL,
	revoked_at     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX agents_owner ON agents (owner_id, created_at, id);

CREATE TABLE sources (
	id         TEXT    NOT NULL PRIMARY KEY,
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	name       TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	key_prefix TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX sources_owner ON sources (owner_id, created_at, id);

CREATE TABLE credentials (
	hash       BLOB    NOT NULL PRIMARY KEY,
	kind       TEXT    NOT NULL,
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	agent_id   TEXT    REFERENCES agents (id),
	source_id  TEXT    REFERENCES sources (id),
	prefix     TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL DEFAULT 0,
	revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX credentials_owner ON credentials (owner_id);
CREATE INDEX credentials_agent ON credentials (agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX credentials_source ON credentials (source_id) WHERE source_id IS NOT NULL;

CREATE TABLE requests (
	id              TEXT    NOT NULL PRIMARY KEY,
	owner_id        TEXT    NOT NULL REFERENCES owners (id),
	agent_id        TEXT    NOT NULL REFERENCES agents (id),
	test            INTEGER NOT NULL CHECK (test IN (0, 1)),
	status          TEXT    NOT NULL CHECK (status IN (
		'pending_approval', 'approved', 'otp_received',
		'consumed', 'denied', 'expired', 'cancelled')),
	reason          TEXT    NOT NULL,
	expected_sender TEXT    NOT NULL,
	filter          TEXT    NOT NULL,            -- JSON of agentotp.Filter
	encryption      TEXT    NOT NULL,
	public_key      TEXT    NOT NULL,
	key_fingerprint TEXT    NOT NULL,
	webhook_url     TEXT    NOT NULL,
	include_message INTEGER NOT NULL CHECK (include_message IN (0, 1)),
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	decided_at      INTEGER NOT NULL DEFAULT 0,
	decided_by      TEXT    NOT NULL DEFAULT '',
	deny_reason     TEXT    NOT NULL DEFAULT '',
	consumed_at     INTEGER NOT NULL DEFAULT 0,
	updated_at      INTEGER NOT NULL DEFAULT 0,
	metadata        TEXT,                        -- JSON of agentotp.MessageMetadata, or NULL
	payload         BLOB,                        -- sealed code, NULL when none
	content         BLOB,                        -- sealed message text, NULL when none
	version         INTEGER NOT NULL DEFAULT 0,
	-- A final request holds no ciphertext (docs/design.md, "The request lifecycle").
	CHECK (status IN ('pending_approval', 'approved', 'otp_received')
		OR (payload IS NULL AND content IS NULL))
) STRICT;

-- Listings filtered by status.
CREATE INDEX requests_owner_status ON requests (owner_id, status, created_at, id);
-- The candidates for a message (ListLiveRequests), oldest first.
CREATE INDEX requests_live ON requests (owner_id, created_at, id)
	WHERE status IN ('pending_approval', 'approved');
-- Listings, newest first (ListRequests).
CREATE INDEX requests_owner_created ON requests (owner_id, created_at DESC, id DESC);
-- Listings of one agent; also serves the foreign key.
CREATE INDEX requests_agent_created ON requests (agent_id, created_at DESC, id DESC);
-- The sweeper (ListDueRequests) looks at non-final rows only.
CREATE INDEX requests_due ON requests (expires_at, id)
	WHERE status IN ('pending_approval', 'approved', 'otp_received');

CREATE TABLE messages_seen (
	source_id   TEXT    NOT NULL,
	external_id TEXT    NOT NULL,
	seen_at     INTEGER NOT NULL,
	PRIMARY KEY (source_id, external_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX messages_seen_at ON messages_seen (seen_at);

CREATE TABLE audit (
	seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	id         TEXT    NOT NULL,
	owner_id   TEXT    NOT NULL,
	at         INTEGER NOT NULL,
	actor      TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	request_id TEXT    NOT NULL DEFAULT '',
	agent_id   TEXT    NOT NULL DEFAULT '',
	source_id  TEXT    NOT NULL DEFAULT '',
	details    TEXT,                             -- JSON object of strings, or NULL
	prev_hash  TEXT    NOT NULL,
	hash       TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_owner_seq ON audit (owner_id, seq);
CREATE INDEX audit_request ON audit (request_id, seq) WHERE request_id <> '';

-- The audit log is append-only. These triggers stop accidental edits through
-- the store's own connections; the hash chain detects deliberate ones.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
