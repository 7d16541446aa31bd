// Package smsgate reads the webhooks of the android-sms-gateway app
// (sms-gate.app): the JSON body of an event and its HMAC signature.
//
// The app signs each webhook with a key set in its settings: the header
// X-Signature is the lower-case hex of HMAC-SHA256(key, raw body ‖
// X-Timestamp), where X-Timestamp is the sending time in Unix seconds.
// agentotp uses a source token (sk_…) of an SMS source as that key.
//
// The package does no I/O; it parses and checks. Parse and the signature
// checks never panic on any input (they are fuzzed).
package smsgate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// EventSMSReceived is the event of an incoming SMS, the only one the relay
// acts on. Others (sms:sent, sms:delivered, sms:failed, system:ping, …) are
// acknowledged and ignored.
const EventSMSReceived = "sms:received"

// Headers of a signed webhook.
const (
	HeaderSignature = "X-Signature"
	HeaderTimestamp = "X-Timestamp"
)

// Limits.
const (
	// MaxBody bounds the webhook body, in bytes.
	MaxBody = 256 << 10
	// MaxSkew is how far X-Timestamp may be from the receiver's clock.
	MaxSkew = 5 * time.Minute
	// MaxIDLen bounds the event id and the other identifiers.
	MaxIDLen = 256
	// MaxPhoneLen bounds the sender's number or name.
	MaxPhoneLen = 320
	// MaxMessageLen bounds the SMS text, in bytes.
	MaxMessageLen = 64 << 10
)

// Errors. Each error returned by this package wraps one of them.
var (
	// ErrUnsigned: the X-Signature or X-Timestamp header is missing.
	ErrUnsigned = errors.New("smsgate: the webhook is not signed (X-Signature and X-Timestamp are required)")
	// ErrStale: X-Timestamp is not a Unix time within MaxSkew of now.
	ErrStale = errors.New("smsgate: X-Timestamp is not within 5 minutes of the receiver's clock")
	// ErrBadSignature: X-Signature is not the HMAC of the body and timestamp.
	ErrBadSignature = errors.New("smsgate: X-Signature does not match")
	// ErrMalformed: the body is not a webhook this package can read.
	ErrMalformed = errors.New("smsgate: malformed webhook")
)

// Webhook is the envelope of every event.
type Webhook struct {
	DeviceID  string          `json:"deviceId"`
	Event     string          `json:"event"`
	ID        string          `json:"id"` // unique per event: the key for de-duplication
	WebhookID string          `json:"webhookId"`
	Payload   json.RawMessage `json:"payload"`
}

// SMS is the payload of an sms:received event.
type SMS struct {
	MessageID   string `json:"messageId"` // derived from the content by the app: not unique
	Message     string `json:"message"`
	PhoneNumber string `json:"phoneNumber"`
	SimNumber   *int   `json:"simNumber"` // null on some devices
	// ReceivedAt is the phone's receipt time; zero when absent or not
	// RFC 3339.
	ReceivedAt time.Time `json:"-"`
}

// CheckTimestamp checks that the X-Timestamp value is a Unix time in
// seconds within MaxSkew of now.
func CheckTimestamp(timestamp string, now time.Time) error {
	if timestamp == "" {
		return ErrUnsigned
	}
	if len(timestamp) > 20 {
		return fmt.Errorf("%w: not a Unix time", ErrStale)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not a Unix time in seconds", ErrStale, timestamp)
	}
	d := now.Sub(time.Unix(sec, 0))
	if sec < 0 || sec > 1<<40 || d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	return nil
}

// Sign returns the X-Signature of body sent at timestamp: hex
// HMAC-SHA256(key, body ‖ timestamp).
func Sign(key, body []byte, timestamp string) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	m.Write([]byte(timestamp))
	return hex.EncodeToString(m.Sum(nil))
}

// ValidSignature reports, in constant time, whether signature (hex, either
// case) is the X-Signature of body sent at timestamp under key.
func ValidSignature(key, body []byte, timestamp, signature string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(body)
	m.Write([]byte(timestamp))
	return hmac.Equal(m.Sum(nil), got)
}

// Parse decodes a webhook body. Unknown members are ignored (the app adds
// some over its versions); event and id are required.
func Parse(body []byte) (*Webhook, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: the body is over %d bytes", ErrMalformed, MaxBody)
	}
	var w Webhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	switch {
	case w.Event == "":
		return nil, fmt.Errorf("%w: event is required", ErrMalformed)
	case w.ID == "":
		return nil, fmt.Errorf("%w: id is required", ErrMalformed)
	case len(w.ID) > MaxIDLen || len(w.Event) > MaxIDLen || len(w.DeviceID) > MaxIDLen || len(w.WebhookID) > MaxIDLen:
		return nil, fmt.Errorf("%w: an identifier is over %d bytes", ErrMalformed, MaxIDLen)
	case !utf8.ValidString(w.ID) || !utf8.ValidString(w.Event):
		return nil, fmt.Errorf("%w: event and id must be UTF-8", ErrMalformed)
	}
	return &w, nil
}

// SMS decodes the payload of an sms:received event. The message text and
// the phone number are required.
func (w *Webhook) SMS() (*SMS, error) {
	if w.Event != EventSMSReceived {
		return nil, fmt.Errorf("%w: event %q is not %s", ErrMalformed, w.Event, EventSMSReceived)
	}
	if len(w.Payload) == 0 || string(w.Payload) == "null" {
		return nil, fmt.Errorf("%w: payload is required", ErrMalformed)
	}
	var p struct {
		SMS
		ReceivedAt string `json:"receivedAt"`
	}
	if err := json.Unmarshal(w.Payload, &p); err != nil {
		return nil, fmt.Errorf("%w: payload: %s", ErrMalformed, jsonProblem(err))
	}
	s := p.SMS
	s.PhoneNumber = strings.TrimSpace(s.PhoneNumber)
	switch {
	case s.PhoneNumber == "":
		return nil, fmt.Errorf("%w: payload.phoneNumber is required", ErrMalformed)
	case len(s.PhoneNumber) > MaxPhoneLen:
		return nil, fmt.Errorf("%w: payload.phoneNumber is over %d bytes", ErrMalformed, MaxPhoneLen)
	case strings.TrimSpace(s.Message) == "":
		return nil, fmt.Errorf("%w: payload.message is required", ErrMalformed)
	case len(s.Message) > MaxMessageLen:
		return nil, fmt.Errorf("%w: payload.message is over %d bytes", ErrMalformed, MaxMessageLen)
	case len(s.MessageID) > MaxIDLen:
		return nil, fmt.Errorf("%w: payload.messageId is over %d bytes", ErrMalformed, MaxIDLen)
	case !utf8.ValidString(s.Message) || !utf8.ValidString(s.PhoneNumber):
		return nil, fmt.Errorf("%w: payload text must be UTF-8", ErrMalformed)
	}
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(p.ReceivedAt)); err == nil {
		s.ReceivedAt = t.UTC()
	}
	return &s, nil
}

// jsonProblem describes a decoding error briefly, without echoing input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not JSON (byte %d)", syn.Offset)
	case errors.As(err, &typ):
		f := typ.Field
		if f == "" {
			f = "the body"
		}
		return fmt.Sprintf("%s must be of JSON type %s", f, jsonType(typ.Type.Kind().String()))
	}
	return "not a JSON object of the expected form"
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "int", "int64", "float64":
		return "number"
	case "struct", "map":
		return "object"
	case "slice":
		return "array"
	}
	return kind
}
