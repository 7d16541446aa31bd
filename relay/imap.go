package relay

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/agentotp/agentotp"
)

// imapCapableSource returns an active email (or generic) source of the
// owner.
func (s *Service) imapCapableSource(ctx context.Context, ownerID, sourceID string) (*agentotp.Source, error) {
	src, err := s.store.GetSource(ctx, ownerID, sourceID)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "no such source")
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", sourceID, err)
	}
	if !src.Active() {
		return nil, agentotp.Errorf(agentotp.EConflict, "the source is revoked")
	}
	if !src.Allows(agentotp.ChannelEmail) {
		return nil, agentotp.FieldErr("source", "is a %s source", src.Kind)
	}
	return src, nil
}

// OwnerSource returns one source of the owner.
func (s *Service) OwnerSource(ctx context.Context, ownerID, id string) (*agentotp.Source, error) {
	src, err := s.store.GetSource(ctx, ownerID, id)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errSourceNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get source: %w", err)
	}
	return src, nil
}

// SetSourceIMAP sets (or replaces) the IMAP mailbox that an email source
// reads. The password is sealed with the relay's secret key before it is
// stored; it is never logged, audited or returned.
func (s *Service) SetSourceIMAP(ctx context.Context, ownerID, sourceID string, in agentotp.IMAPSettings) (*agentotp.IMAPSource, error) {
	if _, err := s.imapCapableSource(ctx, ownerID, sourceID); err != nil {
		return nil, err
	}
	prev, err := s.store.GetIMAPSource(ctx, ownerID, sourceID)
	if err != nil && !errors.Is(err, agentotp.ErrNotFound) {
		return nil, fmt.Errorf("set imap: %w", err)
	}
	if err := in.Normalize(prev == nil); err != nil {
		return nil, err
	}
	if prev == nil {
		all, err := s.store.ListIMAPSources(ctx, ownerID)
		if err != nil {
			return nil, fmt.Errorf("set imap: %w", err)
		}
		if len(all) >= agentotp.MaxIMAPSourcesPerOwner {
			return nil, agentotp.Errorf(agentotp.EConflict, "at most %d sources may read an IMAP mailbox; clear one first", agentotp.MaxIMAPSourcesPerOwner)
		}
	}
	if s.secrets == nil {
		return nil, agentotp.Errorf(agentotp.EServiceUnavailable, "the relay was started without a secret key, so it cannot keep an IMAP password")
	}
	now := s.Now()
	src := &agentotp.IMAPSource{
		SourceID: sourceID, OwnerID: ownerID, Host: in.Host, Port: in.Port, TLSMode: in.TLSMode,
		Username: in.Username, Mailbox: in.Mailbox, PollInterval: in.PollInterval, MarkAsRead: in.MarkAsRead,
		CreatedAt: now, UpdatedAt: now,
	}
	if in.Password != "" {
		src.PasswordSealed = s.secrets.Seal([]byte(in.Password), agentotp.IMAPPasswordPurpose(sourceID))
	} else {
		src.PasswordSealed = prev.PasswordSealed
	}
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditSourceIMAPSet, now)
	e.SourceID = sourceID
	e.Details = map[string]string{
		"host": in.Host, "port": strconv.Itoa(in.Port), "tls_mode": in.TLSMode, "username": in.Username,
		"mailbox": in.Mailbox, "mark_as_read": strconv.FormatBool(in.MarkAsRead),
		"poll_interval_seconds": strconv.Itoa(int(in.PollInterval.Seconds())),
		"password_changed":      strconv.FormatBool(in.Password != ""),
	}
	if err := s.store.PutIMAPSource(ctx, src, e); err != nil {
		if errors.Is(err, agentotp.ErrNotFound) {
			return nil, agentotp.Errorf(agentotp.ENotFound, "no such source")
		}
		return nil, fmt.Errorf("set imap: %w", err)
	}
	s.log.InfoContext(ctx, "source imap settings set", "source_id", sourceID, "host", in.Host, "port", in.Port, "tls_mode", in.TLSMode)
	return s.store.GetIMAPSource(ctx, ownerID, sourceID)
}

// ClearSourceIMAP removes a source's IMAP settings; its connector stops.
func (s *Service) ClearSourceIMAP(ctx context.Context, ownerID, sourceID string) error {
	now := s.Now()
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditSourceIMAPCleared, now)
	e.SourceID = sourceID
	err := s.store.DeleteIMAPSource(ctx, ownerID, sourceID, e)
	if errors.Is(err, agentotp.ErrNotFound) {
		return agentotp.Errorf(agentotp.ENotFound, "the source has no IMAP settings")
	}
	if err != nil {
		return fmt.Errorf("clear imap: %w", err)
	}
	s.log.InfoContext(ctx, "source imap settings cleared", "source_id", sourceID)
	return nil
}

// SourceIMAP returns a source's IMAP settings and connector status.
func (s *Service) SourceIMAP(ctx context.Context, ownerID, sourceID string) (*agentotp.IMAPSource, error) {
	src, err := s.store.GetIMAPSource(ctx, ownerID, sourceID)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "the source has no IMAP settings")
	}
	if err != nil {
		return nil, fmt.Errorf("get imap: %w", err)
	}
	return src, nil
}

// ListSourceIMAP returns the owner's IMAP settings by source id.
func (s *Service) ListSourceIMAP(ctx context.Context, ownerID string) (map[string]*agentotp.IMAPSource, error) {
	list, err := s.store.ListIMAPSources(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list imap: %w", err)
	}
	out := make(map[string]*agentotp.IMAPSource, len(list))
	for _, src := range list {
		out[src.SourceID] = src
	}
	return out, nil
}

// IMAPPassword opens a source's sealed IMAP password, for its connector.
func (s *Service) IMAPPassword(src *agentotp.IMAPSource) (string, error) {
	if s.secrets == nil {
		return "", errors.New("imap password: the relay has no secret key")
	}
	pw, err := s.secrets.Open(src.PasswordSealed, agentotp.IMAPPasswordPurpose(src.SourceID))
	if err != nil {
		return "", fmt.Errorf("imap password of %s: %w", src.SourceID, err)
	}
	return string(pw), nil
}

// EmailDemand reports what the owner's live requests want of email. Test
// requests, requests that already hold a code, and requests past their
// TTL do not count.
func (s *Service) EmailDemand(ctx context.Context, ownerID string) (agentotp.EmailDemand, error) {
	now := s.Now()
	live, err := s.index.all(ctx, ownerID, func(e *indexEntry) bool {
		r := e.req
		return !r.Test && !e.held && !r.ExpiredAt(now) && r.Filter.WantsChannel(agentotp.ChannelEmail)
	})
	if err != nil {
		return agentotp.EmailDemand{}, fmt.Errorf("email demand: %w", err)
	}
	var d agentotp.EmailDemand
	for _, r := range live {
		d.Add(r.CreatedAt, r.Filter.ReceivedAfter)
	}
	return d, nil
}
