package storerow

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/agentotp/agentotp"
)

// ScanAuditEntry scans an audit row (seq, id, owner_id, at, actor,
// action, request_id, agent_id, source_id, details, prev_hash, hash,
// chain).
func ScanAuditEntry(s Scanner) (agentotp.AuditEntry, error) {
	var e agentotp.AuditEntry
	var at int64
	var details sql.NullString
	if err := s.Scan(&e.Seq, &e.ID, &e.OwnerID, &at, &e.Actor, &e.Action, &e.RequestID, &e.AgentID, &e.SourceID,
		&details, &e.PrevHash, &e.Hash, &e.Chain); err != nil {
		return e, err
	}
	e.At = FromMicros(at)
	if details.Valid {
		if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
			// Only an edit of the row can garble its details: hand the
			// raw text on, and VerifyChain reports the broken link.
			e.Details = map[string]string{"invalid_details": details.String}
		}
	}
	return e, nil
}

// LegacyLabel separates the seal of the legacy rows from the chain's MACs.
const LegacyLabel = "agentotp/audit-legacy/v1\x00"

// LegacyMAC is the seal of the legacy rows' boundary and heads.
func LegacyMAC(key []byte, maxSeq int64, heads string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(LegacyLabel + strconv.FormatInt(maxSeq, 10) + "\x00" + heads))
	return hex.EncodeToString(m.Sum(nil))
}

// OpenLegacySeal checks the stored seal mac of the legacy rows (their
// boundary maxSeq and their heads, JSON text) with key, and returns the
// heads; false when the seal or the heads are wrong.
func OpenLegacySeal(key []byte, maxSeq int64, heads, mac string) (map[string]agentotp.AuditHead, bool) {
	if !hmac.Equal([]byte(mac), []byte(LegacyMAC(key, maxSeq, heads))) {
		return nil, false
	}
	var out map[string]agentotp.AuditHead
	if err := json.Unmarshal([]byte(heads), &out); err != nil {
		return nil, false
	}
	return out, true
}
