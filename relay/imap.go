package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
)

// IMAPInput is what the owner sets for a source's IMAP mailbox.
type IMAPInput struct {
	Host     string
	Port     int    // 0: 993 for tls, 143 otherwise
	TLSMode  string // "": tls
	Username string
	// Password is the app password. "" keeps the stored one; it is
	// required the first time.
	Password     string
	Mailbox      string        // "": INBOX
	PollInterval time.Duration // 0: one minute
	MarkAsRead   bool
}

// validate normalizes in and checks every field; it never repeats the
// password.
func (in *IMAPInput) validate(first bool) error {
	var v agentotp.ValidationErrors
	in.Host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(in.Host), "["), "]"))
	if in.TLSMode == "" {
		in.TLSMode = agentotp.IMAPTLS
	}
	switch in.TLSMode {
	case agentotp.IMAPTLS, agentotp.IMAPStartTLS, agentotp.IMAPPlain:
	default:
		v.Add("tls_mode", `must be "tls", "starttls" or "plain"`)
	}
	if !validHost(in.Host) {
		v.Add("host", "must be a host name or an IP address of at most %d characters", agentotp.MaxIMAPHostLen)
	} else if in.TLSMode == agentotp.IMAPPlain && !LoopbackHost(in.Host) {
		v.Add("tls_mode", `"plain" sends the password in the clear and is allowed only to a loopback host (localhost, 127.0.0.1, ::1)`)
	}
	if in.Port == 0 {
		in.Port = 143
		if in.TLSMode == agentotp.IMAPTLS {
			in.Port = 993
		}
	}
	if in.Port < 1 || in.Port > 65535 {
		v.Add("port", "must be between 1 and 65535")
	}
	if n := len(in.Username); n == 0 || n > agentotp.MaxIMAPUsernameLen || !printable(in.Username) {
		v.Add("username", "must be 1–%d printable characters", agentotp.MaxIMAPUsernameLen)
	}
	switch n := len(in.Password); {
	case n == 0 && first:
		v.Add("password", "is required")
	case n > agentotp.MaxIMAPPasswordLen || (n > 0 && !printable(in.Password)):
		v.Add("password", "must be at most %d printable characters", agentotp.MaxIMAPPasswordLen)
	}
	if in.Mailbox == "" {
		in.Mailbox = agentotp.DefaultIMAPMailbox
	}
	if len(in.Mailbox) > agentotp.MaxIMAPMailboxLen || !printable(in.Mailbox) {
		v.Add("mailbox", "must be at most %d printable characters", agentotp.MaxIMAPMailboxLen)
	}
	if in.PollInterval == 0 {
		in.PollInterval = agentotp.DefaultIMAPPollInterval
	}
	if in.PollInterval < agentotp.MinIMAPPollInterval || in.PollInterval > agentotp.MaxIMAPPollInterval {
		v.Add("poll_interval_seconds", "must be between %d and %d", int(agentotp.MinIMAPPollInterval.Seconds()), int(agentotp.MaxIMAPPollInterval.Seconds()))
	}
	return v.Err()
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// validHost accepts an IP address or a DNS name.
func validHost(h string) bool {
	if h == "" || len(h) > agentotp.MaxIMAPHostLen {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// LoopbackHost reports whether host names this machine: "localhost" or a
// loopback IP address. The connector checks again, at dial time, that the
// address it reaches is a loopback one.
func LoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

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
	if !src.Allows(agentotp.SourceKindEmail) {
		return nil, &agentotp.Error{Code: agentotp.EValidation, Message: "only an email or generic source can read an IMAP mailbox",
			Fields: []agentotp.FieldError{{Field: "source", Message: fmt.Sprintf("is a %s source", src.Kind)}}}
	}
	return src, nil
}

// OwnerSource returns one source of the owner.
func (s *Service) OwnerSource(ctx context.Context, ownerID, id string) (*agentotp.Source, error) {
	src, err := s.store.GetSource(ctx, ownerID, id)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "no such source")
	}
	if err != nil {
		return nil, fmt.Errorf("get source: %w", err)
	}
	return src, nil
}

// SetSourceIMAP sets (or replaces) the IMAP mailbox that an email source
// reads. The password is sealed with the relay's secret key before it is
// stored; it is never logged, audited or returned.
func (s *Service) SetSourceIMAP(ctx context.Context, ownerID, sourceID string, in IMAPInput) (*agentotp.IMAPSource, error) {
	if _, err := s.imapCapableSource(ctx, ownerID, sourceID); err != nil {
		return nil, err
	}
	prev, err := s.store.GetIMAPSource(ctx, ownerID, sourceID)
	if err != nil && !errors.Is(err, agentotp.ErrNotFound) {
		return nil, fmt.Errorf("set imap: %w", err)
	}
	if err := in.validate(prev == nil); err != nil {
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

// Demand is what the live requests of an owner want of email.
type Demand struct {
	// Want: some live request can still be fed by an email.
	Want bool
	// Since is the earliest time a message must have arrived at to match
	// one of them: the least lower bound (creation time or
	// filter.received_after) of those requests.
	Since time.Time
	// Latest is the creation time of the newest of them.
	Latest time.Time
}

// EmailDemand reports what the owner's live requests want of email. Test
// requests, requests that already hold a code, and requests past their
// TTL do not count.
func (s *Service) EmailDemand(ctx context.Context, ownerID string) (Demand, error) {
	live, err := s.store.ListLiveRequests(ctx, ownerID)
	if err != nil {
		return Demand{}, fmt.Errorf("email demand: %w", err)
	}
	now := s.Now()
	var d Demand
	for _, r := range live {
		if r.Test || r.Held() || r.ExpiredAt(now) || !r.Filter.WantsSource(agentotp.SourceEmail) {
			continue
		}
		lb := r.CreatedAt
		if r.Filter.ReceivedAfter.After(lb) {
			lb = r.Filter.ReceivedAfter
		}
		if !d.Want || lb.Before(d.Since) {
			d.Since = lb
		}
		if r.CreatedAt.After(d.Latest) {
			d.Latest = r.CreatedAt
		}
		d.Want = true
	}
	return d, nil
}
