package storerow

import "github.com/agentotp/agentotp"

// SigningKeyColumns are the columns of the signing_keys table, in the
// order of ScanSigningKey and SigningKeyArgs.
const SigningKeyColumns = `id, owner_id, method, key_id, public_key, credential, name, created_at, revoked_at`

// ScanSigningKey scans a signing key row of SigningKeyColumns; an empty
// credential reads as none.
func ScanSigningKey(row Scanner) (*agentotp.SigningKey, error) {
	var k agentotp.SigningKey
	var created, revoked int64
	if err := row.Scan(&k.ID, &k.OwnerID, &k.Method, &k.KeyID, &k.PublicKey, &k.Credential, &k.Name, &created, &revoked); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RevokedAt = FromMicros(created), FromMicros(revoked)
	if len(k.Credential) == 0 {
		k.Credential = nil // stored empty (NOT NULL): read back as none, in both stores
	}
	return &k, nil
}

// NonNil keeps an absent BLOB as an empty one (the column is NOT NULL).
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// SigningKeyArgs are the values of SigningKeyColumns for k.
func SigningKeyArgs(k *agentotp.SigningKey) []any {
	return []any{k.ID, k.OwnerID, k.Method, k.KeyID, k.PublicKey, NonNil(k.Credential), k.Name, Micros(k.CreatedAt), Micros(k.RevokedAt)}
}
