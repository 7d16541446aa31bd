package agentotp

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
)

// Audit actions.
const (
	AuditRequestCreated   = "request.created"
	AuditRequestApproved  = "request.approved"
	AuditRequestDenied    = "request.denied"
	AuditMessageHeld      = "request.message_held"
	AuditOTPReceived      = "request.otp_received"
	AuditRequestConsumed  = "request.consumed"
	AuditRequestCancelled = "request.cancelled"
	AuditRequestExpired   = "request.expired"
	AuditAgentCreated     = "agent.created"
	AuditAgentRotated     = "agent.key_rotated"
	AuditAgentRevoked     = "agent.revoked"
	AuditSourceCreated    = "source.created"
	AuditSourceRevoked    = "source.revoked"
	AuditOwnerCreated     = "owner.created"
	// AuditOwnerTokenRotated: the owner token in use was replaced by a new
	// one; AuditOwnerTokensRevoked: every owner token of the owner was
	// revoked and one new one issued.
	AuditOwnerTokenRotated  = "owner.token_rotated"
	AuditOwnerTokensRevoked = "owner.tokens_revoked"
	AuditPolicyChanged      = "policy.changed"
)

// Actors of audit entries (agent and source actors add their id).
const (
	ActorOwner  = "owner"
	ActorSystem = "system"
)

// ActorAgent names an agent as an actor.
func ActorAgent(id string) string { return "agent:" + id }

// ActorSource names a capture source as an actor.
func ActorSource(id string) string { return "source:" + id }

// AuditEntry is one append-only row of the audit log. Entries of one owner
// form a hash chain: each Hash covers the entry's fields and the previous
// entry's Hash, so an edited, inserted or deleted row breaks the chain. An
// entry never holds a code or message text.
type AuditEntry struct {
	Seq       int64             `json:"seq"`
	ID        string            `json:"id"`
	OwnerID   string            `json:"owner_id"`
	At        time.Time         `json:"at"`
	Actor     string            `json:"actor"`
	Action    string            `json:"action"`
	RequestID string            `json:"request_id,omitempty"`
	AgentID   string            `json:"agent_id,omitempty"`
	SourceID  string            `json:"source_id,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
	PrevHash  string            `json:"prev_hash"`
	Hash      string            `json:"hash"`
}

// ComputeHash returns the chain hash of e given the previous entry's hash:
// hex SHA-256 over prev and the JSON of the entry's content fields (JSON of
// a map sorts its keys, so the encoding is canonical).
func (e *AuditEntry) ComputeHash(prev string) string {
	content := struct {
		Prev      string            `json:"prev"`
		Seq       int64             `json:"seq"`
		ID        string            `json:"id"`
		OwnerID   string            `json:"owner_id"`
		At        string            `json:"at"`
		Actor     string            `json:"actor"`
		Action    string            `json:"action"`
		RequestID string            `json:"request_id"`
		AgentID   string            `json:"agent_id"`
		SourceID  string            `json:"source_id"`
		Details   map[string]string `json:"details"`
	}{prev, e.Seq, e.ID, e.OwnerID, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.RequestID, e.AgentID, e.SourceID, e.Details}
	b, _ := json.Marshal(content) // cannot fail: strings and a map of strings
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ChainBreak describes the first entry at which an audit chain fails.
type ChainBreak struct {
	Seq    int64  `json:"seq"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// VerifyChain checks a run of one owner's entries in Seq order, starting
// from the given previous hash ("" for the first entry of the log). It
// returns nil when the chain holds.
func VerifyChain(prev string, entries []AuditEntry) *ChainBreak {
	for i := range entries {
		e := &entries[i]
		if e.PrevHash != prev {
			return &ChainBreak{Seq: e.Seq, ID: e.ID, Reason: "prev_hash does not match the previous entry (a row was deleted or inserted)"}
		}
		if e.ComputeHash(prev) != e.Hash {
			return &ChainBreak{Seq: e.Seq, ID: e.ID, Reason: "hash does not match the entry's content (the row was edited)"}
		}
		prev = e.Hash
	}
	return nil
}

// AuditCSVHeader is the header row of [WriteAuditCSV]'s export.
var AuditCSVHeader = []string{"seq", "id", "at", "actor", "action", "request_id", "agent_id", "source_id", "details", "prev_hash", "hash"}

// WriteAuditJSONL writes es to w as JSON Lines, one entry a line, in the
// form the audit chain is hashed and verified from. It stops at the first
// error.
func WriteAuditJSONL(w io.Writer, es []AuditEntry) error {
	enc := json.NewEncoder(w)
	for i := range es {
		if err := enc.Encode(&es[i]); err != nil {
			return err
		}
	}
	return nil
}

// WriteAuditCSV writes es to w as CSV under [AuditCSVHeader], times in
// UTC RFC 3339 and details as JSON. Cells an agent or a source can choose
// (the actor and the details) are defused against spreadsheet formulas.
func WriteAuditCSV(w io.Writer, es []AuditEntry) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(AuditCSVHeader)
	for _, e := range es {
		details, _ := json.Marshal(e.Details)
		_ = cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.ID, e.At.UTC().Format(time.RFC3339Nano), csvSafe(e.Actor), e.Action,
			e.RequestID, e.AgentID, e.SourceID, csvSafe(string(details)), e.PrevHash, e.Hash})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formulas in a cell.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
