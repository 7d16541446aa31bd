package relay

import (
	"context"
	"fmt"

	"github.com/agentotp/agentotp"
)

// maxSignedSources bounds how many source keys one unaddressed signed
// webhook is tried against.
const maxSignedSources = 200

// sourceKeyPurpose is the secretbox purpose of a source's sealed token.
func sourceKeyPurpose(sourceID string) string { return "source-token:" + sourceID }

// keepSourceKey seals and stores the token of a new SMS or generic
// source, when the service has a secret box: a phone gateway signs its
// webhooks with that token (see SourceSigned).
func (s *Service) keepSourceKey(ctx context.Context, src *agentotp.Source, token string) error {
	if s.secrets == nil || !src.Allows(agentotp.ChannelSMS) {
		return nil
	}
	k := &agentotp.SourceKey{SourceID: src.ID, OwnerID: src.OwnerID, Kind: src.Kind,
		Sealed: s.secrets.Seal([]byte(token), sourceKeyPurpose(src.ID)), CreatedAt: src.CreatedAt}
	if err := s.store.PutSourceKey(ctx, k); err != nil {
		return fmt.Errorf("create source: keep signing key: %w", err)
	}
	return nil
}

// errUnsigned is the one answer to a webhook whose signature no source
// key verifies, whatever the reason (unknown source, wrong key, revoked).
var errUnsigned = agentotp.Errorf(agentotp.EAuthentication, "the webhook signature does not verify with the token of any active SMS source")

// SourceSigned finds the active SMS (or generic) source whose token makes
// valid report true, and returns that source as the principal. valid is
// called with each candidate token and must compare in constant time
// (hmac.Equal). With sourceID set only that source is tried; otherwise
// every source that has a kept key, up to a bound. An unknown source, a
// revoked one and a wrong signature are the same AUTHENTICATION_ERROR.
func (s *Service) SourceSigned(ctx context.Context, sourceID string, valid func(token []byte) bool) (*Principal, error) {
	if s.secrets == nil {
		return nil, agentotp.Errorf(agentotp.EServiceUnavailable, "this relay keeps no secret key, so signed webhooks cannot be verified")
	}
	if len(sourceID) > 64 {
		return nil, errUnsigned
	}
	keys, err := s.store.ListSourceKeys(ctx, sourceID, maxSignedSources)
	if err != nil {
		return nil, fmt.Errorf("signed webhook: %w", err)
	}
	for _, k := range keys {
		if src := (&agentotp.Source{Kind: k.Kind}); !src.Allows(agentotp.ChannelSMS) {
			continue
		}
		token, err := s.secrets.Open(k.Sealed, sourceKeyPurpose(k.SourceID))
		if err != nil {
			s.log.WarnContext(ctx, "a kept source key does not open (secret key changed?)", "source_id", k.SourceID)
			continue
		}
		ok := valid(token)
		if !ok {
			continue
		}
		hash := agentotp.HashToken(string(token))
		clear(token)
		return &Principal{Kind: agentotp.CredentialSource, OwnerID: k.OwnerID, SourceID: k.SourceID, KeyHash: fmt.Sprintf("%x", hash[:12])}, nil
	}
	return nil, errUnsigned
}
