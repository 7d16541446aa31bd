package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/extract"
	"github.com/agentotp/agentotp/seal"
)

// Limits on an ingested message.
const (
	MaxSenderLen     = 320
	MaxSubjectLen    = 1000
	MaxTextLen       = 256 << 10
	MaxExternalIDLen = 256
)

// IncomingMessage is a decoded message handed to the relay by a capture
// source (an SMS gateway, POST /v1/messages with JSON, a test key). Raw
// email comes in through IngestMail, which decodes it into one.
type IncomingMessage struct {
	Source     agentotp.Channel // ChannelSMS or ChannelEmail
	Sender     string
	Subject    string
	Text       string
	HTML       string
	ReceivedAt time.Time // zero: now
	ExternalID string
	// DKIM is the DKIM verification of an email received in MX mode; it
	// is kept in the metadata. RequireDKIM lets sender patterns match only
	// a From domain that DKIM vouches for (agentotp.Message.RequireDKIM).
	DKIM        *agentotp.DKIMResult
	RequireDKIM bool
}

// IngestMail takes a raw RFC 5322 email from p, a source token or a test
// key: the one way in for email, whatever fed it (SMTP, an IMAP mailbox,
// POST /v1/messages with message/rfc822). It is decoded by the one
// parser, given its external id by agentotp.MailExternalID, and ingested.
func (s *Service) IngestMail(ctx context.Context, p *Principal, m agentotp.Mail) (*agentotp.IngestResult, error) {
	em, err := extract.ParseEmail(m.Raw)
	if err != nil {
		return nil, agentotp.FieldErr("body", "is not a readable RFC 5322 email: %v", err)
	}
	return s.Ingest(ctx, p, IncomingMessage{
		Source: agentotp.ChannelEmail, Sender: em.Sender, Subject: em.Subject, Text: em.Text, HTML: em.HTML,
		ReceivedAt: m.ReceivedAt, ExternalID: agentotp.MailExternalID(em.MessageID, m.FeederID),
		DKIM: m.DKIM, RequireDKIM: m.RequireDKIM,
	})
}

// IngestSourceMail is IngestMail for a feeder inside the relay (the SMTP
// server, an IMAP connector) that speaks for the source sourceID of the
// owner. The source must be active and take email; otherwise the mail is
// refused with AUTHENTICATION_ERROR.
func (s *Service) IngestSourceMail(ctx context.Context, ownerID, sourceID string, m agentotp.Mail) (*agentotp.IngestResult, error) {
	if _, err := s.mailSource(ctx, ownerID, sourceID); err != nil {
		return nil, err
	}
	return s.IngestMail(ctx, &Principal{Kind: agentotp.CredentialSource, OwnerID: ownerID, SourceID: sourceID}, m)
}

// mailSource returns an active source of the owner that takes email;
// any other is errAuth.
func (s *Service) mailSource(ctx context.Context, ownerID, sourceID string) (*agentotp.Source, error) {
	src, err := s.store.GetSource(ctx, ownerID, sourceID)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errAuth
	}
	if err != nil {
		return nil, fmt.Errorf("mail source: %w", err)
	}
	if !src.Active() || !src.Allows(agentotp.ChannelEmail) {
		return nil, errAuth
	}
	return src, nil
}

// AuthenticateMailSource resolves a source token into its source, which
// must be active and take email: the SMTP server's AUTH.
func (s *Service) AuthenticateMailSource(ctx context.Context, token string) (*agentotp.Source, error) {
	p, err := s.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	if !p.IsSource() {
		return nil, errAuth
	}
	return s.mailSource(ctx, p.OwnerID, p.SourceID)
}

func (in *IncomingMessage) decode() error {
	var v agentotp.ValidationErrors
	if in.Source != agentotp.ChannelSMS && in.Source != agentotp.ChannelEmail {
		v.Add("source", `must be "sms" or "email"`)
	}
	if strings.TrimSpace(in.Sender) == "" {
		v.Add("sender", "is required")
	}
	check := func(field, val string, max int) {
		if len(val) > max {
			v.Add(field, "is %d bytes; at most %d allowed", len(val), max)
		} else if !utf8.ValidString(val) {
			v.Add(field, "must be valid UTF-8")
		}
	}
	check("sender", in.Sender, MaxSenderLen)
	check("subject", in.Subject, MaxSubjectLen)
	check("text", in.Text, MaxTextLen)
	check("html", in.HTML, MaxTextLen)
	check("external_id", in.ExternalID, MaxExternalIDLen)
	if in.Text == "" && in.HTML == "" && in.Subject == "" {
		v.Add("text", "text, html or subject is required")
	}
	return v.Err()
}

// Ingest takes a message from capture source p (or, for p a test key, a
// test message), extracts its code and feeds it to at most one request:
// the oldest live request of the owner whose filter matches.
func (s *Service) Ingest(ctx context.Context, p *Principal, in IncomingMessage) (_ *agentotp.IngestResult, err error) {
	var dedupeKey, actor, testAgent string
	switch {
	case p.IsSource():
		src := &agentotp.Source{Kind: p.SourceKind}
		if src.Kind == "" {
			var err error
			if src, err = s.store.GetSource(ctx, p.OwnerID, p.SourceID); err != nil {
				return nil, fmt.Errorf("ingest: %w", err)
			}
		}
		if err := in.decode(); err != nil {
			return nil, err
		}
		if !src.Allows(in.Source) {
			return nil, agentotp.FieldErr("source", "does not match the kind of the token's source")
		}
		dedupeKey, actor = p.SourceID, agentotp.ActorSource(p.SourceID)
	case p.IsAgent() && p.Test:
		if err := in.decode(); err != nil {
			return nil, err
		}
		dedupeKey, actor, testAgent = "test:"+p.AgentID, agentotp.ActorAgent(p.AgentID), p.AgentID
	case p.IsAgent():
		return nil, agentotp.Errorf(agentotp.EForbidden, "only test keys (ak_test_) may post test messages")
	default:
		return nil, errAuth
	}
	now := s.Now()
	res := &agentotp.IngestResult{MessageID: agentotp.NewID("msg_")}
	// The message's id is recorded in the transaction that delivers it
	// (or, when it feeds no request, once it has been processed), never
	// before: a crash in between must leave the source's retry welcome.
	var seen *agentotp.MessageRecord
	if in.ExternalID != "" {
		dup, rerr := s.store.MessageSeen(ctx, dedupeKey, in.ExternalID)
		if rerr != nil {
			return nil, fmt.Errorf("ingest: %w", rerr)
		}
		if dup {
			return s.duplicate(ctx, res), nil
		}
		seen = &agentotp.MessageRecord{SourceID: dedupeKey, ExternalID: in.ExternalID, At: now}
		// Finish the message even if the source hangs up.
		ctx = context.WithoutCancel(ctx)
	}
	received := now
	if !in.ReceivedAt.IsZero() && in.ReceivedAt.Before(now) {
		received = in.ReceivedAt.UTC().Truncate(time.Microsecond)
	}
	body := extract.NewBody(in.Text, in.HTML) // the HTML is converted once
	msg := &agentotp.Message{
		ID: res.MessageID, OwnerID: p.OwnerID, SourceID: p.SourceID, Channel: in.Source,
		Sender: in.Sender, Subject: in.Subject, Text: body.Plain(), ReceivedAt: received,
		ExternalID: in.ExternalID, TestAgentID: testAgent,
		DKIM: in.DKIM, RequireDKIM: in.RequireDKIM,
	}
	// Extract once without context (a message unreadable in any context is
	// refused), then once per distinct context of the live requests whose
	// filter matches, as feedMessage reaches them.
	codes := newCodeExtractor(body.Message(string(in.Source), in.Sender, in.Subject))
	if _, err := codes.run(extract.Context{}); err != nil {
		return nil, agentotp.Errorf(agentotp.EValidation, "the message could not be read: %v", err)
	}
	matched, wanted, err := s.feedMessage(ctx, msg, actor, seen, func(r *agentotp.Request) (string, agentotp.MessageMetadata, error) {
		result, err := codes.forRequest(r)
		if err != nil {
			return "", agentotp.MessageMetadata{}, err
		}
		return result.Code, agentotp.MessageMetadata{
			MessageID: res.MessageID, Source: in.Source, Sender: in.Sender,
			Subject: extract.RedactSubject(in.Subject, result), ReceivedAt: received,
			Confidence: result.Confidence, Domain: result.Domain, DKIM: in.DKIM,
		}, nil
	})
	if errors.Is(err, agentotp.ErrDuplicateMessage) {
		return s.duplicate(ctx, res), nil // a concurrent delivery of the same message took it
	}
	if err != nil {
		return nil, err
	}
	res.Matched = matched
	if !matched && seen != nil {
		fresh, err := s.store.RecordMessage(ctx, seen.SourceID, seen.ExternalID, seen.At)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		if !fresh {
			return s.duplicate(ctx, res), nil
		}
	}
	if !matched && !codes.found {
		// Say whether a request wanted the message, never what it held.
		res.Reason = agentotp.IngestNoMatch
		if wanted > 0 {
			res.Reason = agentotp.IngestNoCode
		}
		s.log.InfoContext(ctx, "message holds no code", "message_id", res.MessageID, "source", in.Source, "reason", res.Reason)
		return res, nil
	}
	if !matched {
		res.Reason = agentotp.IngestNoMatch
	}
	s.log.InfoContext(ctx, "message ingested", "message_id", res.MessageID, "source", in.Source, "matched", matched)
	return res, nil
}

// duplicate is the answer to a message that was taken already.
func (s *Service) duplicate(ctx context.Context, res *agentotp.IngestResult) *agentotp.IngestResult {
	res.Duplicate, res.Matched, res.Reason = true, false, ""
	s.log.InfoContext(ctx, "duplicate message ignored", "message_id", res.MessageID)
	return res
}

// candidates lists the live requests that msg may feed, in the order they
// are offered it (approved first, then oldest first), leaving out those of
// revoked agents.
func (s *Service) candidates(ctx context.Context, msg *agentotp.Message) ([]*agentotp.Request, error) {
	now := s.Now()
	cands, err := s.index.candidates(ctx, msg, func(e *indexEntry) bool {
		return !e.held && s.matchesEntry(e.req, e.live, msg, now)
	})
	if err != nil {
		return nil, fmt.Errorf("feed message: %w", err)
	}
	active := map[string]bool{} // agent id → not revoked, looked up once per message
	out := cands[:0]
	for _, r := range cands {
		if _, ok := active[r.AgentID]; !ok {
			a, err := s.store.GetAgent(ctx, r.OwnerID, r.AgentID)
			active[r.AgentID] = err == nil && a.Active()
		}
		if active[r.AgentID] {
			out = append(out, r)
		}
	}
	return out, nil
}

// feedMessage seals the code (and, when asked for, the message text) to the
// first candidate request that still takes msg when the change commits,
// bound to that request's id. codeFor gives the code and metadata for one
// request (extraction depends on the request's context); when it returns
// errNoCodeForRequest the message holds no code for that request and the
// next candidate is tried.
func (s *Service) feedMessage(ctx context.Context, msg *agentotp.Message, actor string, seen *agentotp.MessageRecord, codeFor func(*agentotp.Request) (string, agentotp.MessageMetadata, error)) (matched bool, wanted int, err error) {
	cands, err := s.candidates(ctx, msg)
	if err != nil {
		return false, 0, err
	}
	matched, wanted, err = s.feedCandidates(ctx, cands, msg, actor, seen, codeFor)
	if matched || err != nil || !s.shared.Load() {
		return matched, wanted, err
	}
	// On a store that several relays share, the index hears of another
	// relay's change a moment after it commits: a message that arrives in
	// that moment, for a request created or approved elsewhere, would
	// find nothing. So a message that fed nothing reads its owner's live
	// requests again from the store, and is offered once more if any of
	// them had changed (relay/cluster.go).
	if !s.refreshOwner(ctx, msg.OwnerID) {
		return false, wanted, nil
	}
	if cands, err = s.candidates(ctx, msg); err != nil {
		return false, wanted, err
	}
	return s.feedCandidates(ctx, cands, msg, actor, seen, codeFor)
}

// feedCandidates is feedMessage's offer of msg to cands, in order.
func (s *Service) feedCandidates(ctx context.Context, cands []*agentotp.Request, msg *agentotp.Message, actor string, seen *agentotp.MessageRecord, codeFor func(*agentotp.Request) (string, agentotp.MessageMetadata, error)) (matched bool, wanted int, err error) {
	for _, c := range cands {
		code, md, err := codeFor(c)
		if errors.Is(err, errNoCodeForRequest) {
			continue
		}
		if err != nil {
			return false, len(cands), err
		}
		_, err = s.updateSeen(ctx, c.ID, c, seen, func(r *agentotp.Request, now time.Time) (agentotp.AuditEntry, error) {
			if !s.stillMatches(r, msg) {
				return agentotp.AuditEntry{}, errSkip
			}
			key, err := s.liveOf(r).sealKey()
			if err != nil {
				return agentotp.AuditEntry{}, err
			}
			payload, content, err := seal.SealOTP(key, r.ID, code, r.IncludeMessage, msg.Subject, msg.Text)
			if err != nil {
				return agentotp.AuditEntry{}, err
			}
			if r.Match(payload, content, md, now) != nil {
				return agentotp.AuditEntry{}, errSkip
			}
			return s.requestAudit(r, actor, receivedAction(r), now, map[string]string{
				"message_id": msg.ID, "source": string(msg.Channel), "sender": agentotp.SenderAddress(msg.Sender),
			}), nil
		})
		switch {
		case err == nil:
			return true, len(cands), nil
		case errors.Is(err, agentotp.ErrDuplicateMessage):
			return false, len(cands), err
		case errors.Is(err, errSkip), agentotp.ErrorCode(err) != agentotp.EInternal:
			continue // taken, decided or ended meanwhile: the next one
		default:
			return false, len(cands), err
		}
	}
	return false, len(cands), nil
}

// receivedAction is the audit action of a message attached to r: the code
// is received, or held until the owner approves.
func receivedAction(r *agentotp.Request) string {
	if r.Status == agentotp.StatusPending {
		return agentotp.AuditMessageHeld
	}
	return agentotp.AuditOTPReceived
}

// stillMatches reports whether msg, which matched r's filter when r was
// chosen, may still feed r as it stands now (a filter never changes, so
// its content pattern is not run again).
func (s *Service) stillMatches(r *agentotp.Request, msg *agentotp.Message) bool {
	if r.Held() || !r.Status.Live() || r.ExpiredAt(s.Now()) {
		return false
	}
	if r.Test != (msg.TestAgentID != "") || (r.Test && r.AgentID != msg.TestAgentID) {
		return false
	}
	m, _ := s.liveOf(r).matchers()
	return m != nil && m.MatchMeta(msg, r.CreatedAt)
}

// matchesEntry reports whether msg may feed r, not held, whose compiled
// filter is in le.
func (s *Service) matchesEntry(r *agentotp.Request, le *liveEntry, msg *agentotp.Message, now time.Time) bool {
	if !r.Status.Live() || r.ExpiredAt(now) {
		return false
	}
	if r.Test != (msg.TestAgentID != "") || (r.Test && r.AgentID != msg.TestAgentID) {
		return false
	}
	m, _ := le.matchers()
	return m != nil && m.Match(msg, r.CreatedAt) // a filter that no longer compiles matches nothing
}
