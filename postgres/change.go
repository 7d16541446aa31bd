package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// ChangesChannel is the channel of the notes (pg_notify) that every
// transaction creating or changing a request or an enrollment sends at
// commit; their payload is encodeChange's.
const ChangesChannel = "agentotp_changes"

// maxChangePayload bounds a note's payload: PostgreSQL refuses one of 8000
// bytes or more.
const maxChangePayload = 7900

// changeNote is the JSON form of an agentotp.Change in a note.
type changeNote struct {
	Kind   string `json:"k"`
	Owner  string `json:"o"`
	ID     string `json:"i"`
	Action string `json:"a,omitempty"`
	Actor  string `json:"b,omitempty"`
	At     int64  `json:"t,omitempty"` // unix microseconds; 0 for the zero time
	Origin string `json:"s"`
}

// encodeChange is the payload of the note of c. A change whose fields
// would not fit in a note loses its actor, then its action, which the
// listener can read again from the audit log; it is never dropped.
func encodeChange(c agentotp.Change) (string, error) {
	n := changeNote{c.Kind, c.OwnerID, c.ID, c.Action, c.Actor, storerow.Micros(c.At), c.Origin}
	for range 3 {
		b, err := json.Marshal(n)
		if err != nil {
			return "", fmt.Errorf("encode change: %w", err)
		}
		if len(b) <= maxChangePayload {
			return string(b), nil
		}
		switch {
		case n.Actor != "":
			n.Actor = ""
		default:
			n.Action, n.At = "", 0
		}
	}
	return "", fmt.Errorf("encode change: %s %q of owner %q does not fit in a note", c.Kind, c.ID, c.OwnerID)
}

// decodeChange inverts encodeChange.
func decodeChange(payload string) (agentotp.Change, error) {
	var n changeNote
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return agentotp.Change{}, fmt.Errorf("decode change: %w", err)
	}
	if n.Kind != agentotp.ChangeRequest && n.Kind != agentotp.ChangeEnrollment {
		return agentotp.Change{}, fmt.Errorf("decode change: unknown kind %q", n.Kind)
	}
	if n.ID == "" || n.Owner == "" {
		return agentotp.Change{}, errors.New("decode change: no id or owner")
	}
	return agentotp.Change{Kind: n.Kind, OwnerID: n.Owner, ID: n.ID, Action: n.Action, Actor: n.Actor,
		At: storerow.FromMicros(n.At), Origin: n.Origin}, nil
}

// notifyChange sends, inside tx, the note of the change of kind to the row
// id of owner; the last of audit that names it gives its action, actor and
// time. PostgreSQL delivers the note when tx commits, and never if it
// rolls back.
func (s *Store) notifyChange(ctx context.Context, tx pgx.Tx, kind, owner, id string, audit []agentotp.AuditEntry) error {
	c := agentotp.Change{Kind: kind, OwnerID: owner, ID: id, Origin: s.instance}
	if e, ok := lastAuditOf(kind, id, audit); ok {
		c.Action, c.Actor, c.At = e.Action, e.Actor, e.At.Truncate(time.Microsecond)
	}
	payload, err := encodeChange(c)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ChangesChannel, payload); err != nil {
		return fmt.Errorf("notify change: %w", err)
	}
	return nil
}

// lastAuditOf returns the last of audit that records the change: for a
// request the last entry that names it, else the last entry.
func lastAuditOf(kind, id string, audit []agentotp.AuditEntry) (agentotp.AuditEntry, bool) {
	for i := len(audit) - 1; i >= 0; i-- {
		if kind != agentotp.ChangeRequest || audit[i].RequestID == id {
			return audit[i], true
		}
	}
	if len(audit) > 0 {
		return audit[len(audit)-1], true
	}
	return agentotp.AuditEntry{}, false
}
