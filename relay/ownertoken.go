package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentotp/agentotp"
)

// NewOwnerToken is a new owner token, shown once, and the prefixes of the
// tokens it replaced (which stopped working when it was issued).
type NewOwnerToken struct {
	Token   string
	Prefix  string
	Revoked []string
}

// RotateOwnerToken replaces the owner token current (the caller's) with a
// new one: current stops working at once, the owner's other tokens are
// untouched. Both happen, with the audit entry, in one transaction.
func (s *Service) RotateOwnerToken(ctx context.Context, ownerID, current string) (*NewOwnerToken, error) {
	if agentotp.KindOfToken(current) != agentotp.CredentialOwner {
		return nil, errAuth
	}
	return s.replaceOwnerTokens(ctx, ownerID, [][]byte{agentotp.HashToken(current)},
		"token "+agentotp.TokenPrefix(current), agentotp.AuditOwnerTokenRotated)
}

// RevokeOwnerTokens revokes every owner token of the owner, the caller's
// included, and issues one new one in the same transaction: the only
// owner token that works afterwards is the one returned. (An owner
// without any token could do nothing but restart the relay with its
// owner.token removed; the replacement is handed to whoever revoked.)
func (s *Service) RevokeOwnerTokens(ctx context.Context, ownerID string) (*NewOwnerToken, error) {
	return s.replaceOwnerTokens(ctx, ownerID, nil, "", agentotp.AuditOwnerTokensRevoked)
}

// replaceOwnerTokens revokes the tokens of revoke (nil: all of the
// owner's), named revoked in the audit entry, and issues a new one.
func (s *Service) replaceOwnerTokens(ctx context.Context, ownerID string, revoke [][]byte, revoked, action string) (*NewOwnerToken, error) {
	now := s.Now()
	token, cred := newCredential(agentotp.PrefixOwnerToken, agentotp.CredentialOwner, ownerID, now)
	e := s.audit(ownerID, agentotp.ActorOwner, action, now)
	e.Details = map[string]string{"token_prefix": cred.Prefix}
	e.Details["revoked"] = "all owner tokens"
	if revoked != "" {
		e.Details["revoked"] = revoked
	}
	defer s.creds.changed()
	prefixes, err := s.store.ReplaceOwnerTokens(ctx, ownerID, revoke, cred, now, e)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errAuth
	}
	if err != nil {
		return nil, fmt.Errorf("replace owner tokens: %w", err)
	}
	s.log.InfoContext(ctx, "owner tokens replaced", "owner_id", ownerID, "action", action, "revoked", len(prefixes), "token_prefix", cred.Prefix)
	return &NewOwnerToken{Token: token, Prefix: cred.Prefix, Revoked: prefixes}, nil
}
