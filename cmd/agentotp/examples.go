package main

// examples are the Examples sections of the commands' help, by command
// path; a command that sets its own Example keeps it. Every command has
// one (TestEveryCommandHasExamples walks the tree).
var examples = map[string]string{
	"agentotp": `  agentotp serve                                   # run the relay on 127.0.0.1:8787
  agentotp agents create --name my-agent           # an agent and its API key
  AGENTOTP_API_KEY=ak_live_… agentotp request --reason "Sign up for Acme"
  agentotp version`,
	"agentotp serve": `  agentotp serve
  agentotp serve --addr 0.0.0.0:8787 --public-url https://otp.example.com --data /var/lib/agentotp
  agentotp serve --telegram-token "$BOT_TOKEN" --smtp-addr 127.0.0.1:2525 --log-format json`,
	"agentotp agents":        "  agentotp agents create --name my-agent\n  agentotp agents list",
	"agentotp agents create": "  agentotp agents create --name my-agent\n  agentotp agents create --name ci-bot --test --json",
	"agentotp agents list":   "  agentotp agents list\n  agentotp agents list --json --server http://127.0.0.1:8787",
	"agentotp agents rotate": "  agentotp agents rotate agt_… \n  agentotp agents rotate agt_… --grace 1h --json",
	"agentotp agents revoke": "  agentotp agents revoke agt_…",
	"agentotp sources":       "  agentotp sources create --name phone --kind sms\n  agentotp sources list",
	"agentotp sources create": `  agentotp sources create --name phone --kind sms
  printf '%s\n' "$APP_PASSWORD" | agentotp sources create --name inbox --kind email \
      --imap-host imap.gmail.com --imap-user me@gmail.com --imap-password-stdin`,
	"agentotp sources list":       "  agentotp sources list\n  agentotp sources list --json",
	"agentotp sources revoke":     "  agentotp sources revoke src_…",
	"agentotp requests":           "  agentotp requests list --status pending_approval",
	"agentotp requests list":      "  agentotp requests list\n  agentotp requests list --status pending_approval --agent agt_… --json",
	"agentotp approve":            "  agentotp approve otp_…\n  agentotp approve otp_… --sign-key ~/.config/agentotp/owner.pem",
	"agentotp deny":               "  agentotp deny otp_… --reason \"not now\"",
	"agentotp audit":              "  agentotp audit verify\n  agentotp audit export --format csv -o audit.csv",
	"agentotp audit verify":       "  agentotp audit verify\n  agentotp audit verify --json\n  agentotp audit verify --head audit-head.txt",
	"agentotp audit head":         "  agentotp audit head > audit-head.txt\n  agentotp audit head --json",
	"agentotp owner token":        "  agentotp owner token rotate\n  agentotp owner token revoke --json",
	"agentotp owner token rotate": "  agentotp owner token rotate\n  agentotp owner token rotate --json",
	"agentotp owner token revoke": "  agentotp owner token revoke   # every owner token stops working; prints the one new token",
	"agentotp audit export":       "  agentotp audit export > audit.jsonl\n  agentotp audit export --format csv -o audit.csv",
	"agentotp ingest": `  echo "Your ACME code is 604918" | agentotp ingest --source sms --sender ACME --source-token sk_…
  agentotp ingest --source email --source-token sk_… < message.eml`,
	"agentotp capture": `  agentotp capture --server https://relay.example --token sk_… --trust owner-trust.json --stdin --source email < message.eml
  agentotp capture --server https://relay.example --token sk_… --permissive --smtp-addr 127.0.0.1:2526
  AGENTOTP_IMAP_PASSWORD=… agentotp capture --server https://relay.example --token sk_… \
      --imap imap.gmail.com --imap-user me@gmail.com`,
	"agentotp keygen": "  agentotp keygen --out agent.pem               # x25519; prints the public key\n  agentotp keygen --alg rsa --out agent-rsa.pem --force",
	"agentotp bench": `  agentotp bench                                    # its own relay process: lifecycles/s, latencies, floors, waiters
  agentotp bench --clients 64 --duration 10s --json > bench.json
  agentotp bench --server 127.0.0.1:8787 --token ok_…   # load a relay already running on this machine
  agentotp bench --clients 64 --live=-1 --waiters 0 --database 'postgres://agentotp:…@127.0.0.1/postgres' --relays 1,2,3   # serve relays: SQLite beside 1, 2, 3 on PostgreSQL`,
	"agentotp extract": `  echo "Your ACME code is 604918" | agentotp extract --source sms
  agentotp extract < message.eml
  agentotp extract --batch < cases.jsonl`,
	"agentotp request": `  export AGENTOTP_API_KEY=ak_live_…
  agentotp request --reason "Sign up for Acme" --sender-pattern "*@acme.com" --source email
  code=$(agentotp request --reason "Log in to the bank" --source sms --ttl 10m --quiet)
  agentotp request --server 127.0.0.1:8787 --reason "Test" --key agent.pem`,
	"agentotp decrypt": `  curl -s -X POST -H "Authorization: Bearer $AGENTOTP_API_KEY" \
      http://127.0.0.1:8787/v1/otp/otp_…/consume | agentotp decrypt --key agent.pem
  echo "$ENCRYPTED_PAYLOAD" | agentotp decrypt --key agent.pem --id otp_…`,
	"agentotp owner":                 "  agentotp owner passwd\n  agentotp owner login-link\n  agentotp owner telegram-link",
	"agentotp owner passwd":          "  agentotp owner passwd                          # asks twice on a terminal\n  printf '%s\\n' \"$PASSWORD\" | agentotp owner passwd",
	"agentotp owner login-link":      "  agentotp owner login-link",
	"agentotp owner telegram":        "  agentotp owner telegram\n  agentotp owner telegram --json",
	"agentotp owner telegram-link":   "  agentotp owner telegram-link                   # then send /link CODE to the bot",
	"agentotp owner telegram-unlink": "  agentotp owner telegram-unlink",
	"agentotp owner timezone":        "  agentotp owner timezone\n  agentotp owner timezone Europe/Berlin",
	"agentotp policies":              "  agentotp policies list\n  agentotp policies create --name acme --action auto_approve --sender-pattern '*@acme.com'",
	"agentotp policies list":         "  agentotp policies list\n  agentotp policies list --json",
	"agentotp policies create": `  agentotp policies create --name acme --action auto_approve --sender-pattern '*@acme.com' --max-per-hour 5
  agentotp policies create --name nights --action deny --hours 22:00-07:00`,
	"agentotp policies update":        "  agentotp policies update pol_… --enabled=false\n  agentotp policies update pol_… --max-per-hour 10",
	"agentotp policies move":          "  agentotp policies move pol_… 1",
	"agentotp policies delete":        "  agentotp policies delete pol_…",
	"agentotp webhooks":               "  agentotp webhooks set-url agt_… https://agent.example/hook\n  agentotp webhooks list --state failed",
	"agentotp webhooks show":          "  agentotp webhooks show agt_…",
	"agentotp webhooks set-url":       "  agentotp webhooks set-url agt_… https://agent.example/hook\n  agentotp webhooks set-url agt_… \"\"       # remove it",
	"agentotp webhooks rotate-secret": "  agentotp webhooks rotate-secret agt_…",
	"agentotp webhooks list":          "  agentotp webhooks list\n  agentotp webhooks list --state failed --agent agt_…",
	"agentotp webhooks retry":         "  agentotp webhooks retry whk_…",
	"agentotp mcp": `  AGENTOTP_API_KEY=ak_live_… agentotp mcp                  # stdio, as MCP clients launch it
  agentotp mcp --http 127.0.0.1:8788 --api-key ak_live_…`,
	"agentotp version": "  agentotp version\n  agentotp version --json\n  agentotp --version",
	"agentotp completion": `  source <(agentotp completion bash)
  agentotp completion zsh > "${fpath[1]}/_agentotp"
  agentotp completion fish > ~/.config/fish/completions/agentotp.fish`,
	"agentotp completion bash":       "  source <(agentotp completion bash)",
	"agentotp completion zsh":        "  agentotp completion zsh > \"${fpath[1]}/_agentotp\"",
	"agentotp completion fish":       "  agentotp completion fish > ~/.config/fish/completions/agentotp.fish",
	"agentotp completion powershell": "  agentotp completion powershell | Out-String | Invoke-Expression",
	"agentotp help":                  "  agentotp help request\n  agentotp help policies create",
}
