package agentotp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// Versions of the audit chain's hash (AuditEntry.Chain).
const (
	// AuditChainLegacy is the unkeyed SHA-256 of entries written before
	// the chain was keyed: it proves order, not authorship, and is
	// accepted only for the rows the store sealed as legacy when it was
	// upgraded (AuditVerifier.LegacyMaxSeq).
	AuditChainLegacy = 0
	// AuditChainKeyed is HMAC-SHA256 with the relay's audit key, which is
	// derived from the data directory's secret key and never stored in
	// the database: rows written or rewritten without it do not verify.
	AuditChainKeyed = 1
)

// AuditEntry is one append-only row of the audit log. Entries of one owner
// form a hash chain: each Hash covers the entry's fields and the previous
// entry's Hash, so an edited, inserted or deleted row breaks the chain;
// keyed with the relay's audit key (Chain = AuditChainKeyed), so that a
// row cannot be forged by whoever can write the database. An entry never
// holds a code or message text.
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
	// Chain is the version of Hash: AuditChainKeyed, or AuditChainLegacy
	// for rows older than the keyed chain.
	Chain int `json:"chain"`
}

// ComputeHash returns the legacy (AuditChainLegacy) chain hash of e given
// the previous entry's hash: hex SHA-256 over prev and the JSON of the
// entry's content fields (JSON of a map sorts its keys, so the encoding is
// canonical).
func (e *AuditEntry) ComputeHash(prev string) string {
	sum := sha256.Sum256(e.content(prev))
	return hex.EncodeToString(sum[:])
}

// auditMACLabel separates the keyed chain's MACs from every other use of
// the audit key.
const auditMACLabel = "agentotp/audit-chain/v1\x00"

// ComputeMAC returns the keyed (AuditChainKeyed) chain hash of e given the
// previous entry's hash: hex HMAC-SHA256 with key over a label, the
// version and the same content as ComputeHash.
func (e *AuditEntry) ComputeMAC(key []byte, prev string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(auditMACLabel))
	m.Write(e.content(prev))
	return hex.EncodeToString(m.Sum(nil))
}

// Seal chains e after prev with key: it sets PrevHash, Chain (keyed) and
// Hash. The store calls it with the entry's final Seq, At and Details.
func (e *AuditEntry) Seal(key []byte, prev string) {
	e.PrevHash, e.Chain = prev, AuditChainKeyed
	e.Hash = e.ComputeMAC(key, prev)
}

// content is the canonical encoding of e's hashed fields after prev.
func (e *AuditEntry) content(prev string) []byte {
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
	return b
}

// ChainBreak describes the first entry at which an audit chain fails.
type ChainBreak struct {
	Seq    int64  `json:"seq"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// AuditVerifier checks audit chains: keyed entries with Key, legacy ones
// only up to LegacyMaxSeq and, when the owner's sealed legacy head is
// known, only as they were when the store sealed them.
type AuditVerifier struct {
	// Key is the audit key; without it no keyed entry verifies.
	Key []byte
	// LegacyMaxSeq is the highest Seq written before the chain was keyed:
	// an unkeyed entry above it was forged or downgraded.
	LegacyMaxSeq int64
	// LegacyHeads are the Seq and Hash of each owner's last legacy entry,
	// as sealed with the key when the store was upgraded.
	LegacyHeads map[string]AuditHead
}

// AuditHead names a point of an owner's chain: an entry's Seq and Hash.
// Exported and kept elsewhere, it lets a later verification tell that the
// log still holds that entry unchanged (no truncation, no rewrite).
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// String is the head's portable form, "SEQ:HASH".
func (h AuditHead) String() string { return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash }

// ParseAuditHead reads "SEQ:HASH" (a hex SHA-256 hash).
func ParseAuditHead(s string) (AuditHead, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || len(hash) != 64 || strings.Trim(strings.ToLower(hash), "0123456789abcdef") != "" {
		return AuditHead{}, FieldErr("head", "must be SEQ:HASH (a sequence number and a 64-digit hex hash), as `agentotp audit head` prints it")
	}
	return AuditHead{Seq: n, Hash: strings.ToLower(hash)}, nil
}

// Verify checks a run of one owner's entries in Seq order, starting from
// the given previous hash ("" for the first entry of the log). It returns
// nil when the chain holds.
func (v AuditVerifier) Verify(prev string, entries []AuditEntry) *ChainBreak {
	for i := range entries {
		e := &entries[i]
		if e.PrevHash != prev {
			return &ChainBreak{Seq: e.Seq, ID: e.ID, Reason: "prev_hash does not match the previous entry (a row was deleted or inserted)"}
		}
		switch e.Chain {
		case AuditChainKeyed:
			if len(v.Key) == 0 || !hmac.Equal([]byte(e.ComputeMAC(v.Key, prev)), []byte(e.Hash)) {
				return &ChainBreak{Seq: e.Seq, ID: e.ID, Reason: "hash does not match the entry's content under the relay's audit key (the row was edited, or written without the key)"}
			}
		case AuditChainLegacy:
			if e.Seq > v.LegacyMaxSeq {
				return &ChainBreak{Seq: e.Seq, ID: e.ID, Reason: "an unkeyed hash on a row written after the chain was keyed (the row was edited or forged without the key)"}
			}
			if e.ComputeHash(prev) != e.Hash {
				return &ChainBreak{Seq: e.Seq, ID: e.ID, Reason: "hash does not match the entry's content (the row was edited)"}
			}
			if h, ok := v.LegacyHeads[e.OwnerID]; ok && h.Seq == e.Seq && h.Hash != e.Hash {
				return &ChainBreak{Seq: e.Seq, ID: e.ID, Reason: "the last legacy row differs from the one sealed with the key at the upgrade (legacy rows were edited)"}
			}
		default:
			return &ChainBreak{Seq: e.Seq, ID: e.ID, Reason: fmt.Sprintf("unknown chain version %d (the row was edited)", e.Chain)}
		}
		prev = e.Hash
	}
	return nil
}

// VerifyOwner checks ownerID's whole chain es (from its first entry): as
// Verify, and besides that the owner's sealed legacy head, if any, is
// still in it (legacy rows were not cut off the end).
func (v AuditVerifier) VerifyOwner(ownerID string, es []AuditEntry) *ChainBreak {
	if b := v.Verify("", es); b != nil {
		return b
	}
	if h, ok := v.LegacyHeads[ownerID]; ok {
		if b := CheckHead(es, h); b != nil {
			b.Reason = "the last legacy row sealed at the upgrade is gone (rows were deleted)"
			return b
		}
	}
	return nil
}

// CheckHead reports, for an owner's whole chain es (already verified),
// whether it still holds the exported head h: nil when it does.
func CheckHead(es []AuditEntry, h AuditHead) *ChainBreak {
	for i := range es {
		if es[i].Seq == h.Seq {
			if es[i].Hash != h.Hash {
				return &ChainBreak{Seq: h.Seq, ID: es[i].ID, Reason: "the entry at the exported head has another hash (history was rewritten)"}
			}
			return nil
		}
		if es[i].Seq > h.Seq {
			break
		}
	}
	return &ChainBreak{Seq: h.Seq, Reason: "the exported head is not in the log (rows were deleted: the log was truncated)"}
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
