-- 0002_policies: owner policies, owner settings (time zone) and the
-- Telegram bot's state.

CREATE TABLE policies (
	id           TEXT    NOT NULL PRIMARY KEY,
	owner_id     TEXT    NOT NULL REFERENCES owners (id),
	name         TEXT    NOT NULL,
	position     INTEGER NOT NULL CHECK (position >= 1),
	conditions   TEXT    NOT NULL,                 -- JSON of agentotp.PolicyConditions
	action       TEXT    NOT NULL CHECK (action IN ('auto_approve', 'deny', 'ask')),
	max_per_hour INTEGER,                          -- NULL: no cap
	enabled      INTEGER NOT NULL CHECK (enabled IN (0, 1)),
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
) STRICT;

-- Not unique: renumbering shifts rows one at a time.
CREATE INDEX policies_owner_position ON policies (owner_id, position);

-- The cap of an auto-approving policy counts its recent decisions per agent.
CREATE INDEX requests_agent_decided ON requests (agent_id, decided_by, decided_at);

CREATE TABLE owner_settings (
	owner_id   TEXT    NOT NULL PRIMARY KEY REFERENCES owners (id),
	time_zone  TEXT    NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The chat an owner linked to the Telegram bot (one per owner, one owner
-- per chat).
CREATE TABLE telegram_links (
	owner_id  TEXT    NOT NULL PRIMARY KEY REFERENCES owners (id),
	chat_id   INTEGER NOT NULL UNIQUE,
	user_id   INTEGER NOT NULL,
	username  TEXT    NOT NULL DEFAULT '',
	linked_at INTEGER NOT NULL
) STRICT;

-- One-time link codes, stored as SHA-256 hashes; one live code per owner.
CREATE TABLE telegram_link_codes (
	owner_id   TEXT    NOT NULL PRIMARY KEY REFERENCES owners (id),
	code_hash  BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

-- Approval prompts sent to a chat: the hash of the opaque token in the
-- buttons' callback data, mapped to the request, and the message to edit.
CREATE TABLE telegram_prompts (
	token_hash BLOB    NOT NULL PRIMARY KEY,
	request_id TEXT    NOT NULL REFERENCES requests (id),
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	chat_id    INTEGER NOT NULL,
	message_id INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	closed_at  INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX telegram_prompts_request ON telegram_prompts (request_id);
