-- 0012_signing_keys: owners' public keys for signed approvals. Only the
-- public half is here; the owner keeps the private key (agentotp owner
-- keygen writes it to a file on the owner's machine; a passkey's stays in
-- its authenticator). A passkey's row also keeps its WebAuthn credential
-- record (id, COSE public key, flags), which checks its assertions.

CREATE TABLE signing_keys (
	id         TEXT    PRIMARY KEY,
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	method     TEXT    NOT NULL,
	key_id     TEXT    NOT NULL,
	public_key BLOB    NOT NULL,
	credential BLOB    NOT NULL DEFAULT x'',
	name       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0,
	UNIQUE (owner_id, key_id)
) STRICT;

-- Dashboard sessions may now be opened with a passkey. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt (nothing
-- references it).
CREATE TABLE dashboard_sessions_new (
	hash       BLOB    NOT NULL PRIMARY KEY,
	id         TEXT    NOT NULL UNIQUE,
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	method     TEXT    NOT NULL CHECK (method IN ('password', 'link', 'passkey')),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO dashboard_sessions_new SELECT hash, id, owner_id, method, created_at, expires_at FROM dashboard_sessions;
DROP TABLE dashboard_sessions;
ALTER TABLE dashboard_sessions_new RENAME TO dashboard_sessions;
CREATE INDEX dashboard_sessions_owner ON dashboard_sessions (owner_id);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
