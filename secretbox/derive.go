package secretbox

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// Purposes of keys derived from the box key (DeriveKey).
const (
	// PurposeAuditChain keys the audit log's hash chain (HMAC-SHA256).
	PurposeAuditChain = "agentotp/audit-chain/v1"
)

// DeriveKey returns a 32-byte key for purpose, derived from the box key
// with HKDF-SHA256 (no salt, purpose as info): a key for another use
// than sealing, which reveals nothing of the box key or of the keys of
// other purposes.
func (b *Box) DeriveKey(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, b.key, nil, purpose, KeySize)
	if err != nil {
		panic("secretbox: HKDF: " + err.Error()) // only for lengths over 255 × 32 bytes
	}
	return k
}
