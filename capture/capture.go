// Package capture is edge capture: it runs on the owner's machine (or
// beside the phone gateway), where the messages are, and keeps the code
// away from the relay. For each message it fetches the owner's live
// requests from the relay (GET /v1/capture/requests), matches the message
// against their filters and extracts the code locally, seals the code to
// the chosen request's public key locally, and posts only the ciphertext
// and the message's metadata, with any code in the subject masked
// (POST /v1/capture/deliveries). The relay treats a delivery exactly like
// a match of its own, but never holds the plaintext.
//
// Messages come in through Capture, from any feeder: a raw email on stdin,
// the local SMTP receiver of NewSMTPHandler, an IMAP connector.
package capture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/extract"
	"github.com/agentotp/agentotp/seal"
)

// Message is a message seen at the edge. It never leaves the edge: only
// its metadata does.
type Message struct {
	Source  agentotp.Channel // ChannelSMS or ChannelEmail
	Sender  string           // SMS number or name; an email's From header
	Subject string
	Text    string
	HTML    string
	// ReceivedAt is when the message arrived. Zero means "just now": a
	// live message (SMTP, stdin), taken as received after every request
	// the relay lists, so the edge's clock does not have to agree with
	// the relay's. A feeder that reads stored mail (IMAP) sets it.
	ReceivedAt time.Time
	// ExternalID, when set, lets the relay ignore a second delivery of the
	// same message by this source.
	ExternalID string
}

// FromEmail decodes a raw RFC 5322 email into a Message.
func FromEmail(raw []byte) (Message, error) {
	em, err := extract.ParseEmail(raw)
	if err != nil {
		return Message{}, fmt.Errorf("capture: %w", err)
	}
	m := Message{Source: agentotp.ChannelEmail, Sender: em.Sender, Subject: em.Subject, Text: em.Text, HTML: em.HTML}
	if em.MessageID != "" {
		// The relay gets a hash of the Message-ID only, to ignore a resend.
		sum := sha256.Sum256([]byte(em.MessageID))
		m.ExternalID = "mid:" + hex.EncodeToString(sum[:16])
	}
	return m, nil
}

// Result says what became of a message. It never holds the code.
type Result struct {
	Matched   bool
	RequestID string
	Status    client.Status // the request's status after the delivery
	Duplicate bool
	// Reason explains an unmatched message.
	Reason string
}

// Config configures a Capturer.
type Config struct {
	// Server is the relay's base URL; Token a source token (sk_…).
	Server, Token string
	// HTTPClient, when set, makes the calls.
	HTTPClient *http.Client
	// Logger receives the capturer's logs (never a code or message
	// text); nil discards them.
	Logger *slog.Logger
	// Trust holds the owner's pinned public keys. With Strict, a code is
	// sealed only for a request whose approval the owner signed with one
	// of them and whose key, filter, include_message and expiry are what
	// the owner approved; the relay's word alone never lets a code out.
	// Without Strict, an unsigned approval or none at all is taken too
	// (the relay is trusted), though a statement that is there must still
	// cover the request.
	Trust  *approval.Trust
	Strict bool
}

// Capturer matches, extracts and seals at the edge.
type Capturer struct {
	sc     *client.SourceClient
	log    *slog.Logger
	trust  *approval.Trust
	strict bool
}

// New returns a capturer that talks to cfg.Server with cfg.Token.
func New(cfg Config) *Capturer {
	opts := []client.Option{client.WithBaseURL(cfg.Server)}
	if cfg.HTTPClient != nil {
		opts = append(opts, client.WithHTTPClient(cfg.HTTPClient))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	trust := cfg.Trust
	if trust == nil {
		trust = &approval.Trust{} // no pinned key: only unsigned approvals, and only when not strict
	}
	return &Capturer{sc: client.NewSourceClient(cfg.Token, opts...), log: log, trust: trust, strict: cfg.Strict}
}

// Requests returns the live requests this source may feed (the relay's
// view, fetched now).
func (c *Capturer) Requests(ctx context.Context) ([]client.CaptureRequest, error) {
	rs, err := c.sc.CaptureRequests(ctx)
	if err != nil {
		return nil, fmt.Errorf("capture: list live requests: %w", err)
	}
	return rs, nil
}

// Capture takes one message: if it holds a code and matches a live
// request (the oldest that matches, as the relay would choose), the code
// is sealed to that request and delivered. A request that changed in the
// meantime is skipped for the next one.
func (c *Capturer) Capture(ctx context.Context, m Message) (*Result, error) {
	if m.Source != agentotp.ChannelSMS && m.Source != agentotp.ChannelEmail {
		return nil, fmt.Errorf("capture: source must be %q or %q", agentotp.ChannelSMS, agentotp.ChannelEmail)
	}
	text := m.Text
	if text == "" && m.HTML != "" {
		text = extract.HTMLToText(m.HTML)
	}
	res, err := extract.Extract(extract.Message{Source: string(m.Source), Sender: m.Sender, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
	if err != nil {
		return nil, fmt.Errorf("capture: read the message: %w", err)
	}
	if res.Code == "" {
		c.log.InfoContext(ctx, "capture: the message holds no code", "source", m.Source)
		return &Result{Reason: "the message holds no code"}, nil
	}
	reqs, err := c.Requests(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	var refused []string
	for _, r := range reqs {
		received := m.ReceivedAt
		if received.IsZero() {
			received = now
			if received.Before(r.CreatedAt) {
				received = r.CreatedAt // a live message: after the request by definition
			}
		}
		f := agentotp.Filter{Sources: agentotp.Channels(r.Filter.Sources), SenderPattern: r.Filter.SenderPattern,
			ContentPattern: r.Filter.ContentPattern, ReceivedAfter: r.Filter.ReceivedAfter}
		matcher, err := f.Compile()
		if err != nil {
			continue
		}
		msg := &agentotp.Message{Channel: m.Source, Sender: m.Sender, Subject: m.Subject, Text: text, ReceivedAt: received}
		if !matcher.Match(msg, r.CreatedAt) {
			continue
		}
		key, err := seal.ParsePublicKey(r.PublicKey)
		if err != nil {
			c.log.WarnContext(ctx, "capture: a request's key does not parse", "request_id", r.ID, "err", err)
			continue
		}
		if err := c.approved(r, key, now); err != nil {
			c.log.WarnContext(ctx, "capture: refused to seal", "request_id", r.ID, "why", err.Error())
			refused = append(refused, err.Error())
			continue
		}
		d, err := sealFor(r, key, res, m, text)
		if err != nil {
			c.log.WarnContext(ctx, "capture: cannot seal to a request's key", "request_id", r.ID, "err", err)
			continue
		}
		out, err := c.sc.Deliver(ctx, *d)
		if err != nil {
			if changed(err) {
				c.log.InfoContext(ctx, "capture: the request changed meanwhile; trying the next", "request_id", r.ID)
				continue
			}
			return nil, fmt.Errorf("capture: deliver to %s: %w", r.ID, err)
		}
		c.log.InfoContext(ctx, "capture: delivered", "request_id", r.ID, "status", out.Status, "duplicate", out.Duplicate)
		return &Result{Matched: !out.Duplicate, RequestID: r.ID, Status: out.Status, Duplicate: out.Duplicate}, nil
	}
	if len(refused) > 0 {
		return &Result{Reason: "matching requests refused: " + strings.Join(refused, "; ")}, nil
	}
	c.log.InfoContext(ctx, "capture: no live request matches the message", "source", m.Source, "live", len(reqs))
	return &Result{Reason: "no live request matches the message"}, nil
}

// approved checks r's approval against the pinned owner keys, with the key
// fingerprint and algorithm computed here from the key the relay handed
// over.
func (c *Capturer) approved(r client.CaptureRequest, key *seal.PublicKey, now time.Time) error {
	var a *approval.Signed
	if r.Approval != nil {
		a = &approval.Signed{Statement: r.Approval.Statement, Method: r.Approval.Method, KeyID: r.Approval.KeyID, Signature: r.Approval.Signature}
	}
	req := &agentotp.Request{
		ID: r.ID, OwnerID: r.OwnerID, AgentID: r.AgentID,
		KeyFingerprint: r.PublicKeyFingerprint, Encryption: string(r.Encryption),
		Filter: agentotp.Filter{Sources: agentotp.Channels(r.Filter.Sources), SenderPattern: r.Filter.SenderPattern,
			ContentPattern: r.Filter.ContentPattern, ReceivedAfter: r.Filter.ReceivedAfter},
		IncludeMessage: r.IncludeMessage, ExpiresAt: r.ExpiresAt,
	}
	return c.trust.Check(a, req, key.Fingerprint(), string(key.Algorithm()), now, c.strict)
}

// sealFor seals the code (and the text, when the request asks for it) to
// r's key and builds the delivery. The subject is masked as the relay
// masks subjects.
func sealFor(r client.CaptureRequest, key *seal.PublicKey, res extract.Result, m Message, text string) (*client.Delivery, error) {
	if string(key.Algorithm()) != string(r.Encryption) {
		return nil, fmt.Errorf("the key is %s, the request says %s", key.Algorithm(), r.Encryption)
	}
	payload, err := key.Seal(r.ID, []byte(res.Code))
	if err != nil {
		return nil, err
	}
	d := &client.Delivery{
		RequestID: r.ID, EncryptedPayload: payload, ExternalID: m.ExternalID,
		Metadata: client.DeliveryMetadata{
			Source: string(m.Source), Sender: m.Sender, Subject: extract.RedactSubject(m.Subject, res),
			ReceivedAt: m.ReceivedAt, Confidence: res.Confidence, Domain: res.Domain,
		},
	}
	if r.IncludeMessage && !key.Algorithm().IsRSA() {
		full := text
		if m.Subject != "" {
			full = "Subject: " + m.Subject + "\n\n" + text
		}
		if d.EncryptedContent, err = key.Seal(r.ID, []byte(full)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// changed reports whether a delivery failed because the request is no
// longer open to it (taken, decided, expired, gone).
func changed(err error) bool {
	var e *client.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case agentotp.EOTPNotFound, agentotp.EOTPExpired, agentotp.EOTPCancelled, agentotp.EOTPAlreadyConsumed,
		agentotp.EOTPApprovalDenied, agentotp.EConflict:
		return true
	}
	return false
}
