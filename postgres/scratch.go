package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// CreateScratchDatabase makes a new, empty database named
// prefix_<16 random hex> through adminURL (whose role may create
// databases), and returns its URL and a function that drops it (ending
// the sessions still in it). `agentotp bench` measures relays on such a
// database, so that it never writes into one that serves.
func CreateScratchDatabase(ctx context.Context, adminURL, prefix string) (dbURL string, drop func(context.Context) error, err error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, errors.New("postgres: the database URL does not parse")
	}
	var b [8]byte
	rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return fmt.Errorf("postgres: connect to %s@%s: %w", u.User.Username(), u.Host, err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("postgres: create database %s: %w", name, err)
	}
	drop = func(ctx context.Context) error {
		if err := exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("postgres: drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
