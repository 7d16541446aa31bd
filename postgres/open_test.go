package postgres

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"

	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/agentotp/agentotp/secretbox"
)

// testBox returns a secret box with a random key.
func testBox(t testing.TB) *secretbox.Box {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// openStore opens a store on url with box, closed at the end of t.
func openStore(t testing.TB, url string, box *secretbox.Box) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, nil, WithSecretBox(box))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestOpenMigratesOnce: stores opened at the same time on one empty
// database apply each migration exactly once, and each has an instance
// name of its own.
func TestOpenMigratesOnce(t *testing.T) {
	url := pgtest.URL(t)
	box := testBox(t)
	const n = 3
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), url, nil, WithSecretBox(box)) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
		if seen[stores[i].Instance()] || stores[i].Instance() == "" {
			t.Errorf("instance %q not unique", stores[i].Instance())
		}
		seen[stores[i].Instance()] = true
	}
	versions, _, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var rows, distinct int
	if err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != len(versions) || distinct != len(versions) {
		t.Errorf("schema_migrations has %d rows (%d versions), want %d", rows, distinct, len(versions))
	}
	// Opening again applies nothing.
	again := openStore(t, url, box)
	if err := again.pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(versions) {
		t.Errorf("after a second open schema_migrations has %d rows, want %d", rows, len(versions))
	}
}

// TestOpenRefuses: a bad URL or a missing key is a clear error that does
// not show the password.
func TestOpenRefuses(t *testing.T) {
	t.Setenv(secretbox.EnvKey, "")
	tests := []struct {
		name, url string
		opts      []Option
		want      string
	}{
		{"no box", "postgres://u:sekrit@127.0.0.1:1/db", nil, secretbox.EnvKey},
		{"bad url", "postgres://u:sekrit@[::1/db", []Option{WithSecretBox(testBox(t))}, "does not parse"},
		{"no server", "postgres://u:sekrit@127.0.0.1:1/db?connect_timeout=2", []Option{WithSecretBox(testBox(t))}, "postgres: open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.url, nil, tc.opts...)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "sekrit") {
				t.Errorf("error %q: want it to mention %q and not the password", err, tc.want)
			}
		})
	}
}
