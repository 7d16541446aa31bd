-- 0005_capture: what the capture paths need beyond the core schema.
--
-- source_keys holds the token of a capture source sealed with the data
-- directory's secretbox key (never the token in the clear). The relay needs
-- the token itself for one thing only: the android-sms-gateway webhook is
-- signed with HMAC-SHA256 keyed by the source token, and an HMAC cannot be
-- checked against a hash of its key.

CREATE TABLE source_keys (
	source_id  TEXT    NOT NULL PRIMARY KEY REFERENCES sources (id),
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	sealed     BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
