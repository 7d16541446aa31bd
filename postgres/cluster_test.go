package postgres

import (
	"testing"

	"github.com/agentotp/agentotp/internal/pgtest"
)

// pair opens two store handles, as two relays would, on one fresh
// database; both are closed at the end of t.
func pair(t *testing.T) (a, b *Store) {
	t.Helper()
	url := pgtest.URL(t)
	box := testBox(t)
	return openStore(t, url, box), openStore(t, url, box)
}
