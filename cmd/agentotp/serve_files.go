package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Modes of the data directory and of the files in it: the owner's only,
// whatever the umask, and whatever mode an older version or a person left.
const (
	dataDirMode  fs.FileMode = 0o700
	dataFileMode fs.FileMode = 0o600
)

// secureDataDir creates the data directory or makes it 0700, and makes
// every regular file in it (the database and its -wal and -shm,
// owner.token, secret.key) 0600; the database files get 0600 also when
// --database puts them elsewhere. It creates a missing database file
// 0600 so that SQLite, which gives -wal and -shm the database's mode,
// never makes one readable by others (dbPath "": no file, PostgreSQL).
// Links are not followed.
func secureDataDir(dir, dbPath string) error {
	if err := os.MkdirAll(dir, dataDirMode); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Chmod(dir, dataDirMode); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := restrictFile(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if dbPath == "" {
		return nil // the database is not a file (PostgreSQL)
	}
	f, err := os.OpenFile(dbPath, os.O_RDWR|os.O_CREATE, dataFileMode)
	if err != nil {
		return fmt.Errorf("database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("database file: %w", err)
	}
	return restrictDBFiles(dbPath)
}

// restrictDBFiles makes the database file and its -wal and -shm, where
// they exist, 0600.
func restrictDBFiles(dbPath string) error {
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		if err := restrictFile(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// restrictFile makes the regular file at path 0600; anything else (a
// link, a directory) it leaves alone.
func restrictFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("data file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() == dataFileMode {
		return nil
	}
	if err := os.Chmod(path, dataFileMode); err != nil {
		return fmt.Errorf("data file: %w", err)
	}
	return nil
}
