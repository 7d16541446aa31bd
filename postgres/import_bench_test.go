package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/agentotp/agentotp/postgres"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/sqlite"
)

// benchRequests is how many requests the benchmark's SQLite relay holds.
const benchRequests = 5000

// BenchmarkImportSQLite measures ImportSQLite on a SQLite relay built
// through the real service: benchRequests requests of one agent with a
// webhook URL, each created and cancelled (so the audit log and the
// outbox hold two rows per request besides). Each iteration imports
// into a fresh database; rows/s counts every row copied.
//
//	go test ./postgres -run '^$' -bench ImportSQLite -benchtime 3x
func BenchmarkImportSQLite(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	path := filepath.Join(dir, "agentotp.db")
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	store, err := sqlite.Open(ctx, path, nil, sqlite.WithSecretBox(box))
	if err != nil {
		b.Fatal(err)
	}
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: "http://relay.test", Secrets: box})
	owner, _, err := svc.EnsureOwner(ctx, "owner", true)
	if err != nil {
		b.Fatal(err)
	}
	key, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		b.Fatal(err)
	}
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		// An agent per worker: each may hold only so many live requests.
		na, err := svc.CreateAgent(ctx, owner.ID, fmt.Sprintf("bench-%d", w), false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.SetAgentWebhookURL(ctx, owner.ID, na.Agent.ID, "https://agent.example/hook"); err != nil {
			b.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, na.APIKey)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			for range benchRequests / workers {
				r, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "bench", PublicKey: key.Public().String()})
				if err == nil {
					_, err = svc.Cancel(ctx, p, r.ID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if err := store.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built the SQLite relay (%d requests) in %v", benchRequests/workers*workers, time.Since(start).Round(time.Millisecond))

	var rows int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		pg, err := postgres.Open(ctx, pgtest.URL(b), nil, postgres.WithSecretBox(box))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := pg.ImportSQLite(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rows = 0
		for _, t := range rep.Tables {
			rows += t.Copied
		}
		pg.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows), "rows/import")
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
