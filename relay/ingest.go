package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// IncomingMessage is a message handed to the relay by a capture source.
// Either Raw (an RFC 5322 message) or the decoded fields are set.
type IncomingMessage struct {
	Source     string // "sms" or "email"
	Sender     string
	Subject    string
	Text       string
	HTML       string
	ReceivedAt time.Time // zero: now
	ExternalID string
	Raw        []byte
	// DKIM is the DKIM verification of an email received in MX mode; it
	// is kept in the metadata. RequireDKIM lets sender patterns match only
	// a From domain that DKIM vouches for (agentotp.Message.RequireDKIM).
	DKIM        *agentotp.DKIMResult
	RequireDKIM bool
}

// IngestResult says what became of a message. It never holds the code.
type IngestResult struct {
	MessageID string `json:"message_id"`
	Matched   bool   `json:"matched"`
	// Duplicate is set when the source had already delivered this
	// external id; nothing was done.
	Duplicate bool `json:"duplicate,omitempty"`
}

func (in *IncomingMessage) decode() error {
	if len(in.Raw) > 0 {
		em, err := extract.ParseEmail(in.Raw)
		if err != nil {
			return agentotp.FieldErr("body", "%v", err)
		}
		in.Source = agentotp.SourceEmail
		in.Sender, in.Subject, in.Text, in.HTML = em.Sender, em.Subject, em.Text, em.HTML
		if in.ExternalID == "" {
			in.ExternalID = em.MessageID
		}
		in.Raw = nil
	}
	var v agentotp.ValidationErrors
	if in.Source != agentotp.SourceSMS && in.Source != agentotp.SourceEmail {
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
func (s *Service) Ingest(ctx context.Context, p *Principal, in IncomingMessage) (_ *IngestResult, err error) {
	var dedupeKey, actor, testAgent string
	switch {
	case p.IsSource():
		src, err := s.store.GetSource(ctx, p.OwnerID, p.SourceID)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
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
	res := &IngestResult{MessageID: agentotp.NewID("msg_")}
	if in.ExternalID != "" {
		fresh, rerr := s.store.RecordMessage(ctx, dedupeKey, in.ExternalID, now)
		if rerr != nil {
			return nil, fmt.Errorf("ingest: %w", rerr)
		}
		if !fresh {
			res.Duplicate = true
			s.log.InfoContext(ctx, "duplicate message ignored", "message_id", res.MessageID)
			return res, nil
		}
		// Finish the message even if the source hangs up; if it cannot be
		// finished, forget its id so that the source's retry is taken.
		ctx = context.WithoutCancel(ctx)
		defer func() {
			if err != nil && agentotp.ErrorCode(err) == agentotp.EInternal {
				if ferr := s.store.ForgetMessage(ctx, dedupeKey, in.ExternalID); ferr != nil {
					s.log.ErrorContext(ctx, "forget failed message", "message_id", res.MessageID, "err", ferr)
				}
			}
		}()
	}
	received := now
	if !in.ReceivedAt.IsZero() && in.ReceivedAt.Before(now) {
		received = in.ReceivedAt.UTC().Truncate(time.Microsecond)
	}
	text := in.Text
	if text == "" && in.HTML != "" {
		text = extract.HTMLToText(in.HTML)
	}
	msg := &agentotp.Message{
		ID: res.MessageID, OwnerID: p.OwnerID, SourceID: p.SourceID, Source: in.Source,
		Sender: in.Sender, Subject: in.Subject, Text: text, ReceivedAt: received,
		ExternalID: in.ExternalID, TestAgentID: testAgent,
		DKIM: in.DKIM, RequireDKIM: in.RequireDKIM,
	}
	// Extract once without context (a message unreadable in any context is
	// refused), then once per distinct context of the live requests whose
	// filter matches, as deliver reaches them.
	codes := newCodeExtractor(extract.Message{Source: in.Source, Sender: in.Sender, Subject: in.Subject, Text: in.Text, HTML: in.HTML})
	if _, err := codes.run(extract.Context{}); err != nil {
		return nil, &agentotp.Error{Code: agentotp.EValidation, Message: "the message could not be read: " + err.Error()}
	}
	matched, err := s.deliver(ctx, msg, actor, func(r *agentotp.Request) ([]byte, []byte, agentotp.MessageMetadata, error) {
		result, err := codes.forRequest(r)
		if err != nil {
			return nil, nil, agentotp.MessageMetadata{}, err
		}
		md := agentotp.MessageMetadata{
			MessageID: res.MessageID, Source: in.Source, Sender: in.Sender,
			Subject: extract.RedactSubject(in.Subject, result), ReceivedAt: received,
			Confidence: result.Confidence, Domain: result.Domain, DKIM: in.DKIM,
		}
		payload, content, err := sealFor(r, result.Code, msg)
		return payload, content, md, err
	})
	if err != nil {
		return nil, err
	}
	if !matched && !codes.found {
		s.log.InfoContext(ctx, "message holds no code", "message_id", res.MessageID, "source", in.Source)
		return res, nil
	}
	res.Matched = matched
	s.log.InfoContext(ctx, "message ingested", "message_id", res.MessageID, "source", in.Source, "matched", matched)
	return res, nil
}

// sealFor seals the code (and, when asked for, the message text) to the
// request's key, bound to its id.
func sealFor(r *agentotp.Request, code string, msg *agentotp.Message) ([]byte, []byte, error) {
	key, err := seal.ParsePublicKey(r.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("seal for %s: %w", r.ID, err)
	}
	payload, err := key.Seal(r.ID, []byte(code))
	if err != nil {
		return nil, nil, fmt.Errorf("seal for %s: %w", r.ID, err)
	}
	var content []byte
	if r.IncludeMessage {
		full := msg.Text
		if msg.Subject != "" {
			full = "Subject: " + msg.Subject + "\n\n" + msg.Text
		}
		if content, err = key.Seal(r.ID, []byte(full)); err != nil {
			return nil, nil, fmt.Errorf("seal message for %s: %w", r.ID, err)
		}
	}
	return payload, content, nil
}

// deliver attaches sealed output to the oldest live request that msg
// matches. sealed is called once per candidate, with the request, so that
// the ciphertext (and the metadata) is bound to that request; when it
// returns errNoCodeForRequest the message holds no code for that request
// and the next one is tried.
func (s *Service) deliver(ctx context.Context, msg *agentotp.Message, actor string, sealed func(*agentotp.Request) ([]byte, []byte, agentotp.MessageMetadata, error)) (bool, error) {
	live, err := s.store.ListLiveRequests(ctx, msg.OwnerID)
	if err != nil {
		return false, fmt.Errorf("deliver: %w", err)
	}
	approvedFirst(live)
	active := map[string]bool{} // agent id → not revoked, looked up once per message
	for _, r := range live {
		if _, ok := active[r.AgentID]; !ok {
			a, err := s.store.GetAgent(ctx, r.OwnerID, r.AgentID)
			active[r.AgentID] = err == nil && a.Active()
		}
		if !active[r.AgentID] {
			continue
		}
		for {
			if !s.matches(r, msg) {
				break
			}
			payload, content, md, err := sealed(r)
			if errors.Is(err, errNoCodeForRequest) {
				break
			}
			if err != nil {
				return false, err
			}
			prev := r.Version
			now := s.Now()
			if err := r.Match(payload, content, md, now); err != nil {
				break
			}
			action := agentotp.AuditOTPReceived
			if r.Status == agentotp.StatusPending {
				action = agentotp.AuditMessageHeld
			}
			err = s.store.UpdateRequest(ctx, r, prev, s.requestAudit(r, actor, action, now, map[string]string{
				"message_id": msg.ID, "source": msg.Source, "sender": agentotp.SenderAddress(msg.Sender),
			}))
			if errors.Is(err, agentotp.ErrConflict) {
				// The request changed under us: read it again and retry.
				if r, err = s.store.GetRequest(ctx, r.ID); err != nil {
					return false, fmt.Errorf("deliver: %w", err)
				}
				continue
			}
			if err != nil {
				return false, fmt.Errorf("deliver to %s: %w", r.ID, err)
			}
			s.broker.Publish(r.OwnerID, r.ID)
			s.emit(ctx, r, action, actor, now)
			return true, nil
		}
	}
	return false, nil
}

// matches reports whether msg may feed r.
func (s *Service) matches(r *agentotp.Request, msg *agentotp.Message) bool {
	if !r.Status.Live() || r.Held() || r.ExpiredAt(s.Now()) {
		return false
	}
	if r.Test != (msg.TestAgentID != "") || (r.Test && r.AgentID != msg.TestAgentID) {
		return false
	}
	m, err := r.Filter.Compile()
	if err != nil {
		return false // validated at creation; a filter that no longer compiles matches nothing
	}
	return m.Match(msg, r.CreatedAt)
}

// approvedFirst orders candidate requests for a message: approved ones
// before those still waiting for approval, each oldest first. A request
// the owner has not approved yet (perhaps one without a filter) must not
// take the code that an approved request is waiting for.
func approvedFirst(live []*agentotp.Request) {
	rank := func(r *agentotp.Request) int {
		if r.Status == agentotp.StatusApproved {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(live, func(a, b *agentotp.Request) int { return rank(a) - rank(b) })
}
