package agentotp

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Mail is a raw RFC 5322 email as a mail feeder (SMTP, an IMAP mailbox,
// POST /v1/messages with message/rfc822) hands it to the relay. Every
// feeder goes through the one parser and the one external-id rule
// (MailExternalID).
type Mail struct {
	Raw []byte
	// ReceivedAt is when the message certainly arrived; zero means now.
	ReceivedAt time.Time
	// FeederID is the feeder's own de-duplication key, used when the
	// message has no Message-ID (an IMAP mailbox's UIDVALIDITY and UID, an
	// X-External-ID header).
	FeederID string
	// DKIM is the DKIM verification of an email received in MX mode; it
	// is kept in the metadata. RequireDKIM lets sender patterns match only
	// a From domain that DKIM vouches for (Message.RequireDKIM).
	DKIM        *DKIMResult
	RequireDKIM bool
}

// MailExternalID is the de-duplication key of an email: a hash of its
// Message-ID when it has one (so that the same mail arriving twice, by
// any feeder, is taken once, and the id itself is not kept), and the
// feeder's own key otherwise.
func MailExternalID(messageID, feederID string) string {
	if messageID == "" {
		return feederID
	}
	sum := sha256.Sum256([]byte(messageID))
	return "mid:" + hex.EncodeToString(sum[:16])
}

// Reasons an ingested message fed no request (IngestResult.Reason).
const (
	// IngestNoMatch: no live request's filter takes the message.
	IngestNoMatch = "no_match"
	// IngestNoCode: a live request's filter takes the message, but no
	// code could be read in it.
	IngestNoCode = "no_code"
)

// IngestResult says what became of a message handed to the relay. It
// never holds the code nor anything of the message's text.
type IngestResult struct {
	MessageID string `json:"message_id"`
	// Matched: the message's code was sealed to a request.
	Matched bool `json:"matched"`
	// Reason says, when Matched is false and the message is not a
	// duplicate, why: IngestNoMatch or IngestNoCode.
	Reason string `json:"reason,omitempty"`
	// Duplicate is set when the source had already delivered this
	// external id; nothing was done.
	Duplicate bool `json:"duplicate,omitempty"`
}

// RequestChange is one committed change of a request, as the relay's
// notifiers see it: the audit action that recorded it, who acted, and the
// request as it stands after the change, without its ciphertext.
type RequestChange struct {
	Action  string // an Audit… action, e.g. request.approved
	Actor   string
	At      time.Time
	Request Request
}
