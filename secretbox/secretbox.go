// Package secretbox encrypts the few secrets the relay must be able to read
// back — webhook signing secrets, IMAP app passwords — so that they are
// never at rest in the clear. Bearer tokens are not kept here: the store
// holds only their hashes.
//
// A Box is AES-256-GCM with a random 96-bit nonce per message
// (cipher.NewGCMWithRandomNonce); the additional data names what the
// secret is for (say "imap-password:src_…"), so a ciphertext moved to
// another row does not open there.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a box key.
const KeySize = 32

// KeyFile is the name of the key file in the data directory.
const KeyFile = "secret.key"

// EnvKey names the environment variable that can hold the key (base64).
const EnvKey = "AGENTOTP_SECRET_KEY"

// ErrOpen is returned for a ciphertext that does not open: wrong key,
// wrong purpose, or tampered.
var ErrOpen = errors.New("secretbox: cannot open secret (wrong key or tampered)")

// Box seals and opens secrets with one key.
type Box struct {
	aead cipher.AEAD
	key  []byte // for DeriveKey (derive.go)
}

// New returns a box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key is %d bytes; %d required", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead, key: bytes.Clone(key)}, nil
}

// Seal encrypts plaintext for purpose.
func (b *Box) Seal(plaintext []byte, purpose string) []byte {
	return b.aead.Seal(nil, nil, plaintext, []byte(purpose))
}

// Open decrypts what Seal returned for the same purpose.
func (b *Box) Open(ciphertext []byte, purpose string) ([]byte, error) {
	pt, err := b.aead.Open(nil, nil, ciphertext, []byte(purpose))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// LoadKey returns the box key: from $AGENTOTP_SECRET_KEY (standard base64
// of 32 bytes) when set, else from dataDir/secret.key, which it creates
// (mode 0600, 32 random bytes, base64) on first use.
func LoadKey(dataDir string) ([]byte, error) {
	if v := strings.TrimSpace(os.Getenv(EnvKey)); v != "" {
		k, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: %s must be the base64 of %d bytes", EnvKey, KeySize)
		}
		return k, nil
	}
	path := filepath.Join(dataDir, KeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, KeySize)
		rand.Read(k)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadKey(dataDir) // another process made it first
		}
		if err != nil {
			return nil, fmt.Errorf("secretbox: create %s: %w", path, err)
		}
		if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("secretbox: write %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("secretbox: write %s: %w", path, err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secretbox: read %s: %w", path, err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("secretbox: %s does not hold the base64 of %d bytes", path, KeySize)
	}
	return k, nil
}
