package seal

import (
	"crypto/hpke"
	"errors"
	"fmt"
	"strings"
)

// Algorithm is an encryption algorithm, named exactly as in the API's
// "encryption" field.
type Algorithm string

// The algorithms. See the package documentation for the exact encodings.
const (
	// RSAOAEP256 is RSA-OAEP with SHA-256 for the hash and MGF1 and an empty
	// label, for RSA keys of 2048–4096 bits.
	RSAOAEP256 Algorithm = "RSA-OAEP-256"
	// RSAOAEP256Bound is RSAOAEP256 with the OAEP label "agentotp/v1:" +
	// the request id, so that a ciphertext opens only for the request it
	// was sealed for. It is the same RSA key, sent in the public_key form
	// "rsa-oaep-256-bound:" + base64 of its DER SubjectPublicKeyInfo.
	RSAOAEP256Bound Algorithm = "RSA-OAEP-256-BOUND"
	// HPKEX25519 is RFC 9180 HPKE, base mode, with DHKEM(X25519,
	// HKDF-SHA256), HKDF-SHA256 and ChaCha20Poly1305.
	HPKEX25519 Algorithm = "HPKE-X25519-SHA256-CHACHA20POLY1305"
	// HPKEMLKEM768X25519 is HPKE, base mode, with the MLKEM768-X25519
	// (X-Wing) hybrid KEM of draft-ietf-hpke-pq, HKDF-SHA256 and
	// ChaCha20Poly1305.
	HPKEMLKEM768X25519 Algorithm = "HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305"
)

// Sentinel errors. Use errors.Is; the messages of the wrapping errors are
// specific.
var (
	// ErrInvalidPublicKey is wrapped by every error of ParsePublicKey.
	ErrInvalidPublicKey = errors.New("invalid public key")
	// ErrInvalidPrivateKey is wrapped by every error about a private key
	// (ParsePrivateKeyPEM, and MarshalPEM of an unusable key).
	ErrInvalidPrivateKey = errors.New("invalid private key")
	// ErrDecryption is wrapped by every error of PrivateKey.Open.
	ErrDecryption = errors.New("seal: decryption failed")
)

// Wire constants. They are part of the contract; see the package
// documentation.
const (
	infoPrefix      = "agentotp/v1:"
	hybridKeyPrefix = "mlkem768x25519:"
	boundRSAPrefix  = "rsa-oaep-256-bound:"

	maxPublicKeyLen  = 8 << 10  // bytes of ParsePublicKey input
	maxPrivateKeyLen = 64 << 10 // bytes of ParsePrivateKeyPEM input

	minRSABits = 2048
	maxRSABits = 4096

	pemTypePKCS8  = "PRIVATE KEY"
	pemTypePKCS1  = "RSA PRIVATE KEY"
	pemTypeHybrid = "AGENTOTP MLKEM768X25519 PRIVATE KEY"
)

// hpkeKDF and hpkeAEAD are the KDF and AEAD of both HPKE algorithms:
// HKDF-SHA256 (0x0001) and ChaCha20Poly1305 (0x0003).
func hpkeKDF() hpke.KDF   { return hpke.HKDFSHA256() }
func hpkeAEAD() hpke.AEAD { return hpke.ChaCha20Poly1305() }

// ParseAlgorithm returns the Algorithm named by s: one of the Algorithm
// constants' values, or the short names "rsa", "x25519" and
// "mlkem768x25519". Case is ignored.
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range []Algorithm{RSAOAEP256, HPKEX25519, HPKEMLKEM768X25519} {
		if strings.EqualFold(s, string(a)) || strings.EqualFold(s, shortName(a)) {
			return a, nil
		}
	}
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "", fmt.Errorf("seal: unknown algorithm %q (want rsa, x25519, mlkem768x25519 or %s, %s, %s)",
		s, RSAOAEP256, HPKEX25519, HPKEMLKEM768X25519)
}

// IsRSA reports whether a is one of the RSA-OAEP forms (plain or bound):
// both seal only a code, never the message text.
func (a Algorithm) IsRSA() bool { return a == RSAOAEP256 || a == RSAOAEP256Bound }

// shortName is the short name of a known algorithm, or "" for any other.
func shortName(a Algorithm) string {
	switch a {
	case RSAOAEP256:
		return "rsa"
	case RSAOAEP256Bound:
		return "rsa-bound"
	case HPKEX25519:
		return "x25519"
	case HPKEMLKEM768X25519:
		return "mlkem768x25519"
	}
	return ""
}

// sealError is an error with its own complete message that wraps a
// sentinel, so that errors.Is works while the text stays specific (for
// example "public_key: not valid base64").
type sealError struct {
	sentinel error
	msg      string
}

func (e *sealError) Error() string { return e.msg }
func (e *sealError) Unwrap() error { return e.sentinel }

func pubErr(format string, args ...any) error {
	return &sealError{ErrInvalidPublicKey, "public_key: " + fmt.Sprintf(format, args...)}
}

func privErr(format string, args ...any) error {
	return &sealError{ErrInvalidPrivateKey, "private key: " + fmt.Sprintf(format, args...)}
}

func decErr(reason string) error {
	return &sealError{ErrDecryption, ErrDecryption.Error() + ": " + reason}
}
