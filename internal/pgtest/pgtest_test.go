package pgtest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestURL: each call gives an empty database of its own, which is gone
// once the test that asked for it has ended.
func TestURL(t *testing.T) {
	admin := AdminURL(t)
	var names []string
	t.Run("fresh", func(t *testing.T) {
		for range 2 {
			u := URL(t)
			conn, err := pgx.Connect(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			var name string
			var tables int
			if err := conn.QueryRow(t.Context(), `SELECT current_database(),
				(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')`).Scan(&name, &tables); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(name, dbPrefix) || tables != 0 {
				t.Errorf("database %q with %d tables, want a fresh %s* one", name, tables, dbPrefix)
			}
			if _, err := conn.Exec(t.Context(), `CREATE TABLE t (x int)`); err != nil {
				t.Fatal(err)
			}
			// Left open on purpose: the cleanup drops it WITH (FORCE).
			t.Cleanup(func() { conn.Close(context.Background()) })
			names = append(names, name)
		}
		if names[0] == names[1] {
			t.Errorf("two calls gave one database %q", names[0])
		}
	})
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, n := range names {
		var left int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, n).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("database %s still exists after its test ended", n)
		}
	}
}

// TestUnavailable: without the variable a test skips, and under CI=true it
// fails; an unreachable server is treated the same way.
func TestUnavailable(t *testing.T) {
	tests := []struct {
		name, url, ci string
		wantSkip      bool
	}{
		{"unset", "", "", true},
		{"unset under CI", "", "true", false},
		{"unreachable", "postgres://x:y@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "", true},
		{"unreachable under CI", "postgres://x:y@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "true", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvURL, tc.url)
			t.Setenv("CI", tc.ci)
			r := &recorder{}
			done := make(chan struct{})
			go func() { // Skip and Fatal end the goroutine, as they end a test
				defer close(done)
				AdminURL(r)
			}()
			<-done
			if r.skipped != tc.wantSkip || r.failed == tc.wantSkip {
				t.Errorf("skipped %v failed %v, want skipped %v: %s", r.skipped, r.failed, tc.wantSkip, r.msg)
			}
			if !strings.Contains(r.msg, EnvURL) && !strings.Contains(r.msg, "does not answer") {
				t.Errorf("message %q says neither what to set nor what failed", r.msg)
			}
			if strings.Contains(r.msg, ":y@") {
				t.Errorf("message %q shows the password", r.msg)
			}
		})
	}
}

// recorder is a testing.TB that records Skip and Fatal.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
