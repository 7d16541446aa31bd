// Package pgtest gives each test a fresh PostgreSQL database of its own.
//
// The tests find the server through the environment variable EnvURL: the
// URL of a role that may CREATE DATABASE (the "admin URL"). Without it, or
// when the server does not answer, a test that needs PostgreSQL skips with
// a message saying so; under CI=true it fails instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that holds the admin URL.
const EnvURL = "AGENTOTP_TEST_POSTGRES"

// dbPrefix starts the name of every database URL creates.
const dbPrefix = "agentotp_test_"

// connectTimeout bounds each connection the package makes to the server.
const connectTimeout = 10 * time.Second

// AdminURL returns the admin URL from EnvURL after checking that the
// server answers on it. When EnvURL is unset or the server does not
// answer, it skips t, or fails it when CI=true.
func AdminURL(t testing.TB) string {
	t.Helper()
	admin := strings.TrimSpace(os.Getenv(EnvURL))
	if admin == "" {
		unavailable(t, EnvURL+" is not set (the URL of a PostgreSQL role that may CREATE DATABASE, e.g. postgres://agentotp:agentotp@127.0.0.1:5432/postgres?sslmode=disable; scripts/start-postgres starts one)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, fmt.Sprintf("PostgreSQL at %s does not answer: %v", redact(admin), err))
	}
	defer conn.Close(context.Background())
	if err := conn.Ping(ctx); err != nil {
		unavailable(t, fmt.Sprintf("PostgreSQL at %s does not answer: %v", redact(admin), err))
	}
	return admin
}

// URL creates a new, empty database named agentotp_test_<random> on the
// server of AdminURL and returns its URL. The database is dropped, with
// any connection still open to it, when t and its subtests end. It skips
// or fails t as AdminURL does.
func URL(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvURL, err)
	}
	var b [8]byte
	rand.Read(b[:])
	name := dbPrefix + hex.EncodeToString(b[:])

	if err := exec(admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE ends the test's own sessions, but not a backend of another
		// role that may be in the database for a moment (an autovacuum
		// worker): that drop fails, and the next one, a little later,
		// does not.
		var err error
		for range 20 {
			if err = exec(admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("pgtest: drop database %s: %v", name, err)
	})
	u.Path = "/" + name
	return u.String()
}

// exec runs one statement on a connection of its own to the admin URL.
func exec(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// unavailable skips t with why, or fails it when CI=true.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal("pgtest: PostgreSQL is required under CI=true: " + why)
	}
	t.Skip("pgtest: skipping, PostgreSQL is not available: " + why)
}

// redact is u with its password replaced, for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(the URL in " + EnvURL + ")"
	}
	return p.Redacted()
}
