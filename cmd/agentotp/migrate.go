package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/postgres"
	"github.com/agentotp/agentotp/secretbox"
)

// migrateOptions are the flags of `agentotp migrate`.
type migrateOptions struct {
	from, to string
}

// newMigrateCmd is `agentotp migrate --from sqlite:DIR --to postgres://…`:
// one stopped relay's SQLite database copied into a new PostgreSQL
// database, in one transaction, then checked there.
func newMigrateCmd(a *app) *cobra.Command {
	var o migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Copy a stopped relay's SQLite data into a new PostgreSQL database, and verify it there",
		Long: `Copy a stopped relay's SQLite data into a new PostgreSQL database, and verify it there.

Everything the relay keeps is copied in one PostgreSQL transaction: owners,
credentials (hashes only), agents, sources (sealed secrets as they are),
policies, settings, webhooks and the outbox, the audit chain row for row,
signing keys, IMAP settings and cursors, Telegram links, enrollments,
dashboard passwords, and live requests with their ciphertext. Expired
sessions, log-in links and Telegram link codes are left out. The target must
be empty; the source relay must be stopped (its data directory is locked
while the copy runs). Afterwards the row counts and every owner's audit
chain are checked on the target.

The PostgreSQL relays must then use the same secret key as this data
directory (its secret.key, or AGENTOTP_SECRET_KEY): the sealed secrets and the
audit chain's key depend on it.`,
		Example: `  agentotp migrate --from sqlite:agentotp-data --to 'postgres://agentotp:PASSWORD@db.internal:5432/agentotp'
  agentotp migrate --from sqlite:/var/lib/agentotp/agentotp.db --to "$DATABASE_URL" --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.migrate(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.from, "from", "", "the SQLite data: sqlite:DIR (a relay's data directory) or sqlite:FILE (its database file)")
	cmd.Flags().StringVar(&o.to, "to", "", "the PostgreSQL database to fill: postgres://USER:PASSWORD@HOST:PORT/DB (it must be empty)")
	cmd.Flags().BoolVar(&a.jsonOut, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// migrateSource is where migrate reads: the data directory (its lock and
// secret key) and the database file in it.
type migrateSource struct {
	dataDir, dbPath string
}

// parseMigrateFrom reads --from: sqlite:DIR or sqlite:FILE (the scheme may
// be left out). A path that does not exist, or a directory without a
// database, is refused; only a malformed value is a usage error.
func parseMigrateFrom(v string) (migrateSource, error) {
	rest := v
	if r, ok := strings.CutPrefix(v, "sqlite:"); ok {
		rest = strings.TrimPrefix(r, "//")
	} else if scheme, _, ok := strings.Cut(v, "://"); ok {
		return migrateSource{}, usage(fmt.Errorf("--from: want sqlite:DIR or sqlite:FILE, not a %s:// URL", scheme))
	}
	if rest == "" {
		return migrateSource{}, usage(errors.New("--from: want sqlite:DIR (a relay's data directory) or sqlite:FILE (its database file)"))
	}
	fi, err := os.Stat(rest)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return migrateSource{}, fmt.Errorf("--from %s: no such data directory or database file", rest)
	case err != nil:
		return migrateSource{}, fmt.Errorf("--from %s: %w", rest, err)
	case fi.IsDir():
		db := filepath.Join(rest, "agentotp.db")
		if _, err := os.Stat(db); err != nil {
			return migrateSource{}, fmt.Errorf("--from %s: not a relay's data directory: it holds no agentotp.db", rest)
		}
		return migrateSource{dataDir: rest, dbPath: db}, nil
	}
	return migrateSource{dataDir: filepath.Dir(rest), dbPath: rest}, nil
}

// parseMigrateTo reads --to: a postgres:// or postgresql:// URL.
func parseMigrateTo(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return usage(fmt.Errorf("--to: not a URL: %w", migrateRedactErr(err, v)))
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return usage(fmt.Errorf("--to: want a postgres:// URL, not %q", migrateRedactURL(v)))
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return usage(fmt.Errorf("--to %s: the URL names no host", migrateRedactURL(v)))
	}
	return nil
}

// migrateRedactURL is the database URL with its password, in the user
// part or in a password or sslpassword parameter, replaced by xxxxx.
func migrateRedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			q.Set(k, migrateMask)
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// migrateURLPasswords returns the passwords a database URL carries, each as it
// is and in every escaped form a URL or a message may spell it.
func migrateURLPasswords(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var pws []string
	if p, ok := u.User.Password(); ok {
		pws = append(pws, p)
	}
	for k, vs := range u.Query() {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			pws = append(pws, vs...)
		}
	}
	var out []string
	for _, p := range pws {
		if p != "" {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p), strings.TrimPrefix(url.UserPassword("", p).String(), ":"))
		}
	}
	return out
}

// migrateRedactErr is err with every form of the password of the database URL
// raw replaced by xxxxx (nil stays nil); what it wraps is kept.
func migrateRedactErr(err error, raw string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, p := range migrateURLPasswords(raw) {
		if p == "" || strings.Contains(migrateMask, p) {
			continue
		}
		// Again while the mask and its neighbours spell the password
		// anew; each round takes one of its other characters away.
		for i := 0; i < 64 && strings.Contains(clean, p); i++ {
			clean = strings.ReplaceAll(clean, p, migrateMask)
		}
	}
	if clean == msg {
		return err
	}
	return &migrateRedactedError{msg: clean, err: err}
}

// migrateMask stands for a password taken out of a message, as
// url.URL.Redacted writes it.
const migrateMask = "xxxxx"

// migrateRedactedError is an error whose message had a password taken out.
type migrateRedactedError struct {
	msg string
	err error
}

func (e *migrateRedactedError) Error() string { return e.msg }
func (e *migrateRedactedError) Unwrap() error { return e.err }

// migrateKey loads the source's secret key: AGENTOTP_SECRET_KEY, else the
// data directory's secret.key, which must exist (it is never created
// here: a new key would open none of the source's sealed secrets).
func migrateKey(dataDir string) (*secretbox.Box, error) {
	if strings.TrimSpace(os.Getenv(secretbox.EnvKey)) == "" {
		if _, err := os.Stat(filepath.Join(dataDir, secretbox.KeyFile)); err != nil {
			return nil, fmt.Errorf("no secret key: %s holds no %s and %s is not set; migrate needs the key the relay ran with",
				dataDir, secretbox.KeyFile, secretbox.EnvKey)
		}
	}
	return loadSecretBox(dataDir) // webhooks.go
}

// migrate runs `agentotp migrate`.
func (a *app) migrate(ctx context.Context, o migrateOptions) error {
	if err := parseMigrateTo(o.to); err != nil {
		return err
	}
	src, err := parseMigrateFrom(o.from)
	if err != nil {
		return err
	}
	err = a.migrateRun(ctx, src, o.to)
	return migrateRedactErr(err, o.to)
}

// migrateRun copies src into the PostgreSQL database at to and prints the
// report.
func (a *app) migrateRun(ctx context.Context, src migrateSource, to string) error {
	target := migrateRedactURL(to)
	unlock, err := lockDataDir(src.dataDir) // datadir_lock.go: the relay must be stopped
	if err != nil {
		return fmt.Errorf("the source relay must be stopped before it is migrated: %w", err)
	}
	defer unlock()
	// The source is checked before the key is looked for and the target
	// is opened, so that a wrong --from is named as such.
	if err := postgres.CheckSQLite(ctx, src.dbPath); err != nil {
		return err
	}
	box, err := migrateKey(src.dataDir)
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	store, err := postgres.Open(ctx, to, log, postgres.WithSecretBox(box))
	if err != nil {
		return fmt.Errorf("open the target %s: %w", target, err)
	}
	defer store.Close()
	rep, err := store.ImportSQLite(ctx, src.dbPath)
	if err != nil {
		return fmt.Errorf("migrate sqlite:%s to %s: %w", src.dbPath, target, err)
	}
	if a.jsonOut {
		return printJSON(a.stdout, struct {
			From string `json:"from"`
			To   string `json:"to"`
			*postgres.ImportReport
		}{"sqlite:" + src.dbPath, target, rep})
	}
	a.printMigrateReport(src, target, rep)
	return nil
}

// printMigrateReport prints what migrate copied and checked, and what the
// PostgreSQL relays need next.
func (a *app) printMigrateReport(src migrateSource, target string, rep *postgres.ImportReport) {
	w := a.stdout
	fmt.Fprintf(w, "copied sqlite:%s (schema %s) into %s, in one transaction:\n", src.dbPath, rep.SchemaVersion, target)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range rep.Tables {
		note := t.Note
		if t.Skipped > 0 {
			note = strings.TrimPrefix(note+fmt.Sprintf("; %d left out: %s", t.Skipped, t.SkipReason), "; ")
		}
		if note == "" {
			fmt.Fprintf(tw, "  %s\t%d\n", t.Table, t.Copied)
		} else {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", t.Table, t.Copied, note)
		}
	}
	tw.Flush()
	for _, t := range rep.NotCopied {
		fmt.Fprintf(w, "not copied: %s, %d rows (%s)\n", t.Table, t.Rows, t.Reason)
	}
	fmt.Fprintf(w, "verified on the target: every table's row count matches; the audit chain of each of %d owner(s) verifies (%d entries)\n",
		rep.Owners, rep.AuditEntries)
	keyFile := filepath.Join(src.dataDir, secretbox.KeyFile)
	key := "copy " + keyFile + " into each relay's --data directory (or set " + secretbox.EnvKey + " to its contents)"
	if strings.TrimSpace(os.Getenv(secretbox.EnvKey)) != "" {
		key = "set " + secretbox.EnvKey + " to the key this migration was given"
	}
	fmt.Fprintf(w, `
next:
  - every PostgreSQL relay must run with this relay's secret key:
    %s;
    the sealed secrets (webhook secrets, source tokens, IMAP passwords) and
    the audit chain's key depend on it
  - the owner token, the agents' API keys and the source tokens work unchanged;
    copy %s into each relay's --data directory too (a relay without
    it mints another owner token)
  - start the relays with --database set to %s;
    keep %s, stopped, as a backup
`, key, filepath.Join(src.dataDir, "owner.token"), target, src.dataDir)
}
