package postgres

import (
	"testing"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/agentotp/agentotp/storetest"
)

// TestStore runs the store suite, each test on a fresh database. The
// suite's fixtures give one agent more than MaxLiveRequestsPerAgent
// waiting requests (ListLiveRequests, ListRequestsLimit, AuditConcurrent),
// so the live cap is lifted here; TestLiveCap checks it.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) agentotp.Store {
		s, err := Open(t.Context(), pgtest.URL(t), nil, WithSecretBox(testBox(t)), WithLiveCap(0))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
