-- 0012_signing_keys: owners' public keys for signed approvals. Only the
-- public half is here; the owner keeps the private key (agentotp owner
-- keygen writes it to a file on the owner's machine).

CREATE TABLE signing_keys (
	id         TEXT    PRIMARY KEY,
	owner_id   TEXT    NOT NULL REFERENCES owners (id),
	method     TEXT    NOT NULL,
	key_id     TEXT    NOT NULL,
	public_key BLOB    NOT NULL,
	name       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0,
	UNIQUE (owner_id, key_id)
) STRICT;
