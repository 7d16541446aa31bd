package relay

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
)

// MaxSigningKeys bounds an owner's signing keys, revoked ones included.
const MaxSigningKeys = 50

// AddSigningKey registers the public half of an owner signing key: the
// relay can then check approvals it signs, and hands it to edges and
// agents that pin the owner's keys.
func (s *Service) AddSigningKey(ctx context.Context, ownerID, name string, publicKey []byte) (*agentotp.SigningKey, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	if len(publicKey) != ed25519.PublicKeySize {
		return nil, agentotp.FieldErr("public_key", "must be a raw Ed25519 public key: %d bytes, base64", ed25519.PublicKeySize)
	}
	have, err := s.store.ListSigningKeys(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("add signing key: %w", err)
	}
	if len(have) >= MaxSigningKeys {
		return nil, agentotp.Errorf(agentotp.EConflict, "an owner has at most %d signing keys", MaxSigningKeys)
	}
	now := s.Now()
	k := &agentotp.SigningKey{ID: agentotp.NewID("sgk_"), OwnerID: ownerID, Method: approval.MethodEd25519,
		KeyID: approval.KeyID(publicKey), PublicKey: publicKey, Name: name, CreatedAt: now}
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditSigningKeyAdded, now)
	e.Details = map[string]string{"signing_key_id": k.ID, "key_id": k.KeyID, "name": name}
	err = s.store.CreateSigningKey(ctx, k, e)
	if errors.Is(err, agentotp.ErrConflict) {
		return nil, agentotp.Errorf(agentotp.EConflict, "this public key is registered already")
	}
	if err != nil {
		return nil, fmt.Errorf("add signing key: %w", err)
	}
	s.log.InfoContext(ctx, "signing key added", "signing_key_id", k.ID, "key_id", k.KeyID)
	return k, nil
}

// ListSigningKeys lists the owner's signing keys, revoked ones included.
func (s *Service) ListSigningKeys(ctx context.Context, ownerID string) ([]*agentotp.SigningKey, error) {
	ks, err := s.store.ListSigningKeys(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return ks, nil
}

// RevokeSigningKey revokes a signing key of the owner: approvals it signs
// from now on are refused. Edges that pinned it keep trusting it until
// their trust file is renewed.
func (s *Service) RevokeSigningKey(ctx context.Context, ownerID, id string) error {
	now := s.Now()
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditSigningKeyRevoked, now)
	e.Details = map[string]string{"signing_key_id": id}
	err := s.store.RevokeSigningKey(ctx, ownerID, id, now, e)
	if errors.Is(err, agentotp.ErrNotFound) {
		return agentotp.Errorf(agentotp.ENotFound, "no such signing key")
	}
	if err != nil {
		return fmt.Errorf("revoke signing key: %w", err)
	}
	s.log.InfoContext(ctx, "signing key revoked", "signing_key_id", id)
	return nil
}

// Trust returns what an edge or an agent pins about the owner: the owner's
// id and active signing keys.
func (s *Service) Trust(ctx context.Context, ownerID string) (*approval.Trust, error) {
	ks, err := s.ListSigningKeys(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	t := &approval.Trust{OwnerID: ownerID, Keys: []approval.TrustedKey{}}
	for _, k := range ks {
		if !k.Active() {
			continue
		}
		tk := approval.TrustedKey{KeyID: k.KeyID, Method: k.Method, Name: k.Name}
		if k.Method == approval.MethodWebAuthn {
			tk.Credential = k.Credential
		} else {
			tk.PublicKey = k.PublicKey
		}
		t.Keys = append(t.Keys, tk)
	}
	if rpID, origins, err := s.PasskeyRelyingParty(); err == nil {
		t.RPID, t.Origins = rpID, origins
	}
	return t, nil
}

// checkSigned verifies an owner's signed decision on r before it is
// recorded: the signature is by an active signing key of r's owner, and
// the statement states r as the relay holds it and this decision, and, for
// an approval, has not expired. A statement the edges would refuse is
// refused here, at once, rather than recorded.
func (s *Service) checkSigned(ctx context.Context, r *agentotp.Request, approve bool, a *approval.Signed, now time.Time) error {
	if a == nil {
		return nil
	}
	t, err := s.Trust(ctx, r.OwnerID)
	if err != nil {
		return err
	}
	st, err := t.Verify(a)
	var ref *approval.Refusal
	if errors.As(err, &ref) {
		return agentotp.FieldErr("approval", "%s", ref.Reason)
	}
	if err != nil {
		return err
	}
	want, doing := approval.Deny, "denied"
	if approve {
		want, doing = approval.Approve, "approved"
	}
	switch {
	case st.Decision != want:
		return agentotp.FieldErr("approval.statement", "states %s; this request is being %s", st.Decision, doing)
	case st.Mismatch(r) != "":
		return agentotp.FieldErr("approval.statement", "does not state this request: %s differs", st.Mismatch(r))
	case approve && st.Expired(now):
		return agentotp.FieldErr("approval.statement", "expired at %s", st.ExpiresAt)
	}
	return nil
}

// Audit details of a decision's statement.
const (
	detailStatement     = "statement"      // base64 of the canonical bytes
	detailStatementHash = "statement_hash" // approval.Hash of them
	detailSigned        = "signed"         // how: ed25519 or none
	detailKeyID         = "key_id"
	detailSignature     = "signature" // base64
)

// statementDetails adds to details the statement of a decision on r:
// the owner's signed one when a is set, else one the relay writes, marked
// unsigned. The audit row of every decision carries it, so the decision's
// statement is in the hash chain.
func statementDetails(details map[string]string, r *agentotp.Request, decision string, at time.Time, a *approval.Signed) {
	if a == nil {
		a = &approval.Signed{Statement: approval.For(r, decision, at).Canonical(), Method: approval.MethodNone}
	}
	details[detailStatement] = base64.StdEncoding.EncodeToString(a.Statement)
	details[detailStatementHash] = approval.Hash(a.Statement)
	details[detailSigned] = a.Method
	if a.Method != approval.MethodNone {
		details[detailKeyID] = a.KeyID
		details[detailSignature] = base64.StdEncoding.EncodeToString(a.Signature)
	}
}

// signedFromAudit reads a decision's statement back from its audit entry.
func signedFromAudit(e *agentotp.AuditEntry) (*approval.Signed, error) {
	stmt, err := base64.StdEncoding.DecodeString(e.Details[detailStatement])
	if err != nil || len(stmt) == 0 {
		return nil, fmt.Errorf("audit entry %s holds no statement", e.ID)
	}
	a := &approval.Signed{Statement: stmt, Method: e.Details[detailSigned], KeyID: e.Details[detailKeyID]}
	if sig := e.Details[detailSignature]; sig != "" {
		if a.Signature, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return nil, fmt.Errorf("audit entry %s: signature: %w", e.ID, err)
		}
	}
	return a, nil
}

// Approval returns the statement of the decision on r, nil while r is
// undecided (or was decided before statements were recorded).
func (s *Service) Approval(ctx context.Context, r *agentotp.Request) (*approval.Signed, error) {
	if r.DecidedAt.IsZero() {
		return nil, nil
	}
	if a := s.approvals.get(r.ID); a != nil {
		return a, nil
	}
	es, err := s.store.ListAudit(ctx, agentotp.AuditQuery{OwnerID: r.OwnerID, RequestID: r.ID})
	if err != nil {
		return nil, fmt.Errorf("approval of %s: %w", r.ID, err)
	}
	for i := range es {
		e := &es[i]
		if (e.Action == agentotp.AuditRequestApproved || e.Action == agentotp.AuditRequestDenied) && e.Details[detailStatement] != "" {
			return signedFromAudit(e)
		}
	}
	return nil, nil
}
