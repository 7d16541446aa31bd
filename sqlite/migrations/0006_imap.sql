-- 0006_imap: the IMAP settings of email sources, and their connectors'
-- cursors and status.
--
-- The app password is stored sealed (secretbox, purpose
-- "imap-password:<source id>"), never in the clear. uid_validity and last_uid
-- are the connector's cursor: a restart neither re-reads nor skips mail.

CREATE TABLE imap_sources (
	source_id         TEXT    NOT NULL PRIMARY KEY REFERENCES sources (id),
	owner_id          TEXT    NOT NULL REFERENCES owners (id),
	host              TEXT    NOT NULL,
	port              INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	tls_mode          TEXT    NOT NULL CHECK (tls_mode IN ('tls', 'starttls', 'plain')),
	username          TEXT    NOT NULL,
	password_sealed   BLOB    NOT NULL,
	mailbox           TEXT    NOT NULL,
	poll_interval_ms  INTEGER NOT NULL CHECK (poll_interval_ms > 0),
	mark_as_read      INTEGER NOT NULL CHECK (mark_as_read IN (0, 1)),
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL,
	version           INTEGER NOT NULL DEFAULT 1,
	uid_validity      INTEGER NOT NULL DEFAULT 0,
	last_uid          INTEGER NOT NULL DEFAULT 0,
	state             TEXT    NOT NULL DEFAULT '',
	last_error        TEXT    NOT NULL DEFAULT '',
	last_error_at     INTEGER NOT NULL DEFAULT 0,
	last_connected_at INTEGER NOT NULL DEFAULT 0,
	last_message_at   INTEGER NOT NULL DEFAULT 0,
	status_at         INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX imap_sources_owner ON imap_sources (owner_id, source_id);
