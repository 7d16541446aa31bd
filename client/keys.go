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

// The algorithms the relay seals with. RSAOAEP256Bound is an RSA key sent
// in its request-bound form (what ExportPublicKey sends); RSAOAEP256 the
// same key in the integration guide's plain form (ExportPublicKeyPlain).
const (
	RSAOAEP256         = seal.RSAOAEP256
	RSAOAEP256Bound    = seal.RSAOAEP256Bound
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
// An RSA key is sent in its request-bound form ("rsa-oaep-256-bound:" +
// base64 of the DER; encryption RSA-OAEP-256-BOUND): the relay seals with
// the OAEP label "agentotp/v1:" + the request id, so that a ciphertext of
// one request cannot be passed off as another's. HPKE keys are bound
// already.
func ExportPublicKey(pub *PublicKey) string { return pub.Bound().String() }

// ExportPublicKeyPlain returns an RSA key in the integration guide's plain
// form (base64 of the DER; encryption RSA-OAEP-256, empty OAEP label), for
// an agent whose other half decrypts with plain WebCrypto RSA-OAEP. Such a
// ciphertext is not bound to its request. Other keys are as
// ExportPublicKey gives them.
func ExportPublicKeyPlain(pub *PublicKey) string { return pub.Plain().String() }

// ExportPrivateKey returns the private key as PEM (PKCS#8 for RSA and
// X25519), for an agent that keeps its key in a file.
func ExportPrivateKey(priv *PrivateKey) ([]byte, error) { return priv.MarshalPEM() }

// ImportPrivateKey reads a PEM private key (what ExportPrivateKey or
// `agentotp keygen` writes, or an openssl PKCS#8 key).
func ImportPrivateKey(pemBytes []byte) (*PrivateKey, error) { return seal.ParsePrivateKeyPEM(pemBytes) }

// DecryptOTPPayload opens a base64 encrypted_payload (or
// encrypted_content) of request requestID with the agent's private key,
// in the key's own form (for an RSA key the plain RSA-OAEP-256). For a
// request made with ExportPublicKey's bound RSA form use
// DecryptOTPPayloadAs with the request's encryption; ConsumeOTP does.
func DecryptOTPPayload(priv *PrivateKey, requestID, encrypted string) (string, error) {
	return DecryptOTPPayloadAs(priv, priv.Algorithm(), requestID, encrypted)
}

// DecryptOTPPayloadAs opens a base64 payload sealed with alg (the
// request's encryption). A plain RSA ciphertext does not open as
// RSAOAEP256Bound: a request that asked for the bound form refuses one.
func DecryptOTPPayloadAs(priv *PrivateKey, alg Algorithm, requestID, encrypted string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return "", decryptionError(err)
	}
	pt, err := priv.OpenAs(alg, requestID, ct)
	if err != nil {
		return "", decryptionError(err)
	}
	return string(pt), nil
}
