-- 0004_dashboard: the web dashboard's owner passwords, sessions and
-- one-time log-in links. Secrets are kept only as hashes: passwords as
-- argon2id PHC strings, session and link tokens as SHA-256.

CREATE TABLE owner_passwords (
	owner_id   TEXT    NOT NULL PRIMARY KEY REFERENCES owners (id),
	hash       TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE dashboard_sessions (
	hash       BLOB    NOT NULL PRIMARY KEY,
	id         TEXT    NOT NULL UNIQUE,
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	method     TEXT    NOT NULL CHECK (method IN ('password', 'link')),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX dashboard_sessions_owner ON dashboard_sessions (owner_id);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);

CREATE TABLE login_links (
	hash       BLOB    NOT NULL PRIMARY KEY,
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX login_links_expires ON login_links (expires_at);
