package smtp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/extract"
	"github.com/agentotp/agentotp/relay"
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

// NewRelay returns the Handler that feeds svc. In the default mode it is
// also an Authenticator: AUTH PLAIN/LOGIN with any user name and an email
// (or generic) source token as the password; the mail goes to that
// source's owner. With opts.Open it is the MX-mode handler.
//
// Each message is decoded (extract.ParseEmail) and given to svc.Ingest,
// which seals the code to the oldest matching request and keeps nothing of
// a message that matched none; the only trace is a hash of its Message-ID,
// so that a sender's retry is not taken twice.
func NewRelay(svc *relay.Service, opts RelayOptions) (Handler, error) {
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
	owners, err := svc.Store().ListOwners(ctx)
	if err != nil {
		return nil, fmt.Errorf("smtp: MX mode: %w", err)
	}
	for domain, sourceID := range opts.Domains {
		domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
		if domain == "" || strings.ContainsAny(domain, "@ /") {
			return nil, fmt.Errorf("smtp: MX mode: %q is not a domain", domain)
		}
		src, err := findSource(ctx, svc, owners, sourceID)
		if err != nil {
			return nil, fmt.Errorf("smtp: MX mode: domain %s: %w", domain, err)
		}
		if !src.Allows(agentotp.SourceEmail) || !src.Active() {
			return nil, fmt.Errorf("smtp: MX mode: domain %s: source %s is not an active email or generic source", domain, sourceID)
		}
		m.domains[domain] = &mxTarget{ownerID: src.OwnerID, sourceID: src.ID, requireDKIM: !opts.DKIMOptional[src.ID]}
	}
	return m, nil
}

func findSource(ctx context.Context, svc *relay.Service, owners []*agentotp.Owner, id string) (*agentotp.Source, error) {
	for _, o := range owners {
		src, err := svc.Store().GetSource(ctx, o.ID, id)
		if errors.Is(err, agentotp.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	return nil, fmt.Errorf("no source %q", id)
}

type relayBase struct {
	svc *relay.Service
	log *slog.Logger
}

// ingest decodes raw and hands it to the relay as p. It returns the SMTP
// reply for a refusal.
func (b *relayBase) ingest(ctx context.Context, p *relay.Principal, em extract.Email, dkim *agentotp.DKIMResult, requireDKIM bool) error {
	in := relay.IncomingMessage{
		Source: agentotp.SourceEmail, Sender: em.Sender, Subject: em.Subject, Text: em.Text, HTML: em.HTML,
		DKIM: dkim, RequireDKIM: requireDKIM,
	}
	if em.MessageID != "" {
		// Only a hash of the Message-ID is kept, for de-duplication.
		sum := sha256.Sum256([]byte(em.MessageID))
		in.ExternalID = "smtp:" + hex.EncodeToString(sum[:16])
	}
	res, err := b.svc.Ingest(ctx, p, in)
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
	b.log.InfoContext(ctx, "smtp: message taken", "message_id", res.MessageID, "matched", res.Matched, "duplicate", res.Duplicate)
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
	p, err := a.svc.Authenticate(ctx, password)
	if err != nil || !p.IsSource() {
		return nil, ErrAuthFailed
	}
	src, err := a.svc.Store().GetSource(ctx, p.OwnerID, p.SourceID)
	if err != nil || !src.Allows(agentotp.SourceEmail) {
		return nil, ErrAuthFailed
	}
	return p, nil
}

// Rcpt implements Handler: any recipient is accepted; the mail goes to the
// authenticated source's owner whatever the address.
func (a *authRelay) Rcpt(context.Context, *Session, string) (any, error) { return nil, nil }

// Data implements Handler.
func (a *authRelay) Data(ctx context.Context, s *Session, raw []byte) error {
	p, ok := s.Identity.(*relay.Principal)
	if !ok {
		return ErrAuthRequired
	}
	// The token may have been revoked since AUTH.
	if src, err := a.svc.Store().GetSource(ctx, p.OwnerID, p.SourceID); err != nil || !src.Active() {
		return ErrAuthFailed
	}
	em, err := parse(raw)
	if err != nil {
		return err
	}
	return a.ingest(ctx, p, em, nil, false)
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
	src, err := m.svc.Store().GetSource(ctx, t.ownerID, t.sourceID)
	if err != nil {
		if errors.Is(err, agentotp.ErrNotFound) {
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
		p := &relay.Principal{Kind: agentotp.CredentialSource, OwnerID: t.ownerID, SourceID: t.sourceID}
		if err := m.ingest(ctx, p, em, res, t.requireDKIM); err != nil {
			return err
		}
	}
	return nil
}
