package relay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/seal"
)

// Edge capture: `agentotp capture` runs on the owner's machine, next to the
// inbox or the phone gateway. It asks the relay for the owner's live
// requests (CaptureRequests), matches, extracts and seals there, and hands
// the relay only the ciphertext and the metadata (DeliverSealed). The relay never
// sees the code.

// Limits on a delivery from an edge capture.
const (
	// MaxCodeLen bounds the sealed code, in bytes of plaintext.
	MaxCodeLen = 64
	// maxDeliveryContent bounds the sealed message text.
	maxDeliveryContent = MaxSubjectLen + MaxTextLen + 64
	maxDomainLen       = 255
)

// CaptureRequests lists the requests an edge capture running with source
// token p may feed: the owner's live requests that hold no code yet, have
// not expired, are not test requests, and want a kind of message this
// source delivers. They carry the filter and the public key, which an edge
// needs to match and seal; never ciphertext.
func (s *Service) CaptureRequests(ctx context.Context, p *Principal) ([]*agentotp.Request, error) {
	if !p.IsSource() {
		return nil, errAuth
	}
	src, err := s.store.GetSource(ctx, p.OwnerID, p.SourceID)
	if err != nil {
		return nil, fmt.Errorf("capture requests: %w", err)
	}
	now := s.Now()
	// In the order the edge feeds the first match, as feedMessage does.
	out, err := s.index.all(ctx, p.OwnerID, func(e *indexEntry) bool {
		r := e.req
		if e.held || r.ExpiredAt(now) || r.Test {
			return false
		}
		return (src.Allows(agentotp.ChannelSMS) && r.Filter.WantsChannel(agentotp.ChannelSMS)) ||
			(src.Allows(agentotp.ChannelEmail) && r.Filter.WantsChannel(agentotp.ChannelEmail))
	})
	if err != nil {
		return nil, fmt.Errorf("capture requests: %w", err)
	}
	return out, nil
}

// Delivery is what an edge capture hands the relay for one request: the
// code and (when the request asked for it) the message text, both sealed
// to the request's key at the edge, and the message's metadata.
type Delivery struct {
	RequestID string
	Payload   []byte // the sealed code
	Content   []byte // the sealed message text, only for include_message requests
	// Metadata of the message: Source, Sender, Subject (with the code
	// masked, see extract.RedactSubject), ReceivedAt, Confidence, Domain.
	Source     agentotp.Channel
	Sender     string
	Subject    string
	ReceivedAt time.Time
	Confidence float64
	Domain     string
	// ExternalID, when set, makes a second delivery of the same message
	// by this source a no-op.
	ExternalID string
}

// DeliveryResult says what became of a delivery.
type DeliveryResult struct {
	MessageID string          `json:"message_id"`
	RequestID string          `json:"request_id"`
	Status    agentotp.Status `json:"status,omitempty"` // the request's status after the delivery
	Duplicate bool            `json:"duplicate,omitempty"`
}

func (d *Delivery) validate() error {
	var v agentotp.ValidationErrors
	if d.RequestID == "" {
		v.Add("request_id", "is required")
	} else if len(d.RequestID) > 64 || !utf8.ValidString(d.RequestID) {
		v.Add("request_id", "is not a request id")
	}
	switch {
	case len(d.Payload) == 0:
		v.Add("encrypted_payload", "is required")
	case len(d.Payload) > 8<<10:
		v.Add("encrypted_payload", "is %d bytes; at most %d allowed", len(d.Payload), 8<<10)
	}
	if len(d.Content) > maxDeliveryContent {
		v.Add("encrypted_content", "is %d bytes; at most %d allowed", len(d.Content), maxDeliveryContent)
	}
	if d.Source != agentotp.ChannelSMS && d.Source != agentotp.ChannelEmail {
		v.Add("metadata.source", `must be "sms" or "email"`)
	}
	check := func(field, val string, max int) {
		if len(val) > max {
			v.Add(field, "is %d bytes; at most %d allowed", len(val), max)
		} else if !utf8.ValidString(val) {
			v.Add(field, "must be valid UTF-8")
		}
	}
	if strings.TrimSpace(d.Sender) == "" {
		v.Add("metadata.sender", "is required")
	}
	check("metadata.sender", d.Sender, MaxSenderLen)
	check("metadata.subject", d.Subject, MaxSubjectLen)
	check("metadata.domain", d.Domain, maxDomainLen)
	check("external_id", d.ExternalID, MaxExternalIDLen)
	if math.IsNaN(d.Confidence) || d.Confidence < 0 || d.Confidence > 1 {
		v.Add("metadata.confidence", "must be between 0 and 1")
	}
	return v.Err()
}

// DeliverSealed attaches an edge capture's sealed code to one request of the
// source's owner, exactly as an in-process match would (feedMessage): the
// request must be live, hold no code, not be a test request, and its filter
// must admit the message as far as the metadata tells (source, sender,
// receipt time; a content pattern was checked at the edge, which alone saw
// the text). A request of another owner is not found.
func (s *Service) DeliverSealed(ctx context.Context, p *Principal, d Delivery) (*DeliveryResult, error) {
	if !p.IsSource() {
		return nil, errAuth
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	src, err := s.store.GetSource(ctx, p.OwnerID, p.SourceID)
	if err != nil {
		return nil, fmt.Errorf("deliver sealed: %w", err)
	}
	if !src.Allows(d.Source) {
		return nil, agentotp.FieldErr("metadata.source", "does not match the kind of the token's source")
	}
	now := s.Now()
	received := now
	if !d.ReceivedAt.IsZero() && d.ReceivedAt.Before(now) {
		received = d.ReceivedAt.UTC().Truncate(time.Microsecond)
	}
	r, err := s.load(ctx, d.RequestID)
	if err != nil {
		return nil, err
	}
	if r.OwnerID != p.OwnerID {
		return nil, errOTPNotFound
	}
	res := &DeliveryResult{MessageID: agentotp.NewID("msg_"), RequestID: r.ID}
	// A message already delivered (to this request or another) is not
	// delivered again: the edge may resend after a lost answer, or be run
	// twice on the same mail. The id is recorded once the delivery took.
	dedupe := ""
	if d.ExternalID != "" {
		dedupe = "edge:" + d.ExternalID
		seen, err := s.store.MessageSeen(ctx, p.SourceID, dedupe)
		if err != nil {
			return nil, fmt.Errorf("deliver sealed: %w", err)
		}
		if seen {
			res.Duplicate, res.Status = true, r.Status
			s.log.InfoContext(ctx, "duplicate delivery ignored", "message_id", res.MessageID, "request_id", r.ID)
			return res, nil
		}
	}
	md := agentotp.MessageMetadata{
		MessageID: res.MessageID, Source: d.Source, Sender: d.Sender, Subject: d.Subject,
		ReceivedAt: received, Confidence: d.Confidence, Domain: d.Domain,
	}
	actor := agentotp.ActorSource(p.SourceID)
	var seen *agentotp.MessageRecord
	if dedupe != "" { // recorded with the delivery, in its transaction
		seen = &agentotp.MessageRecord{SourceID: p.SourceID, ExternalID: dedupe, At: now}
	}
	before := r.Status
	r, err = s.updateSeen(ctx, r.ID, r, seen, func(r *agentotp.Request, now time.Time) (agentotp.AuditEntry, error) {
		if err := s.deliverable(r, &d, received); err != nil {
			return agentotp.AuditEntry{}, err
		}
		if err := r.Match(d.Payload, d.Content, md, now); err != nil {
			return agentotp.AuditEntry{}, err
		}
		return s.requestAudit(r, actor, receivedAction(r), now, map[string]string{
			"message_id": md.MessageID, "source": string(d.Source), "sender": agentotp.SenderAddress(d.Sender), "capture": "edge",
		}), nil
	})
	if errors.Is(err, agentotp.ErrDuplicateMessage) {
		res.Duplicate, res.Status = true, before
		s.log.InfoContext(ctx, "duplicate delivery ignored", "message_id", res.MessageID, "request_id", res.RequestID)
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	res.Status = r.Status
	s.log.InfoContext(ctx, "edge delivery attached", "message_id", md.MessageID, "request_id", r.ID, "source", d.Source, "status", r.Status)
	return res, nil
}

// deliverable checks that d may feed r.
func (s *Service) deliverable(r *agentotp.Request, d *Delivery, received time.Time) error {
	switch {
	case r.Status.Final():
		return agentotp.FinalError(r.Status)
	case r.Test:
		return agentotp.Errorf(agentotp.EConflict, "a test request takes no real message")
	case r.Held() || !r.Status.Live():
		return agentotp.Errorf(agentotp.EConflict, "a code was already received for this request")
	case r.ExpiredAt(s.Now()):
		return agentotp.FinalError(agentotp.StatusExpired)
	}
	if len(d.Content) > 0 && !r.IncludeMessage {
		return agentotp.FieldErr("encrypted_content", "must be absent: the request did not ask for the message")
	}
	lc := s.liveOf(r)
	_, m := lc.matchers() // only the edge saw the text: no content pattern
	if m == nil {
		return agentotp.Errorf(agentotp.EConflict, "the request's filter no longer compiles")
	}
	msg := &agentotp.Message{Channel: d.Source, Sender: d.Sender, ReceivedAt: received}
	if !m.Match(msg, r.CreatedAt) {
		return agentotp.FieldErr("metadata", "does not pass the request's filter")
	}
	return checkCiphertext(r, lc, d)
}

// checkCiphertext refuses ciphertext that cannot be a code sealed to the
// request's key: an RSA-OAEP ciphertext is exactly the modulus size, an
// HPKE one is the fixed overhead (enc and tag) plus 1 to MaxCodeLen bytes.
func checkCiphertext(r *agentotp.Request, lc *liveEntry, d *Delivery) error {
	key, err := lc.sealKey()
	if err != nil {
		return fmt.Errorf("deliver sealed: %w", err)
	}
	empty, err := key.Seal(r.ID, nil)
	if err != nil {
		return fmt.Errorf("deliver sealed: %w", err)
	}
	overhead := len(empty)
	bad := func(field, why string) error {
		return agentotp.FieldErr(field, "%s", why)
	}
	switch key.Algorithm() {
	case seal.RSAOAEP256, seal.RSAOAEP256Bound:
		if len(d.Payload) != overhead {
			return bad("encrypted_payload", fmt.Sprintf("is %d bytes; an %s ciphertext for this key is %d", len(d.Payload), key.Algorithm(), overhead))
		}
		if len(d.Content) > 0 {
			return bad("encrypted_content", "needs an HPKE key")
		}
	default:
		if n := len(d.Payload) - overhead; n < 1 || n > MaxCodeLen {
			return bad("encrypted_payload", fmt.Sprintf("is %d bytes; a code sealed with %s to this key is %d to %d", len(d.Payload), key.Algorithm(), overhead+1, overhead+MaxCodeLen))
		}
		if len(d.Content) > 0 && len(d.Content) <= overhead {
			return bad("encrypted_content", "is too short to be sealed text")
		}
	}
	return nil
}
