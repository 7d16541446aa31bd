package storerow

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/agentotp/agentotp"
)

// RequestColumns are the columns of the requests table, in the order of
// RequestInsertArgs and ScanRequest.
const RequestColumns = `id, owner_id, agent_id, test, status, reason, expected_sender, filter,
	encryption, public_key, key_fingerprint, webhook_url, include_message,
	created_at, expires_at, decided_at, decided_by, deny_reason, consumed_at, updated_at,
	metadata, payload, content, version`

// Request holds the stored form of a request's mutable columns that are
// not stored as they are.
type Request struct {
	Filter, Metadata  any
	Payload, Content  any
	Decided, Consumed int64
	Updated           int64
}

// EncodeRequest returns the stored form of r's encoded columns. A final
// request holds no ciphertext, whatever r carries.
func EncodeRequest(r *agentotp.Request) (Request, error) {
	f, err := json.Marshal(r.Filter)
	if err != nil {
		return Request{}, fmt.Errorf("encode filter: %w", err)
	}
	row := Request{
		Filter:   string(f),
		Decided:  Micros(r.DecidedAt),
		Consumed: Micros(r.ConsumedAt),
		Updated:  Micros(r.UpdatedAt),
	}
	if r.Metadata != nil {
		md, err := json.Marshal(r.Metadata)
		if err != nil {
			return Request{}, fmt.Errorf("encode metadata: %w", err)
		}
		row.Metadata = string(md)
	}
	if !r.Status.Final() {
		row.Payload, row.Content = NullBytes(r.Payload), NullBytes(r.Content)
	}
	return row, nil
}

// RequestInsertArgs are the values of RequestColumns for r, whose encoded
// columns are row.
func RequestInsertArgs(r *agentotp.Request, row Request) []any {
	return []any{
		r.ID, r.OwnerID, r.AgentID, BoolInt(r.Test), string(r.Status), r.Reason, r.ExpectedSender, row.Filter,
		r.Encryption, r.PublicKey, r.KeyFingerprint, r.WebhookURL, BoolInt(r.IncludeMessage),
		Micros(r.CreatedAt), Micros(r.ExpiresAt), row.Decided, r.DecidedBy, r.DenyReason, row.Consumed, row.Updated,
		row.Metadata, row.Payload, row.Content, r.Version,
	}
}

// RequestUpdateArgs are the values of an update of a request's mutable
// columns, in this order: test, status, reason, expected_sender, filter,
// encryption, public_key, key_fingerprint, webhook_url, include_message,
// expires_at, decided_at, decided_by, deny_reason, consumed_at,
// updated_at, metadata, payload, content; then the extra values (the
// update's condition).
func RequestUpdateArgs(r *agentotp.Request, row Request, extra ...any) []any {
	return append([]any{
		BoolInt(r.Test), string(r.Status), r.Reason, r.ExpectedSender, row.Filter,
		r.Encryption, r.PublicKey, r.KeyFingerprint, r.WebhookURL, BoolInt(r.IncludeMessage),
		Micros(r.ExpiresAt), row.Decided, r.DecidedBy, r.DenyReason, row.Consumed, row.Updated,
		row.Metadata, row.Payload, row.Content,
	}, extra...)
}

// ScanRequest scans a row of RequestColumns.
func ScanRequest(s Scanner) (*agentotp.Request, error) {
	var r agentotp.Request
	var status, filter string
	var metadata sql.NullString
	var test, include int64
	var created, expires, decided, consumed, updated int64
	err := s.Scan(&r.ID, &r.OwnerID, &r.AgentID, &test, &status, &r.Reason, &r.ExpectedSender, &filter,
		&r.Encryption, &r.PublicKey, &r.KeyFingerprint, &r.WebhookURL, &include,
		&created, &expires, &decided, &r.DecidedBy, &r.DenyReason, &consumed, &updated,
		&metadata, &r.Payload, &r.Content, &r.Version)
	if err != nil {
		return nil, err
	}
	r.Test, r.IncludeMessage = test != 0, include != 0
	r.Status = agentotp.Status(status)
	r.CreatedAt, r.ExpiresAt, r.DecidedAt = FromMicros(created), FromMicros(expires), FromMicros(decided)
	r.ConsumedAt, r.UpdatedAt = FromMicros(consumed), FromMicros(updated)
	if err := json.Unmarshal([]byte(filter), &r.Filter); err != nil {
		return nil, fmt.Errorf("decode filter of request %s: %w", r.ID, err)
	}
	if metadata.Valid {
		r.Metadata = new(agentotp.MessageMetadata)
		if err := json.Unmarshal([]byte(metadata.String), r.Metadata); err != nil {
			return nil, fmt.Errorf("decode metadata of request %s: %w", r.ID, err)
		}
	}
	return &r, nil
}

// EncodeCursor returns the opaque cursor that continues a listing of
// requests after the one created at createdAt (unix microseconds) with id.
func EncodeCursor(createdAt int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdAt, 10) + ":" + id))
}

// DecodeCursor inverts EncodeCursor. A cursor it did not make is an
// *agentotp.Error with code VALIDATION_ERROR.
func DecodeCursor(c string) (int64, string, error) {
	bad := func() error {
		var v agentotp.ValidationErrors
		v.Add("cursor", "is not a cursor of this listing")
		return v.Err()
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", bad()
	}
	at, id, ok := strings.Cut(string(b), ":")
	if !ok || id == "" {
		return 0, "", bad()
	}
	n, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return 0, "", bad()
	}
	return n, id, nil
}
