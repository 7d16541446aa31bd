package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/agentotp/agentotp/internal/pgtest"
)

// TestSecretKeyCheck: a relay whose secret key is not the one the
// database was first opened with is refused, and the refusal names the
// fix; the right key still opens it.
func TestSecretKeyCheck(t *testing.T) {
	url := pgtest.URL(t)
	first, other := testBox(t), testBox(t)
	openStore(t, url, first)
	s, err := Open(context.Background(), url, nil, WithSecretBox(other))
	if !errors.Is(err, ErrOtherSecretKey) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open with another key: %v; want ErrOtherSecretKey", err)
	}
	openStore(t, url, first) // the same key opens it again
}
