package postgres

// What ImportSQLite copies of a SQLite relay database, table by table, in
// an order that meets every foreign key, and what it leaves behind.

// importTable is one table that ImportSQLite copies. The table and its
// columns have the same names in both schemas.
type importTable struct {
	name  string // the table
	kind  string // what its rows are, for the report
	order string // the SQLite ORDER BY that reads it (keys first)
	// keep is the SQLite condition of the rows copied ("" for all), with
	// the import's time (unix microseconds) as its one parameter ?1; skip
	// says why the other rows are left behind.
	keep, skip string
}

// importPlan is every table copied, parents before children.
var importPlan = []importTable{
	{name: "owners", kind: "owners", order: "created_at, id"},
	{name: "agents", kind: "agents (key prefixes, sealed webhook secrets, webhook URLs)", order: "created_at, id"},
	{name: "sources", kind: "sources", order: "created_at, id"},
	{name: "credentials", kind: "credentials (hashes of owner tokens, API keys, source tokens)", order: "created_at, hash"},
	{name: "agent_prev_webhook_secrets", kind: "webhook secrets in their grace period (sealed)", order: "agent_id"},
	{name: "owner_settings", kind: "owner settings", order: "owner_id"},
	{name: "owner_passwords", kind: "dashboard passwords (argon2id hashes)", order: "owner_id"},
	{name: "policies", kind: "policies", order: "owner_id, position, id"},
	{name: "signing_keys", kind: "signing keys (public halves)", order: "created_at, id"},
	{name: "source_keys", kind: "source keys (sealed)", order: "source_id"},
	{name: "imap_sources", kind: "IMAP settings and cursors (sealed passwords)", order: "source_id"},
	{name: "telegram_links", kind: "Telegram links", order: "owner_id"},
	{name: "telegram_link_codes", kind: "Telegram link codes (hashes)", order: "owner_id",
		keep: "expires_at > ?1", skip: "expired: no longer accepted"},
	{name: "requests", kind: "requests (live ones with their ciphertext)", order: "created_at, id"},
	{name: "telegram_prompts", kind: "Telegram approval prompts (token hashes)", order: "created_at, token_hash"},
	{name: "enrollments", kind: "enrollments (code hashes)", order: "created_at, id"},
	{name: "enrollment_prompts", kind: "Telegram enrollment prompts (token hashes)", order: "created_at, token_hash"},
	{name: "messages_seen", kind: "seen message ids (retries of a message feed nothing twice)", order: "source_id, external_id"},
	{name: "audit", kind: "audit entries", order: "seq"},
	{name: "audit_legacy", kind: "seal of the audit rows older than the keyed chain", order: "id"},
	{name: "webhook_outbox", kind: "webhook deliveries (the outbox)", order: "seq"},
	{name: "webhook_gone", kind: "webhook URLs gone (410)", order: "agent_id, url"},
	{name: "dashboard_sessions", kind: "dashboard sessions (hashes)", order: "created_at, hash",
		keep: "expires_at > ?1", skip: "expired: no longer accepted"},
	{name: "login_links", kind: "dashboard log-in links (hashes)", order: "created_at, hash",
		keep: "expires_at > ?1 AND used_at = 0", skip: "expired or used: no longer accepted"},
}

// importNotCopied are the SQLite tables ImportSQLite leaves out, and why.
var importNotCopied = map[string]string{
	"schema_migrations": "the target has its own migrations",
}
