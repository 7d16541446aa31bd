package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// ownerCred is a new owner token of ownerID and its credential.
func ownerCred(ownerID string, when time.Time) (string, *agentotp.Credential) {
	token := newToken(agentotp.PrefixOwnerToken)
	return token, &agentotp.Credential{Hash: agentotp.HashToken(token), Kind: agentotp.CredentialOwner, OwnerID: ownerID,
		Prefix: agentotp.TokenPrefix(token), CreatedAt: when}
}

// testReplaceOwnerTokens: rotating revokes exactly the named token (and
// stores the new one, audited, at once); revoking all ends every owner
// token of the owner and no other owner's; naming a token that is not a
// live owner token of the owner changes nothing.
func testReplaceOwnerTokens(t *testing.T, e *env) {
	o, first := e.owner("Ada", at(0))
	_, otherTok := e.owner("Bob", at(0))
	revoked := func(tok string) bool {
		c, err := e.s.FindCredential(e.ctx, agentotp.HashToken(tok))
		e.must(err, "FindCredential")
		return !c.RevokedAt.IsZero()
	}
	second, cred := ownerCred(o.ID, at(time.Minute))
	prefixes, err := e.s.ReplaceOwnerTokens(e.ctx, o.ID, [][]byte{agentotp.HashToken(first)}, cred, at(time.Minute),
		entry(o.ID, agentotp.AuditOwnerTokenRotated, at(time.Minute)))
	e.must(err, "ReplaceOwnerTokens (rotate)")
	if !slices.Equal(prefixes, []string{agentotp.TokenPrefix(first)}) || !revoked(first) || revoked(second) {
		t.Fatalf("rotate: prefixes %v, first revoked %v, second revoked %v", prefixes, revoked(first), revoked(second))
	}
	// Naming a revoked token, or another owner's, is ErrNotFound and
	// stores nothing.
	for _, tok := range []string{first, otherTok} {
		unused, cred := ownerCred(o.ID, at(2*time.Minute))
		_, err := e.s.ReplaceOwnerTokens(e.ctx, o.ID, [][]byte{agentotp.HashToken(tok)}, cred, at(2*time.Minute))
		if !errors.Is(err, agentotp.ErrNotFound) {
			t.Fatalf("replacing a token that is not live: %v", err)
		}
		if _, err := e.s.FindCredential(e.ctx, agentotp.HashToken(unused)); !errors.Is(err, agentotp.ErrNotFound) {
			t.Fatalf("the new token of a refused replacement was stored: %v", err)
		}
	}
	third, cred := ownerCred(o.ID, at(3*time.Minute))
	prefixes, err = e.s.ReplaceOwnerTokens(e.ctx, o.ID, nil, cred, at(3*time.Minute),
		entry(o.ID, agentotp.AuditOwnerTokensRevoked, at(3*time.Minute)))
	e.must(err, "ReplaceOwnerTokens (revoke all)")
	if !slices.Equal(prefixes, []string{agentotp.TokenPrefix(second)}) || !revoked(second) || revoked(third) || revoked(otherTok) {
		t.Fatalf("revoke all: prefixes %v", prefixes)
	}
	es := checkChain(t, e, o.ID)
	if got := actions(es); !slices.Contains(got, agentotp.AuditOwnerTokenRotated) || !slices.Contains(got, agentotp.AuditOwnerTokensRevoked) {
		t.Fatalf("audit %v", got)
	}
}
