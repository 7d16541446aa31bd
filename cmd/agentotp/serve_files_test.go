//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// withUmask sets the process umask for the test (no test of this
// package runs in parallel).
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// checkModes checks the mode of the data directory and of each file.
func checkModes(t *testing.T, dir string, files ...string) {
	t.Helper()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v %v; want 0700", fi.Mode(), err)
	}
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v; want 0600", f, fi.Mode().Perm())
		}
	}
}

// TestDataFilesPrivate: under umask 022, a new data directory and a data
// directory left 0755 with 0644 files (database, -wal, -shm, owner.token,
// secret.key) are both, while the relay runs, 0700 with 0600 files.
func TestDataFilesPrivate(t *testing.T) {
	withUmask(t, 0o022)
	files := []string{"agentotp.db", "agentotp.db-wal", "agentotp.db-shm", "owner.token", "secret.key"}

	r := startMain(t)
	checkModes(t, r.data, files...)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	// As an older version, or a person, left it.
	if err := os.Chmod(r.data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		p := filepath.Join(r.data, f)
		if _, err := os.Stat(p); os.IsNotExist(err) { // SQLite removes -wal and -shm on close
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	again := startMain(t, "--data", r.data)
	checkModes(t, again.data, files...)
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
	checkModes(t, again.data, "agentotp.db", "owner.token", "secret.key")
}
