package storerow

import (
	"database/sql"

	"github.com/agentotp/agentotp"
)

// OwnerColumns are the columns ScanOwner reads.
const OwnerColumns = `id, name, created_at`

// ScanOwner scans an owner row of OwnerColumns.
func ScanOwner(s Scanner) (*agentotp.Owner, error) {
	var o agentotp.Owner
	var created int64
	if err := s.Scan(&o.ID, &o.Name, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = FromMicros(created)
	return &o, nil
}

// AgentColumns are the columns of the agents table, in the order of
// ScanAgent and AgentArgs.
const AgentColumns = `id, owner_id, name, test, key_prefix, webhook_secret, created_at, revoked_at, webhook_url`

// ScanAgent scans an agent row; its WebhookSecret is still sealed (the store
// opens it).
func ScanAgent(s Scanner) (*agentotp.Agent, error) {
	var a agentotp.Agent
	var test, created, revoked int64
	if err := s.Scan(&a.ID, &a.OwnerID, &a.Name, &test, &a.KeyPrefix, &a.WebhookSecret, &created, &revoked, &a.WebhookURL); err != nil {
		return nil, err
	}
	a.Test = test != 0
	a.CreatedAt, a.RevokedAt = FromMicros(created), FromMicros(revoked)
	return &a, nil
}

// SourceColumns are the columns of the sources table, in the order of
// ScanSource and SourceArgs.
const SourceColumns = `id, owner_id, name, kind, key_prefix, created_at, revoked_at`

// ScanSource scans a source row of SourceColumns.
func ScanSource(s Scanner) (*agentotp.Source, error) {
	var src agentotp.Source
	var created, revoked int64
	if err := s.Scan(&src.ID, &src.OwnerID, &src.Name, &src.Kind, &src.KeyPrefix, &created, &revoked); err != nil {
		return nil, err
	}
	src.CreatedAt, src.RevokedAt = FromMicros(created), FromMicros(revoked)
	return &src, nil
}

// CredentialColumns are the columns of the credentials table, in the
// order of ScanCredential and CredentialArgs.
const CredentialColumns = `hash, kind, owner_id, agent_id, source_id, prefix, created_at, expires_at, revoked_at`

// CredentialArgs are the values of CredentialColumns for cred.
func CredentialArgs(cred *agentotp.Credential) []any {
	return []any{cred.Hash, string(cred.Kind), cred.OwnerID, NullString(cred.AgentID), NullString(cred.SourceID),
		cred.Prefix, Micros(cred.CreatedAt), Micros(cred.ExpiresAt), Micros(cred.RevokedAt)}
}

// ScanCredential scans a credential row of CredentialColumns.
func ScanCredential(s Scanner) (*agentotp.Credential, error) {
	var c agentotp.Credential
	var kind string
	var agentID, sourceID sql.NullString
	var created, expires, revoked int64
	if err := s.Scan(&c.Hash, &kind, &c.OwnerID, &agentID, &sourceID, &c.Prefix, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	c.Kind = agentotp.CredentialKind(kind)
	c.AgentID, c.SourceID = agentID.String, sourceID.String
	c.CreatedAt, c.ExpiresAt, c.RevokedAt = FromMicros(created), FromMicros(expires), FromMicros(revoked)
	return &c, nil
}

// AgentArgs are the values of AgentColumns for a, whose webhook secret is
// stored as sealedSecret.
func AgentArgs(a *agentotp.Agent, sealedSecret any) []any {
	return []any{a.ID, a.OwnerID, a.Name, BoolInt(a.Test), a.KeyPrefix, sealedSecret,
		Micros(a.CreatedAt), Micros(a.RevokedAt), a.WebhookURL}
}

// SourceArgs are the values of SourceColumns for s.
func SourceArgs(s *agentotp.Source) []any {
	return []any{s.ID, s.OwnerID, s.Name, s.Kind, s.KeyPrefix, Micros(s.CreatedAt), Micros(s.RevokedAt)}
}
