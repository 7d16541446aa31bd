-- 0010_enroll: agents that enroll themselves (device-authorization style,
-- RFC 8628). The user code and the device code are kept as SHA-256 hashes
-- only; the agent and its key are created when the agent collects them
-- (status 'issued', agent_id set), in the same transaction.

CREATE TABLE enrollments (
	id               TEXT    NOT NULL PRIMARY KEY,
	owner_id         TEXT    NOT NULL REFERENCES owners (id),
	name             TEXT    NOT NULL,
	description      TEXT    NOT NULL,
	test             INTEGER NOT NULL CHECK (test IN (0, 1)),
	user_code_hash   BLOB    NOT NULL,
	device_code_hash BLOB    NOT NULL UNIQUE,
	client_addr      TEXT    NOT NULL,
	user_agent       TEXT    NOT NULL,
	status           TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'issued')),
	created_at       INTEGER NOT NULL,
	expires_at       INTEGER NOT NULL,
	decided_at       INTEGER NOT NULL DEFAULT 0,
	decided_by       TEXT    NOT NULL DEFAULT '',
	issued_at        INTEGER NOT NULL DEFAULT 0,
	agent_id         TEXT    REFERENCES agents (id),
	version          INTEGER NOT NULL DEFAULT 0,
	CHECK ((status = 'issued') = (agent_id IS NOT NULL))
) STRICT;

-- Listings, newest first.
CREATE INDEX enrollments_owner_created ON enrollments (owner_id, created_at DESC, id DESC);
-- A user code names one live enrollment.
CREATE UNIQUE INDEX enrollments_user_code ON enrollments (user_code_hash)
	WHERE status IN ('pending', 'approved');
-- The sweeper looks at live rows only.
CREATE INDEX enrollments_due ON enrollments (expires_at, id)
	WHERE status IN ('pending', 'approved');

-- Telegram prompts about enrollments, as telegram_prompts is for requests.
CREATE TABLE enrollment_prompts (
	token_hash    BLOB    NOT NULL PRIMARY KEY,
	enrollment_id TEXT    NOT NULL REFERENCES enrollments (id),
	owner_id      TEXT    NOT NULL REFERENCES owners (id),
	chat_id       INTEGER NOT NULL,
	message_id    INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	closed_at     INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX enrollment_prompts_enrollment ON enrollment_prompts (enrollment_id);
