package secretbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	ct := b.Seal([]byte("app-password"), "imap-password:src_1")
	if bytes.Contains(ct, []byte("app-password")) {
		t.Fatal("ciphertext holds the plaintext")
	}
	if pt, err := b.Open(ct, "imap-password:src_1"); err != nil || string(pt) != "app-password" {
		t.Fatalf("open: %q %v", pt, err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"wrong purpose": func() ([]byte, error) { return b.Open(ct, "imap-password:src_2") },
		"wrong key":     func() ([]byte, error) { return other.Open(ct, "imap-password:src_1") },
		"tampered":      func() ([]byte, error) { return b.Open(tampered, "imap-password:src_1") },
		"short":         func() ([]byte, error) { return b.Open(ct[:5], "imap-password:src_1") },
	} {
		if _, err := try(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

func TestLoadKey(t *testing.T) {
	t.Setenv(EnvKey, "")
	dir := t.TempDir()
	k1, err := LoadKey(dir)
	if err != nil || len(k1) != KeySize {
		t.Fatalf("create: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	k2, err := LoadKey(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("reload gave another key")
	}
	env := bytes.Repeat([]byte{9}, KeySize)
	t.Setenv(EnvKey, base64.StdEncoding.EncodeToString(env))
	if k, err := LoadKey(dir); err != nil || !bytes.Equal(k, env) {
		t.Fatalf("env key: %v", err)
	}
	t.Setenv(EnvKey, "bm90IDMyIGJ5dGVz")
	if _, err := LoadKey(dir); err == nil {
		t.Fatal("bad env key accepted")
	}
	t.Setenv(EnvKey, "")
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600)
	if _, err := LoadKey(dir); err == nil {
		t.Fatal("bad key file accepted")
	}
}

// TestDeriveKey: derived keys are fixed by the box key and the purpose,
// differ by purpose and from the box key, and match RFC 5869 HKDF-SHA256
// as openssl computes it, when openssl is installed.
func TestDeriveKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := New(key)
	k := b.DeriveKey(PurposeAuditChain)
	if len(k) != KeySize || !bytes.Equal(k, b2.DeriveKey(PurposeAuditChain)) || bytes.Equal(k, key) || bytes.Equal(k, b.DeriveKey("other")) {
		t.Fatalf("derived key %x", k)
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required in CI")
		}
		t.Skip("openssl not installed: no cross-check")
	}
	out, err := exec.Command(openssl, "kdf", "-keylen", "32", "-kdfopt", "digest:SHA256",
		"-kdfopt", "hexkey:"+hex.EncodeToString(key), "-kdfopt", "info:"+PurposeAuditChain, "-binary", "HKDF").Output()
	if err != nil {
		t.Skipf("openssl kdf HKDF not available: %v", err)
	}
	if !bytes.Equal(out, k) {
		t.Fatalf("openssl HKDF %x; DeriveKey %x", out, k)
	}
}
