package postgres

// What ImportSQLite copies of a SQLite relay database, table by table, in
// an order that meets every foreign key, and what it leaves behind.

// importTable is one table that ImportSQLite copies. The table and its
// columns have the same names in both schemas.
type importTable struct {
	name  string // the table
	note  string // what its rows hold, for the report ("" when the name says it)
	order string // the SQLite ORDER BY that reads it (keys first)
	// keep is the SQLite condition of the rows copied ("" for all), with
	// the import's time (unix microseconds) as its one parameter ?1; skip
	// says why the other rows are left behind.
	keep, skip string
}

// importPlan is every table copied, parents before children.
var importPlan = []importTable{
	{name: "owners", order: "created_at, id"},
	{name: "agents", note: "key prefixes, sealed webhook secrets, webhook URLs", order: "created_at, id"},
	{name: "sources", order: "created_at, id"},
	{name: "credentials", note: "hashes of owner tokens, API keys and source tokens", order: "created_at, hash"},
	{name: "agent_prev_webhook_secrets", note: "sealed webhook secrets in their grace period", order: "agent_id"},
	{name: "owner_settings", note: "time zones", order: "owner_id"},
	{name: "owner_passwords", note: "argon2id hashes of dashboard passwords", order: "owner_id"},
	{name: "policies", order: "owner_id, position, id"},
	{name: "signing_keys", note: "public halves of owners' approval keys", order: "created_at, id"},
	{name: "source_keys", note: "sealed source tokens for signed webhooks", order: "source_id"},
	{name: "imap_sources", note: "IMAP settings (sealed passwords) and cursors", order: "source_id"},
	{name: "telegram_links", order: "owner_id"},
	{name: "telegram_link_codes", note: "hashes", order: "owner_id",
		keep: "expires_at > ?1", skip: "expired: no longer accepted"},
	{name: "requests", note: "live ones with their ciphertext", order: "created_at, id"},
	{name: "telegram_prompts", note: "hashes of approval prompts' tokens", order: "created_at, token_hash"},
	{name: "enrollments", note: "hashes of their codes", order: "created_at, id"},
	{name: "enrollment_prompts", note: "hashes of enrollment prompts' tokens", order: "created_at, token_hash"},
	{name: "messages_seen", note: "ids of messages fed, so a retry feeds nothing twice", order: "source_id, external_id"},
	{name: "audit", note: "the chain row for row: seqs and hashes unchanged", order: "seq"},
	{name: "audit_legacy", note: "the seal of audit rows older than the keyed chain", order: "id"},
	{name: "webhook_outbox", note: "deliveries, pending and done", order: "seq"},
	{name: "webhook_gone", note: "URLs that answered 410 Gone", order: "agent_id, url"},
	{name: "dashboard_sessions", note: "hashes", order: "created_at, hash",
		keep: "expires_at > ?1", skip: "expired: no longer accepted"},
	{name: "login_links", note: "hashes", order: "created_at, hash",
		keep: "expires_at > ?1 AND used_at = 0", skip: "expired or used: no longer accepted"},
}

// importNotCopied are the SQLite tables ImportSQLite leaves out, and why.
var importNotCopied = map[string]string{
	"schema_migrations": "the target has its own migrations",
}
