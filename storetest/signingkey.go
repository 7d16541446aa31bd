package storetest

import (
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

func testSigningKeys(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	key := func(owner, keyID string, when time.Time) *agentotp.SigningKey {
		k := &agentotp.SigningKey{ID: newID("sgk"), OwnerID: owner, Method: "ed25519", KeyID: keyID,
			PublicKey: []byte("0123456789abcdef0123456789abcdef"), Name: "laptop", CreatedAt: when}
		e.must(e.s.CreateSigningKey(e.ctx, k, entry(owner, agentotp.AuditSigningKeyAdded, when)), "CreateSigningKey")
		return k
	}
	k1 := key(o.ID, "ed25519:one", at(2*time.Second))
	k2 := key(o.ID, "ed25519:two", at(time.Second))
	key(other.ID, "ed25519:one", at(0)) // another owner may pin the same key

	dup := *k1
	dup.ID = newID("sgk")
	wantErr(t, e.s.CreateSigningKey(e.ctx, &dup), agentotp.ErrConflict, "CreateSigningKey with a key id the owner has")

	got, err := e.s.ListSigningKeys(e.ctx, o.ID)
	e.must(err, "ListSigningKeys")
	if len(got) != 2 {
		t.Fatalf("ListSigningKeys returned %d keys; want 2", len(got))
	}
	checkEqual(t, "ListSigningKeys[0]", got[0], k2)
	checkEqual(t, "ListSigningKeys[1]", got[1], k1)

	wantErr(t, e.s.RevokeSigningKey(e.ctx, other.ID, k1.ID, at(3*time.Second)), agentotp.ErrNotFound, "RevokeSigningKey of another owner's key")
	wantErr(t, e.s.RevokeSigningKey(e.ctx, o.ID, newID("sgk"), at(3*time.Second)), agentotp.ErrNotFound, "RevokeSigningKey of an unknown key")
	e.must(e.s.RevokeSigningKey(e.ctx, o.ID, k1.ID, at(3*time.Second), entry(o.ID, agentotp.AuditSigningKeyRevoked, at(3*time.Second))), "RevokeSigningKey")
	e.must(e.s.RevokeSigningKey(e.ctx, o.ID, k1.ID, at(9*time.Second)), "RevokeSigningKey again")
	got, err = e.s.ListSigningKeys(e.ctx, o.ID)
	e.must(err, "ListSigningKeys")
	if !got[1].RevokedAt.Equal(at(3*time.Second)) || !got[0].Active() {
		t.Fatalf("after revoking: %+v, %+v", got[0], got[1])
	}
	if acts := auditActions(t, e, o.ID); acts[len(acts)-1] != agentotp.AuditSigningKeyRevoked {
		t.Fatalf("audit %v", acts)
	}
}
