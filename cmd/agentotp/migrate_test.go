package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/agentotp/agentotp/postgres"
	"github.com/agentotp/agentotp/secretbox"
)

// TestMigrateUsage: a migrate command line that cannot run exits 2 and
// says why, before anything is opened.
func TestMigrateUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no flags", []string{"migrate"}, "required flag"},
		{"no target", []string{"migrate", "--from", "sqlite:" + dir}, `"to" not set`},
		{"no source", []string{"migrate", "--to", "postgres://u@127.0.0.1/db"}, `"from" not set`},
		{"target not PostgreSQL", []string{"migrate", "--from", "sqlite:" + dir, "--to", "mysql://u:hunter2@127.0.0.1/db"}, "want a postgres:// URL"},
		{"target without a host", []string{"migrate", "--from", "sqlite:" + dir, "--to", "postgres:///db"}, "names no host"},
		{"source a URL", []string{"migrate", "--from", "postgres://u@127.0.0.1/db", "--to", "postgres://u@127.0.0.1/db"}, "want sqlite:DIR"},
		{"source empty", []string{"migrate", "--from", "sqlite:", "--to", "postgres://u@127.0.0.1/db"}, "want sqlite:DIR"},
		{"arguments", []string{"migrate", "extra", "--from", "sqlite:" + dir, "--to", "postgres://u@127.0.0.1/db"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := agentotp(t, "", nil, tt.args...)
			if res.code != exitUsage || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", res.code, res.stderr, tt.want)
			}
			if strings.Contains(res.stderr, "hunter2") {
				t.Errorf("the password is in the message: %q", res.stderr)
			}
		})
	}
}

// migrateWithPassword returns the database URL u with its password replaced.
func migrateWithPassword(t *testing.T, u, password string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.User = url.UserPassword(p.User.Username(), password)
	return p.String()
}

// TestMigrate runs the real command on a real relay's data directory into
// a real PostgreSQL database: refused while the relay runs, then copied
// and verified with a report of counts that never shows the password; a
// second run into the same database is refused; sources that are not a
// relay's data directory are refused clearly.
func TestMigrate(t *testing.T) {
	target := pgtest.URL(t)
	u, _ := url.Parse(target)
	password, _ := u.User.Password()
	if password == "" {
		t.Fatal("the test database URL has no password: the redaction would go unchecked")
	}
	noPassword := func(t *testing.T, res result) {
		t.Helper()
		if strings.Contains(res.stdout+res.stderr, ":"+password+"@") {
			t.Errorf("the password is in the output:\n%s%s", res.stdout, res.stderr)
		}
	}

	r := startRelay(t)
	agentID, key := r.newAgent(t)
	mustJSON(t, r.owner(t, "sources", "create", "--name", "phone", "--kind", "sms", "--json"), &struct{}{})
	from := "sqlite:" + r.data

	// While the relay runs, its data directory is locked.
	res := agentotp(t, "", nil, "migrate", "--from", from, "--to", target)
	if res.code != exitError || !strings.Contains(res.stderr, "must be stopped") || !strings.Contains(res.stderr, "in use by process") {
		t.Fatalf("migrate of a running relay: %+v", res)
	}
	noPassword(t, res)
	r.stop(t)

	res = agentotp(t, "", nil, "migrate", "--from", from, "--to", target)
	if res.code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	t.Logf("migrate printed:\n%s", res.stdout)
	noPassword(t, res)
	for _, want := range []string{
		"copied sqlite:" + filepath.Join(r.data, "agentotp.db"),
		"in one transaction",
		"xxxxx@",
		"verified on the target",
		"copy " + filepath.Join(r.data, "secret.key") + " into each relay's --data directory",
		"copy " + filepath.Join(r.data, "owner.token") + " into each relay's --data directory too",
		"--database set to postgres://",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, line := range []string{`owners\s+1\n`, `agents\s+1\s`, `sources\s+1\n`, `credentials\s+3\s`, `requests\s+0\s`} {
		if !regexp.MustCompile(`(?m)^  ` + line).MatchString(res.stdout) {
			t.Errorf("the report lacks a line %q", line)
		}
	}
	if strings.Contains(res.stdout, key) {
		t.Error("the report holds the agent's API key")
	}
	_ = agentID

	// A second run finds the target filled.
	res = agentotp(t, "", nil, "migrate", "--from", from, "--to", target, "--json")
	if res.code != exitError || !strings.Contains(res.stderr, "not empty") {
		t.Fatalf("second migrate: %+v", res)
	}
	noPassword(t, res)

	// A wrong password: refused, the password never shown in any form.
	wrong := migrateWithPassword(t, target, "Wr0ng/pässword")
	res = agentotp(t, "", nil, "migrate", "--from", from, "--to", wrong)
	if res.code != exitError {
		t.Fatalf("wrong password: %+v", res)
	}
	for _, form := range []string{"Wr0ng/pässword", url.QueryEscape("Wr0ng/pässword"), strings.TrimPrefix(url.UserPassword("", "Wr0ng/pässword").String(), ":")} {
		if strings.Contains(res.stdout+res.stderr, form) {
			t.Errorf("the wrong password is in the message: %q", res.stderr)
		}
	}

	// A database that relays with another secret key use already.
	other := pgtest.URL(t)
	box, err := secretbox.New(bytes.Repeat([]byte{3}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := postgres.Open(context.Background(), other, nil, postgres.WithSecretBox(box))
	if err != nil {
		t.Fatal(err)
	}
	ps.Close()
	res = agentotp(t, "", nil, "migrate", "--from", from, "--to", other)
	if res.code != exitError || !strings.Contains(res.stderr, "another secret key") {
		t.Errorf("migrate into a database of another secret key: %+v", res)
	}

	// Sources that are not a relay's.
	empty := t.TempDir()
	notDB := filepath.Join(t.TempDir(), "agentotp.db")
	if err := os.WriteFile(notDB, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ from, want string }{
		{"sqlite:" + filepath.Join(empty, "missing"), "no such data directory or database file"},
		{"sqlite:" + empty, "not a relay's data directory"},
		{"sqlite:" + notDB, "not a SQLite database file"},
	} {
		res := agentotp(t, "", nil, "migrate", "--from", tt.from, "--to", pgtest.URL(t))
		if res.code != exitError || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("migrate --from %s: exit %d, %q; want 1 and %q", tt.from, res.code, res.stderr, tt.want)
		}
	}
}

// TestMigrateJSON: --json prints the report as JSON, and the database file
// path is accepted as well as the data directory.
func TestMigrateJSON(t *testing.T) {
	target := pgtest.URL(t)
	r := startRelay(t)
	r.newAgent(t)
	r.stop(t)
	res := agentotp(t, "", nil, "migrate", "--from", "sqlite:"+filepath.Join(r.data, "agentotp.db"), "--to", target, "--json")
	var rep struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Tables []struct {
			Table  string `json:"table"`
			Copied int64  `json:"copied"`
		} `json:"tables"`
		Owners       int   `json:"owners"`
		AuditEntries int64 `json:"audit_entries"`
	}
	mustJSON(t, res, &rep)
	copied := map[string]int64{}
	for _, tb := range rep.Tables {
		copied[tb.Table] = tb.Copied
	}
	if copied["owners"] != 1 || copied["agents"] != 1 || rep.Owners != 1 || rep.AuditEntries == 0 || !strings.Contains(rep.To, "xxxxx") {
		t.Errorf("report: %+v", rep)
	}
	if !json.Valid([]byte(res.stdout)) {
		t.Error("not one JSON document")
	}
}

// FuzzMigrateRedact: whatever the database URL, its password is in no message
// that went through migrateRedactErr, in any of the forms a URL spells it, and
// migrateRedactURL keeps none of it; neither panics.
func FuzzMigrateRedact(f *testing.F) {
	for _, s := range []string{
		"postgres://agentotp:agentotp@127.0.0.1:5432/db?sslmode=disable",
		"postgres://u:p%40ss@h/db?password=second",
		"postgresql://u:xb@h/db",
		"postgres://u@h/db?password=a%20b",
		"postgres://u@h/db?PASSWORD=one&password=two&sslpassword=three",
		"postgres://:@h",
		"not a url %zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		red := migrateRedactURL(raw)
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if ru, err := url.Parse(red); err == nil {
			if p, ok := ru.User.Password(); ok && p != migrateMask {
				t.Errorf("migrateRedactURL(%q) = %q keeps a password", raw, red)
			}
			for k, vs := range ru.Query() {
				for _, v := range vs {
					if (strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword")) && v != migrateMask {
						t.Errorf("migrateRedactURL(%q) = %q keeps the %s parameter", raw, red, k)
					}
				}
			}
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
		for _, p := range pws {
			if p == "" || strings.Contains(migrateMask, p) {
				continue
			}
			msg := migrateRedactErr(errors.New("connect "+raw+" as "+p+" ("+url.QueryEscape(p)+")"), raw).Error()
			if strings.Contains(msg, p) {
				t.Errorf("password %q left in %q", p, msg)
			}
		}
	})
}
