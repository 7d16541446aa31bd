package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentotp/agentotp/sqlite"
)

// newSQLiteDB makes a relay's SQLite database, as the sqlite store of
// this build creates it, and returns its path once closed.
func newSQLiteDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agentotp.db")
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// editSQLite runs statements on the SQLite file at path.
func editSQLite(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteFileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestImportPlanCoversTheSQLiteSchema: the migrations SQLiteSchema names
// are exactly those the sqlite store applies, every table of its schema is
// either copied or named as left out, and every column ImportSQLite reads
// in order exists. A new SQLite migration fails here until the import
// knows what to do with it.
func TestImportPlanCoversTheSQLiteSchema(t *testing.T) {
	ctx := context.Background()
	path := newSQLiteDB(t)
	src, err := openSQLiteSource(ctx, path)
	if err != nil {
		t.Fatalf("a database the sqlite store made is refused: %v", err)
	}
	defer src.Close()
	tables, err := src.tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, it := range importPlan {
		planned = append(planned, it.name)
		cols, err := src.columns(ctx, it.name)
		if err != nil || len(cols) == 0 {
			t.Errorf("planned table %s is not in the SQLite schema (%v)", it.name, err)
			continue
		}
		for _, term := range strings.Split(it.order, ",") {
			if c := strings.TrimSpace(term); !slices.Contains(cols, c) {
				t.Errorf("%s is read in order of %s, which it lacks", it.name, c)
			}
		}
		if (it.keep == "") != (it.skip == "") {
			t.Errorf("%s: a kept subset needs the reason for the rest, and only then", it.name)
		}
		if _, err := src.count(ctx, it.name, it.keep, int64(1)); it.keep != "" && err != nil {
			t.Errorf("%s: its condition does not run: %v", it.name, err)
		}
	}
	for _, name := range tables {
		_, left := importNotCopied[name]
		if !slices.Contains(planned, name) && !left {
			t.Errorf("the SQLite table %s is neither copied nor named as left out", name)
		}
	}
	for name := range importNotCopied {
		if !slices.Contains(tables, name) {
			t.Errorf("%s is named as left out but is no SQLite table", name)
		}
	}
	var applied []string
	err = src.each(ctx, "schema_migrations", []string{"version"}, "", "version", nil, func(v []any) error {
		s, err := sqliteText(v[0])
		applied = append(applied, s)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, SQLiteSchema) {
		t.Errorf("the sqlite store applies %v; SQLiteSchema lists %v", applied, SQLiteSchema)
	}
}

// TestOpenSQLiteSourceRefuses: what is not a relay's SQLite database at
// this build's schema is refused with an error that says what it is, and
// the file is left as it was.
func TestOpenSQLiteSourceRefuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		make func(t *testing.T) string
		want string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.db") }, "does not exist"},
		{"directory", func(t *testing.T) string { return t.TempDir() }, "is a directory"},
		{"not SQLite", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "agentotp.db")
			if err := os.WriteFile(p, []byte("owner token, not a database\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is not a SQLite database file"},
		{"empty file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "agentotp.db")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is not a SQLite database file"},
		{"another program's", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "other.db")
			editSQLite(t, p, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`)
			return p
		}, "is not an agentotp relay's database"},
		{"newer", func(t *testing.T) string {
			p := newSQLiteDB(t)
			editSQLite(t, p, `INSERT INTO schema_migrations (version, applied_at) VALUES ('0099_future', 1)`)
			return p
		}, "written by a newer agentotp"},
		{"older", func(t *testing.T) string {
			p := newSQLiteDB(t)
			editSQLite(t, p, `DELETE FROM schema_migrations WHERE version = '0012_signing_keys'`)
			return p
		}, "lacks SQLite migrations 0012_signing_keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.make(t)
			before, _ := os.ReadFile(p)
			src, err := openSQLiteSource(ctx, p)
			if err == nil {
				src.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
			after, _ := os.ReadFile(p)
			if !bytes.Equal(before, after) {
				t.Error("the file changed")
			}
		})
	}
}

// TestSQLiteSourceIsReadOnly: reading a database for import writes
// nothing, neither to it nor beside it.
func TestSQLiteSourceIsReadOnly(t *testing.T) {
	ctx := context.Background()
	path := newSQLiteDB(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		entries, _ := os.ReadDir(filepath.Dir(path))
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	files := names()
	src, err := openSQLiteSource(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.tx.ExecContext(ctx, `INSERT INTO owners (id, name, created_at) VALUES ('own_x', 'x', 1)`); err == nil {
		t.Error("the import's connection could write")
	}
	if _, err := src.audit(ctx, make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	src.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the database file changed")
	}
	if now := names(); !slices.Equal(now, files) {
		t.Errorf("the directory held %v, now %v", files, now)
	}
}

// TestSQLiteSourceReadsTheLog: the database of a relay that was killed
// keeps committed transactions in its write-ahead log; the import reads
// them.
func TestSQLiteSourceReadsTheLog(t *testing.T) {
	ctx := context.Background()
	path := newSQLiteDB(t)
	db, err := sql.Open("sqlite", sqliteFileURI(path)+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `INSERT INTO owners (id, name, created_at) VALUES ('own_killed', 'k', 1)`); err != nil {
		t.Fatal(err)
	}
	// A copy of the files as the connection holds them: a relay killed now.
	crashed := filepath.Join(t.TempDir(), "agentotp.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if suffix == "-wal" && len(b) == 0 {
			t.Fatal("the write-ahead log is empty: nothing to test")
		}
		if err := os.WriteFile(crashed+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src, err := openSQLiteSource(ctx, crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if n, err := src.count(ctx, "owners", "id = 'own_killed'"); err != nil || n != 1 {
		t.Errorf("the owner committed to the log: %d rows, %v", n, err)
	}
}
