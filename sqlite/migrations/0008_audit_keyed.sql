-- The audit chain becomes keyed: every new row's hash is an HMAC-SHA256 with
-- the relay's audit key (derived from the data directory's secret key, never
-- stored here). chain says which hash a row carries: 0 the unkeyed SHA-256 of
-- older rows, 1 the keyed one.
ALTER TABLE audit ADD COLUMN chain INTEGER NOT NULL DEFAULT 0;

-- The rows written before this migration, sealed once with the audit key in
-- this migration's transaction (sqlite/audit.go, sealLegacyAudit): the highest
-- seq among them and each owner's last one (seq and hash). An unkeyed row above
-- max_seq, a legacy head that changed or went missing, or a missing or wrong
-- mac fails verification. One row.
CREATE TABLE audit_legacy (
	id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	max_seq INTEGER NOT NULL,
	heads   TEXT    NOT NULL, -- JSON object: owner id -> {"seq","hash"}
	mac     TEXT    NOT NULL
) STRICT;

-- Written once; like the audit rows, never changed through the store.
CREATE TRIGGER audit_legacy_no_update BEFORE UPDATE ON audit_legacy
BEGIN
	SELECT RAISE(ABORT, 'audit_legacy is written once');
END;

CREATE TRIGGER audit_legacy_no_delete BEFORE DELETE ON audit_legacy
BEGIN
	SELECT RAISE(ABORT, 'audit_legacy is written once');
END;
