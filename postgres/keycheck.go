package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/agentotp/agentotp/secretbox"
)

// purposeKeyCheck derives the key whose MAC of a fixed text identifies
// the secret key; it reveals nothing of the secret key itself.
const purposeKeyCheck = "agentotp postgres secret-key check v1"

// ErrOtherSecretKey is returned by Open when the database was first
// opened with another secret key than this relay's.
var ErrOtherSecretKey = errors.New("postgres: this database was first opened with another secret key; give every relay the same secret key (the data directory's " + secretbox.KeyFile + ", or " + secretbox.EnvKey + ")")

// checkSecretKey records, on the first Open of the database, a MAC that
// identifies the store's secret key, and refuses a later Open with
// another key. Every relay that shares a database must seal with one key:
// a relay with a fresh key of its own would chain audit entries that the
// others cannot verify and seal secrets that they cannot open.
func (s *Store) checkSecretKey(ctx context.Context) error {
	mac := hmac.New(sha256.New, s.box.DeriveKey(purposeKeyCheck))
	mac.Write([]byte("agentotp secret key"))
	want := mac.Sum(nil)
	if _, err := s.pool.Exec(ctx, `INSERT INTO secret_key_check (id, check_mac) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, want); err != nil {
		return fmt.Errorf("postgres: check the secret key: %w", err)
	}
	var got []byte
	if err := s.pool.QueryRow(ctx, `SELECT check_mac FROM secret_key_check WHERE id = 1`).Scan(&got); err != nil {
		return fmt.Errorf("postgres: check the secret key: %w", err)
	}
	if !hmac.Equal(got, want) {
		return ErrOtherSecretKey
	}
	return nil
}
