package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/sqlite"
)

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// fileHolds reports whether the database file or its log holds s.
func fileHolds(t *testing.T, path, s string) bool {
	t.Helper()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// TestWebhookSecretSealedAtRest: the secret is readable through the store
// and nowhere in the file; rotation replaces it; another key cannot read
// it.
func TestWebhookSecretSealedAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "agentotp.db")
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, _ := secretbox.New(key)
	db, err := sqlite.Open(ctx, path, nil, sqlite.WithSecretBox(box))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db)
	secret := newSecret()
	if err := db.RotateWebhookSecret(ctx, f.owner.ID, f.agent.ID, secret); err != nil {
		t.Fatal(err)
	}
	a, err := db.GetAgent(ctx, f.owner.ID, f.agent.ID)
	if err != nil || a.WebhookSecret != secret {
		t.Fatalf("GetAgent: %v, secret read back %v", err, a.WebhookSecret == secret)
	}
	var stored string
	if err := rawDB(t, path).QueryRow(`SELECT webhook_secret FROM agents WHERE id = ?`, f.agent.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "box1:") || strings.Contains(stored, secret[6:]) {
		t.Fatalf("stored form %q", stored)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fileHolds(t, path, secret[6:]) {
		t.Fatal("the secret is in the database file in the clear")
	}
	// No secret.key was made beside the file: the box came from the option.
	if _, err := os.Stat(filepath.Join(dir, secretbox.KeyFile)); !os.IsNotExist(err) {
		t.Errorf("a key file was created although a box was given: %v", err)
	}

	// Opened with another key, the secret does not open: it reads as "",
	// and the agent is still usable (the owner rotates the secret).
	other, _ := secretbox.New(make([]byte, secretbox.KeySize))
	db2, err := sqlite.Open(ctx, path, nil, sqlite.WithSecretBox(other))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	a, err = db2.GetAgent(ctx, f.owner.ID, f.agent.ID)
	if err != nil || a.WebhookSecret != "" {
		t.Fatalf("with the wrong key: %v %q", err, a.WebhookSecret)
	}
}

// TestPlainSecretsSealedOnOpen: a secret an older version stored in the
// clear is sealed by the next Open, with the key beside the file when no
// box is given.
func TestPlainSecretsSealedOnOpen(t *testing.T) {
	t.Setenv(secretbox.EnvKey, "")
	ctx := context.Background()
	db, path := open(t)
	f := newFixture(t, db)
	secret := newSecret()
	db.Close()
	if _, err := rawDB(t, path).Exec(`UPDATE agents SET webhook_secret = ? WHERE id = ?`, secret, f.agent.ID); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.GetAgent(ctx, f.owner.ID, f.agent.ID)
	if err != nil || a.WebhookSecret != secret {
		t.Fatalf("after Open: %v, secret kept %v", err, a.WebhookSecret == secret)
	}
	var stored string
	if err := rawDB(t, path).QueryRow(`SELECT webhook_secret FROM agents WHERE id = ?`, f.agent.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "box1:") {
		t.Fatalf("not sealed on Open: %q", stored)
	}
	if fi, err := os.Stat(filepath.Join(filepath.Dir(path), secretbox.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file beside the database: %v %v", fi, err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if fileHolds(t, path, secret[6:]) {
		t.Fatal("the old clear secret is still in the file")
	}
}

// TestWebhookQueuedWithTransition: the outbox row and the change it
// reports commit together; a failed update writes neither.
func TestWebhookQueuedWithTransition(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t)
	f := newFixture(t, db)
	r := f.request("otp_tx")
	r.WebhookURL = "https://hooks.example/otp"
	if err := db.CreateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	prev := r.Version
	if err := r.Cancel(time.Now()); err != nil {
		t.Fatal(err)
	}
	// Two entries with one id: the second delivery's insert fails on the
	// outbox's unique id, late in the transaction. Nothing may remain: no
	// status change, no audit, no first delivery.
	e1 := agentotp.AuditEntry{ID: "evt_dup", OwnerID: f.owner.ID, At: time.Now(), Actor: "system", Action: "request.approved",
		RequestID: r.ID, Details: map[string]string{"status": "approved"}}
	e2 := e1
	e2.Action, e2.Details = "request.cancelled", map[string]string{"status": "cancelled"}
	if err := db.UpdateRequest(ctx, r, prev, e1, e2); err == nil {
		t.Fatal("UpdateRequest with a duplicate delivery id succeeded")
	}
	ds, _ := db.ListWebhooks(ctx, agentotp.WebhookQuery{OwnerID: f.owner.ID, RequestID: r.ID})
	got, _ := db.GetRequest(ctx, r.ID)
	es, _ := db.ListAudit(ctx, agentotp.AuditQuery{OwnerID: f.owner.ID, RequestID: r.ID})
	if got.Status != agentotp.StatusPending || got.Version != prev || len(ds) != 1 || len(es) != 0 {
		t.Fatalf("a failed update left status %s v%d, %d deliveries, %d audit entries", got.Status, got.Version, len(ds), len(es))
	}
	// The same change with distinct ids commits with both deliveries.
	e2.ID = "evt_other"
	if err := db.UpdateRequest(ctx, r, prev, e1, e2); err != nil {
		t.Fatal(err)
	}
	ds, _ = db.ListWebhooks(ctx, agentotp.WebhookQuery{OwnerID: f.owner.ID, RequestID: r.ID})
	if len(ds) != 3 || ds[0].Status != agentotp.StatusCancelled || ds[1].Status != agentotp.StatusApproved {
		t.Fatalf("deliveries after the change: %d", len(ds))
	}
}
