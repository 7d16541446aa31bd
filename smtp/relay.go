package smtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/extract"
)

// RelayOptions configure NewRelay.
type RelayOptions struct {
	// Open selects MX mode: no AUTH; a recipient's domain names the source
	// (and so the owner) that receives the mail; DKIM is verified.
	Open bool
	// Domains maps a recipient domain (lower case) to the id of an email or
	// generic source, for MX mode.
	Domains map[string]string
	// DKIMOptional lists source ids whose owner switched off the DKIM
	// requirement: their mail's sender may match a sender pattern without
	// a DKIM signature that vouches for the From domain.
	DKIMOptional map[string]bool
	// LookupTXT fetches the DKIM key records (default: the system
	// resolver).
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// Logger receives the handler's logs; nil discards them.
	Logger *slog.Logger
}

// Relay is what the relay's SMTP handler needs of the relay service
// (relay.Service provides it): source lookups and the one way in for
// email.
type Relay interface {
	// AuthenticateMailSource resolves a source token into its active
	// source that takes email.
	AuthenticateMailSource(ctx context.Context, token string) (*agentotp.Source, error)
	// FindSource returns a source by id, whichever owner it belongs to.
	FindSource(ctx context.Context, id string) (*agentotp.Source, error)
	// OwnerSource returns a source of the owner; NOT_FOUND when none.
	OwnerSource(ctx context.Context, ownerID, id string) (*agentotp.Source, error)
	// IngestSourceMail hands a raw email to the relay for the source.
	IngestSourceMail(ctx context.Context, ownerID, sourceID string, m agentotp.Mail) (*agentotp.IngestResult, error)
}

// NewRelay returns the Handler that feeds svc. In the default mode it is
// also an Authenticator: AUTH PLAIN/LOGIN with any user name and an email
// (or generic) source token as the password; the mail goes to that
// source's owner. With opts.Open it is the MX-mode handler.
//
// Each message is checked for a From header here and handed raw to
// svc.IngestSourceMail, which decodes it, seals the code to the oldest
// matching request and keeps nothing of a message that matched none; the
// only trace is a hash of its Message-ID, so that a sender's retry is not
// taken twice.
func NewRelay(svc Relay, opts RelayOptions) (Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := relayBase{svc: svc, log: opts.Logger}
	if !opts.Open {
		return &authRelay{relayBase: b}, nil
	}
	if len(opts.Domains) == 0 {
		return nil, errors.New("smtp: MX mode needs at least one domain mapped to a source")
	}
	lookup := opts.LookupTXT
	if lookup == nil {
		lookup = net.DefaultResolver.LookupTXT
	}
	m := &mxRelay{relayBase: b, domains: map[string]*mxTarget{}, lookupTXT: lookup}
	ctx := context.Background()
	for domain, sourceID := range opts.Domains {
		domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
		if domain == "" || strings.ContainsAny(domain, "@ /") {
			return nil, fmt.Errorf("smtp: MX mode: %q is not a domain", domain)
		}
		src, err := svc.FindSource(ctx, sourceID)
		if agentotp.ErrorCode(err) == agentotp.ENotFound {
			return nil, fmt.Errorf("smtp: MX mode: domain %s: no source %q", domain, sourceID)
		}
		if err != nil {
			return nil, fmt.Errorf("smtp: MX mode: domain %s: %w", domain, err)
		}
		if !src.Allows(agentotp.ChannelEmail) || !src.Active() {
			return nil, fmt.Errorf("smtp: MX mode: domain %s: source %s is not an active email or generic source", domain, sourceID)
		}
		m.domains[domain] = &mxTarget{ownerID: src.OwnerID, sourceID: src.ID, requireDKIM: !opts.DKIMOptional[src.ID]}
	}
	return m, nil
}

type relayBase struct {
	svc Relay
	log *slog.Logger
}

// ingest hands raw to the relay for the source. It returns the SMTP reply
// for a refusal.
func (b *relayBase) ingest(ctx context.Context, ownerID, sourceID string, raw []byte, dkim *agentotp.DKIMResult, requireDKIM bool) error {
	res, err := b.svc.IngestSourceMail(ctx, ownerID, sourceID, agentotp.Mail{Raw: raw, DKIM: dkim, RequireDKIM: requireDKIM})
	if err != nil {
		var e *agentotp.Error
		if errors.As(err, &e) {
			switch e.Code {
			case agentotp.EValidation:
				return &Error{Code: 554, EnhancedCode: EnhancedCode{5, 6, 0}, Message: "Message refused: " + oneLine(e.Error())}
			case agentotp.EAuthentication, agentotp.EForbidden:
				return ErrAuthFailed
			}
		}
		return fmt.Errorf("smtp: ingest: %w", err)
	}
	b.log.InfoContext(ctx, "smtp: message taken", "message_id", res.MessageID, "matched", res.Matched, "reason", res.Reason, "duplicate", res.Duplicate)
	return nil
}

// parse decodes a raw message, or returns the SMTP refusal.
func parse(raw []byte) (extract.Email, error) {
	em, err := extract.ParseEmail(raw)
	switch {
	case errors.Is(err, extract.ErrTooLarge):
		return em, ErrTooLarge
	case err != nil:
		return em, &Error{Code: ErrNotReadable.Code, EnhancedCode: ErrNotReadable.EnhancedCode, Message: ErrNotReadable.Message + ": " + oneLine(err.Error())}
	case strings.TrimSpace(em.Sender) == "":
		return em, &Error{Code: 554, EnhancedCode: EnhancedCode{5, 6, 0}, Message: "The message has no From header"}
	}
	return em, nil
}

// oneLine keeps a reply text on one short line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// authRelay is the default mode: AUTH with a source token.
type authRelay struct{ relayBase }

// Authenticate implements Authenticator: the password must be the token
// of an active email or generic source.
func (a *authRelay) Authenticate(ctx context.Context, _, password string) (any, error) {
	src, err := a.svc.AuthenticateMailSource(ctx, password)
	if err != nil {
		return nil, ErrAuthFailed
	}
	return src, nil
}

// Rcpt implements Handler: any recipient is accepted; the mail goes to the
// authenticated source's owner whatever the address.
func (a *authRelay) Rcpt(context.Context, *Session, string) (any, error) { return nil, nil }

// Data implements Handler.
func (a *authRelay) Data(ctx context.Context, s *Session, raw []byte) error {
	src, ok := s.Identity.(*agentotp.Source)
	if !ok {
		return ErrAuthRequired
	}
	if _, err := parse(raw); err != nil {
		return err
	}
	// The relay checks again that the source is active: its token may
	// have been revoked since AUTH.
	return a.ingest(ctx, src.OwnerID, src.ID, raw, nil, false)
}

// mxTarget is where mail for one domain goes.
type mxTarget struct {
	ownerID, sourceID string
	requireDKIM       bool
}

// mxRelay is MX mode: no AUTH, recipients by domain, DKIM verified.
type mxRelay struct {
	relayBase
	domains   map[string]*mxTarget
	lookupTXT func(ctx context.Context, name string) ([]string, error)
}

// Rcpt implements Handler: the recipient's domain must be one of ours,
// and its source still active.
func (m *mxRelay) Rcpt(ctx context.Context, _ *Session, to string) (any, error) {
	at := strings.LastIndexByte(to, '@')
	if at < 0 {
		return nil, ErrNoSuchDomain
	}
	t, ok := m.domains[strings.TrimSuffix(strings.ToLower(to[at+1:]), ".")]
	if !ok {
		return nil, ErrNoSuchDomain
	}
	src, err := m.svc.OwnerSource(ctx, t.ownerID, t.sourceID)
	if err != nil {
		if agentotp.ErrorCode(err) == agentotp.ENotFound {
			return nil, ErrNoSuchDomain
		}
		return nil, fmt.Errorf("smtp: recipient: %w", err)
	}
	if !src.Active() {
		return nil, &Error{Code: 550, EnhancedCode: EnhancedCode{5, 1, 1}, Message: "This mailbox is disabled"}
	}
	return t, nil
}

// Data implements Handler: DKIM is verified once, and the message is
// ingested once for each distinct owner among the recipients (through the
// source of the first recipient of that owner), since one message feeds
// at most one request of an owner.
func (m *mxRelay) Data(ctx context.Context, s *Session, raw []byte) error {
	em, err := parse(raw)
	if err != nil {
		return err
	}
	res := verifyDKIM(ctx, raw, em.Sender, m.lookupTXT)
	seen := map[string]bool{}
	for _, r := range s.Recipients {
		t, ok := r.Value.(*mxTarget)
		if !ok || seen[t.ownerID] {
			continue
		}
		seen[t.ownerID] = true
		if err := m.ingest(ctx, t.ownerID, t.sourceID, raw, res, t.requireDKIM); err != nil {
			return err
		}
	}
	return nil
}
