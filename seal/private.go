package seal

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
)

// Sizes of the HPKE pieces.
const (
	hybridSeedSize = 32                           // serialized MLKEM768-X25519 private key
	x25519EncSize  = 32                           // DHKEM(X25519) encapsulated key
	hybridEncSize  = mlkem.CiphertextSize768 + 32 // MLKEM768-X25519 encapsulated key
	aeadTagSize    = 16                           // ChaCha20Poly1305 tag
)

// PrivateKey is an agent's private key: the side that opens what Seal
// sealed. It is immutable and safe for concurrent use. Make one with
// GenerateKey, GenerateRSAKey or ParsePrivateKeyPEM; the zero value is not
// usable.
//
// Formatting a PrivateKey with fmt (any verb) prints only its algorithm and
// public key fingerprint, never key material.
type PrivateKey struct {
	alg    Algorithm
	rsa    *rsa.PrivateKey  // RSAOAEP256
	x25519 *ecdh.PrivateKey // HPKEX25519, for PKCS #8
	hpke   hpke.PrivateKey  // HPKE algorithms
	pub    *PublicKey
}

// GenerateKey makes a new private key for alg, from crypto/rand. RSA keys are
// 2048 bits; use GenerateRSAKey for larger ones.
func GenerateKey(alg Algorithm) (*PrivateKey, error) {
	switch alg {
	case RSAOAEP256:
		return GenerateRSAKey(minRSABits)
	case HPKEX25519:
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("seal: generating X25519 key: %v", err)
		}
		return newX25519PrivateKey(k)
	case HPKEMLKEM768X25519:
		k, err := hpke.MLKEM768X25519().GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("seal: generating mlkem768x25519 key: %v", err)
		}
		return newHybridPrivateKey(k), nil
	}
	return nil, fmt.Errorf("seal: cannot generate a key for unknown algorithm %s (ParseAlgorithm turns short names into Algorithms)", quoteShort(string(alg)))
}

// GenerateRSAKey makes a new RSA private key of 2048, 3072 or 4096 bits, from
// crypto/rand. Its algorithm is RSAOAEP256.
func GenerateRSAKey(bits int) (*PrivateKey, error) {
	if bits != 2048 && bits != 3072 && bits != 4096 {
		return nil, fmt.Errorf("seal: RSA key size %d not supported; use 2048, 3072 or 4096", bits)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("seal: generating RSA key: %v", err)
	}
	return newRSAPrivateKey(k)
}

func newRSAPrivateKey(k *rsa.PrivateKey) (*PrivateKey, error) {
	if err := checkRSAPublic(&k.PublicKey); err != nil {
		return nil, privErr("%v", err)
	}
	pub, err := newRSAPublicKey(&k.PublicKey)
	if err != nil {
		return nil, privErr("RSA public part: %v", err)
	}
	return &PrivateKey{alg: RSAOAEP256, rsa: k, pub: pub}, nil
}

func newX25519PrivateKey(k *ecdh.PrivateKey) (*PrivateKey, error) {
	hk, err := hpke.NewDHKEMPrivateKey(k)
	if err != nil {
		return nil, privErr("X25519: %v", err)
	}
	pub, err := newX25519PublicKey(k.PublicKey(), false)
	if err != nil {
		return nil, privErr("X25519 public part: %v", err)
	}
	return &PrivateKey{alg: HPKEX25519, x25519: k, hpke: hk, pub: pub}, nil
}

func newHybridPrivateKey(k hpke.PrivateKey) *PrivateKey {
	return &PrivateKey{alg: HPKEMLKEM768X25519, hpke: k, pub: newHybridPublicKey(k.PublicKey())}
}

// Algorithm returns the key's algorithm, or "" for a nil or zero PrivateKey.
func (k *PrivateKey) Algorithm() Algorithm {
	if k == nil {
		return ""
	}
	return k.alg
}

// Public returns the public half of the key, or nil for a nil or zero
// PrivateKey.
func (k *PrivateKey) Public() *PublicKey {
	if k == nil {
		return nil
	}
	return k.pub
}

// String describes the key by algorithm and public key fingerprint, for
// example "seal.PrivateKey(x25519 SHA256:…)". It never shows key material.
func (k *PrivateKey) String() string {
	if k == nil || k.pub == nil {
		return "seal.PrivateKey(<nil>)"
	}
	return "seal.PrivateKey(" + shortName(k.alg) + " " + k.pub.Fingerprint() + ")"
}

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %x, %d,
// …) prints String and never the key material.
func (k *PrivateKey) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, k.String())
}

// Open reverses Seal: it decrypts ciphertext, which must have been sealed to
// this key's public half for the same requestID, in the key's own form
// (for an RSA key the plain RSAOAEP256, where requestID is ignored; use
// OpenAs for the bound form). Every failure wraps ErrDecryption, and no
// error includes plaintext or key material.
func (k *PrivateKey) Open(requestID string, ciphertext []byte) ([]byte, error) {
	if k == nil || k.pub == nil {
		return nil, decErr("Open called on a nil or zero PrivateKey")
	}
	return k.OpenAs(k.alg, requestID, ciphertext)
}

// OpenAs is Open for a ciphertext sealed with alg, which must be the
// key's algorithm or, for an RSA key, either RSA form. A ciphertext of the
// other RSA form does not open: a bound one has the request id as its
// label, a plain one none, so asking for RSAOAEP256Bound refuses a plain
// ciphertext (one replayed from another request, say).
func (k *PrivateKey) OpenAs(alg Algorithm, requestID string, ciphertext []byte) ([]byte, error) {
	if k == nil || k.pub == nil {
		return nil, decErr("Open called on a nil or zero PrivateKey")
	}
	if alg != k.alg && !(alg.IsRSA() && k.alg.IsRSA()) {
		return nil, decErr(fmt.Sprintf("the ciphertext is %s, the key %s", quoteShort(string(alg)), k.alg))
	}
	switch alg {
	case RSAOAEP256, RSAOAEP256Bound:
		if n := k.rsa.Size(); len(ciphertext) != n {
			return nil, decErr(fmt.Sprintf("%s ciphertext is %d bytes; a %d-bit key needs exactly %d",
				alg, len(ciphertext), k.rsa.N.BitLen(), n))
		}
		if alg == RSAOAEP256Bound && requestID == "" {
			return nil, decErr("a request id is required for " + string(alg))
		}
		label, _ := rsaLabel(alg, requestID)
		pt, err := rsa.DecryptOAEP(sha256.New(), nil, k.rsa, ciphertext, label)
		if err != nil {
			if alg == RSAOAEP256Bound {
				return nil, decErr(string(alg) + " decryption error (wrong key, wrong request id, a plain RSA-OAEP-256 ciphertext, or corrupted ciphertext)")
			}
			return nil, decErr(string(alg) + " decryption error (wrong key or corrupted ciphertext)")
		}
		return pt, nil
	case HPKEX25519, HPKEMLKEM768X25519:
		if requestID == "" {
			return nil, decErr("a request id is required for " + string(k.alg))
		}
		encSize := x25519EncSize
		if k.alg == HPKEMLKEM768X25519 {
			encSize = hybridEncSize
		}
		if min := encSize + aeadTagSize; len(ciphertext) < min {
			return nil, decErr(fmt.Sprintf("%s ciphertext is %d bytes; at least %d expected", k.alg, len(ciphertext), min))
		}
		pt, err := hpke.Open(k.hpke, hpkeKDF(), hpkeAEAD(), []byte(infoPrefix+requestID), ciphertext)
		if err != nil {
			return nil, decErr(string(k.alg) + " authentication failed (wrong key, wrong request id, or corrupted ciphertext)")
		}
		return pt, nil
	}
	return nil, decErr("unknown algorithm")
}

// MarshalPEM encodes the private key as PEM. RSA and X25519 keys are
// unencrypted PKCS #8 "PRIVATE KEY" blocks, readable by openssl; an
// ML-KEM-768+X25519 key is an "AGENTOTP MLKEM768X25519 PRIVATE KEY" block
// holding its 32-byte seed. ParsePrivateKeyPEM reads all of them. The output
// is secret: store it like the key it is.
func (k *PrivateKey) MarshalPEM() ([]byte, error) {
	if k == nil || k.pub == nil {
		return nil, privErr("MarshalPEM called on a nil or zero PrivateKey")
	}
	var block pem.Block
	switch k.alg {
	case RSAOAEP256, HPKEX25519:
		var key any = k.rsa
		if k.alg == HPKEX25519 {
			key = k.x25519
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, privErr("encoding PKCS #8: %v", err)
		}
		block = pem.Block{Type: pemTypePKCS8, Bytes: der}
	case HPKEMLKEM768X25519:
		seed, err := k.hpke.Bytes()
		if err != nil {
			return nil, privErr("mlkem768x25519 seed not available: %v", err)
		}
		block = pem.Block{Type: pemTypeHybrid, Bytes: bytes.Clone(seed)}
	default:
		return nil, privErr("unknown algorithm")
	}
	return pem.EncodeToMemory(&block), nil
}

// ParsePrivateKeyPEM reads a private key as MarshalPEM writes it, any
// unencrypted PKCS #8 "PRIVATE KEY" holding an RSA (2048–4096 bits) or
// X25519 key (as openssl genpkey writes), or a PKCS #1 "RSA PRIVATE KEY".
// Other PEM blocks before the key (such as "EC PARAMETERS") are skipped;
// more than one private key is an error. Input is at most 64 KiB. Every
// error wraps ErrInvalidPrivateKey.
func ParsePrivateKeyPEM(data []byte) (*PrivateKey, error) {
	if len(data) == 0 {
		return nil, privErr("empty input")
	}
	if len(data) > maxPrivateKeyLen {
		return nil, privErr("%d bytes is too long; at most %d accepted", len(data), maxPrivateKeyLen)
	}
	var key *pem.Block
	var others []string
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			if len(others) < 4 {
				others = append(others, quoteShort(b.Type))
			}
			continue
		}
		if key != nil {
			return nil, privErr("more than one private key in the input")
		}
		key = b
	}
	if key == nil {
		if len(others) > 0 {
			return nil, privErr("no private key PEM block found (found %s)", strings.Join(others, ", "))
		}
		return nil, privErr("no PEM block found; want -----BEGIN PRIVATE KEY-----")
	}
	if strings.Contains(key.Headers["Proc-Type"], "ENCRYPTED") || strings.Contains(key.Type, "ENCRYPTED") {
		return nil, privErr("encrypted private keys are not supported; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	}
	switch key.Type {
	case pemTypePKCS8:
		return parsePKCS8(key.Bytes)
	case pemTypePKCS1:
		k, err := x509.ParsePKCS1PrivateKey(key.Bytes)
		if err != nil {
			return nil, privErr("invalid PKCS #1 RSA key: %s", describeX509Err(err))
		}
		return newRSAPrivateKey(k)
	case pemTypeHybrid:
		if len(key.Bytes) != hybridSeedSize {
			return nil, privErr("mlkem768x25519 key is %d bytes; want a %d-byte seed", len(key.Bytes), hybridSeedSize)
		}
		k, err := hpke.MLKEM768X25519().NewPrivateKey(key.Bytes)
		if err != nil {
			return nil, privErr("invalid mlkem768x25519 key: %v", err)
		}
		return newHybridPrivateKey(k), nil
	case "EC PRIVATE KEY":
		return nil, privErr("unsupported key type EC (SEC 1); use RSA (2048–4096 bits), X25519, or mlkem768x25519")
	case "OPENSSH PRIVATE KEY":
		return nil, privErr("OpenSSH private keys are not supported; use RSA (2048–4096 bits), X25519, or mlkem768x25519 in PKCS #8")
	}
	return nil, privErr("unsupported PEM block type %s; want %q, %q or %q", quoteShort(key.Type), pemTypePKCS8, pemTypePKCS1, pemTypeHybrid)
}

// pkcs8 is the outer structure of a PKCS #8 / RFC 5958 private key, enough
// to name an unsupported key type.
type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	Rest       asn1.RawValue `asn1:"optional"`
}

func parsePKCS8(der []byte) (*PrivateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		var outer pkcs8
		if _, aerr := asn1.Unmarshal(der, &outer); aerr != nil {
			return nil, privErr("not a valid PKCS #8 structure")
		}
		switch name := keyTypeName(outer.Algorithm.Algorithm); name {
		case "RSA", "X25519":
			return nil, privErr("invalid %s key: %s", name, describeX509Err(err))
		default:
			return nil, privErr("unsupported key type %s; %s", name, supportedKeys)
		}
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return newRSAPrivateKey(k)
	case *ecdh.PrivateKey:
		if k.Curve() != ecdh.X25519() {
			return nil, privErr("unsupported key type ECDH %v; %s", k.Curve(), supportedKeys)
		}
		return newX25519PrivateKey(k)
	case *ecdsa.PrivateKey:
		return nil, privErr("unsupported key type ECDSA %s; %s", k.Curve.Params().Name, supportedKeys)
	case ed25519.PrivateKey:
		return nil, privErr("unsupported key type Ed25519 (a signature key; X25519 is its encryption counterpart); %s", supportedKeys)
	}
	return nil, privErr("unsupported key type %T; %s", key, supportedKeys)
}
