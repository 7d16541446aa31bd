package client

import (
	"encoding/base64"

	"github.com/agentotp/agentotp/seal"
)

// Key types, from package seal.
type (
	// PublicKey is an agent's public key, as sent to the relay.
	PublicKey = seal.PublicKey
	// PrivateKey is an agent's private key; it never leaves the agent.
	PrivateKey = seal.PrivateKey
	// Algorithm names an encryption scheme (the request's "encryption").
	Algorithm = seal.Algorithm
)

// The algorithms the relay seals with.
const (
	RSAOAEP256         = seal.RSAOAEP256
	HPKEX25519         = seal.HPKEX25519
	HPKEMLKEM768X25519 = seal.HPKEMLKEM768X25519
)

// GenerateKeyPair makes a key pair, once per agent session. An empty alg
// means HPKE X25519, the default for new agents; RSAOAEP256 is what a
// browser's WebCrypto (RSA-OAEP with SHA-256) makes and opens.
func GenerateKeyPair(alg Algorithm) (*PublicKey, *PrivateKey, error) {
	if alg == "" {
		alg = HPKEX25519
	}
	priv, err := seal.GenerateKey(alg)
	if err != nil {
		return nil, nil, err
	}
	return priv.Public(), priv, nil
}

// ExportPublicKey returns the public key in the API's public_key form.
func ExportPublicKey(pub *PublicKey) string { return pub.String() }

// ExportPrivateKey returns the private key as PEM (PKCS#8 for RSA and
// X25519), for an agent that keeps its key in a file.
func ExportPrivateKey(priv *PrivateKey) ([]byte, error) { return priv.MarshalPEM() }

// ImportPrivateKey reads a PEM private key (what ExportPrivateKey or
// `agentotp keygen` writes, or an openssl PKCS#8 key).
func ImportPrivateKey(pemBytes []byte) (*PrivateKey, error) { return seal.ParsePrivateKeyPEM(pemBytes) }

// DecryptOTPPayload opens a base64 encrypted_payload (or
// encrypted_content) of request requestID with the agent's private key.
func DecryptOTPPayload(priv *PrivateKey, requestID, encrypted string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return "", decryptionError(err)
	}
	pt, err := priv.Open(requestID, ct)
	if err != nil {
		return "", decryptionError(err)
	}
	return string(pt), nil
}
