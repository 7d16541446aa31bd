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
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	return newDatabase(t, "")
}

// URLICU is URL for a database whose default collation is the ICU locale
// icuLocale ("en-US", say), which orders text unlike a byte comparison:
// for tests that a store's ordering does not depend on the server's
// locale.
func URLICU(t testing.TB, icuLocale string) string {
	t.Helper()
	return newDatabase(t, " LOCALE_PROVIDER icu ICU_LOCALE "+quote(icuLocale)+" TEMPLATE template0")
}

// quote is s as an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// newDatabase creates the database of URL with the CREATE DATABASE
// options opts.
func newDatabase(t testing.TB, opts string) string {
	t.Helper()
	admin := AdminURL(t)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvURL, err)
	}
	var b [8]byte
	rand.Read(b[:])
	name := dbPrefix + hex.EncodeToString(b[:])

	if err := exec(admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+opts); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := drop(admin, name); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// dropTries bounds the attempts to drop a test database.
const dropTries = 20

// drop drops the database name, ending the connections still open to it.
// The server's own autovacuum worker may be at work on it, which a role
// that is not a superuser cannot end (SQLSTATE 42501), nor drop the
// database meanwhile (55006): drop then tries again, as the worker ends
// soon.
func drop(admin, name string) error {
	var err error
	for try := range dropTries {
		err = exec(admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || (pe.Code != "42501" && pe.Code != "55006") {
			return err
		}
		time.Sleep(time.Duration(try+1) * 50 * time.Millisecond)
	}
	return err
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
