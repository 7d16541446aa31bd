package seal

import (
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
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// hybridPublicKeySize is the size of a raw MLKEM768-X25519 public key: the
// ML-KEM-768 encapsulation key followed by the X25519 public key.
const hybridPublicKeySize = mlkem.EncapsulationKeySize768 + 32

// PublicKey is an agent's public key, as submitted in the API's public_key
// field. It is immutable and safe for concurrent use. Make one with
// ParsePublicKey or PrivateKey.Public; the zero value is not usable.
type PublicKey struct {
	alg  Algorithm
	raw  []byte         // canonical bytes: DER SPKI (RSA, X25519) or the raw hybrid key
	rsa  *rsa.PublicKey // RSAOAEP256 only
	hpke hpke.PublicKey // HPKE algorithms only
}

// ParsePublicKey parses the API encoding of a public key (see the package
// documentation): standard padded base64 of a DER SubjectPublicKeyInfo
// holding an RSA key of 2048–4096 bits (RSAOAEP256) or an X25519 key
// (HPKEX25519), or "mlkem768x25519:" followed by standard padded base64 of the
// raw 1216-byte hybrid key (HPKEMLKEM768X25519).
//
// Input longer than 8 KiB is refused before it is decoded. Surrounding white
// space is ignored. HPKE keys are checked by a trial encapsulation, so that
// a key that can never be sealed to (such as a low-order X25519 point) is
// refused here and not when a code arrives.
//
// Every error wraps ErrInvalidPublicKey and says precisely what is wrong,
// for example "public_key: RSA key is 1024 bits; 2048–4096 required".
func ParsePublicKey(s string) (*PublicKey, error) {
	if len(s) > maxPublicKeyLen {
		return nil, pubErr("%d bytes is too long; at most %d accepted", len(s), maxPublicKeyLen)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, pubErr("empty")
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		return nil, pubErr("PEM is not accepted; send the standard base64 of the DER SubjectPublicKeyInfo (the PEM body without the BEGIN/END lines)")
	}
	if prefix, rest, ok := strings.Cut(s, ":"); ok {
		switch {
		case strings.EqualFold(prefix+":", hybridKeyPrefix):
			raw, err := decodeBase64(rest)
			if err != nil {
				return nil, pubErr("mlkem768x25519 key: %v", err)
			}
			return parseHybridPublicKey(raw)
		case strings.EqualFold(prefix+":", boundRSAPrefix):
			der, err := decodeBase64(rest)
			if err != nil {
				return nil, pubErr("rsa-oaep-256-bound key: %v", err)
			}
			k, err := parseSPKI(der)
			if err != nil {
				return nil, err
			}
			if k.alg != RSAOAEP256 {
				return nil, pubErr("the %q prefix is for RSA keys, not %s", boundRSAPrefix, k.alg)
			}
			return k.Bound(), nil
		}
		return nil, pubErr("unknown key prefix %s; the prefixes are %q and %q (plain RSA and X25519 keys have none)", quoteShort(prefix+":"), hybridKeyPrefix, boundRSAPrefix)
	}
	der, err := decodeBase64(s)
	if err != nil {
		return nil, pubErr("%v", err)
	}
	return parseSPKI(der)
}

// decodeBase64 decodes standard, padded base64 and explains a failure.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err == nil {
		return b, nil
	}
	if strings.ContainsAny(s, "-_") {
		return nil, errors.New("not valid base64: it looks URL-safe; use the standard alphabet (+ and /) with = padding")
	}
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		return nil, fmt.Errorf("not valid base64 (standard alphabet, = padding): bad data at byte %d", int64(ce))
	}
	return nil, errors.New("not valid base64 (standard alphabet, = padding)")
}

// quoteShort quotes s for an error message, cut to a few dozen bytes.
func quoteShort(s string) string {
	const max = 32
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

// spki is the outer structure of a SubjectPublicKeyInfo (RFC 5280).
type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// Object identifiers of key types that are refused with their name.
var keyTypeNames = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, "RSA"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}, "RSASSA-PSS (an rsaEncryption key is required)"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 7}, "RSAES-OAEP-params (an rsaEncryption key is required)"},
	{asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}, "DSA"},
	{asn1.ObjectIdentifier{1, 2, 840, 10046, 2, 1}, "Diffie-Hellman"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 3, 1}, "Diffie-Hellman"},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, "EC"},
	{asn1.ObjectIdentifier{1, 3, 132, 1, 12}, "ECDH"},
	{asn1.ObjectIdentifier{1, 3, 101, 110}, "X25519"},
	{asn1.ObjectIdentifier{1, 3, 101, 111}, "X448"},
	{asn1.ObjectIdentifier{1, 3, 101, 112}, "Ed25519"},
	{asn1.ObjectIdentifier{1, 3, 101, 113}, "Ed448"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}, "ML-KEM-512"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}, "ML-KEM-768 (for the hybrid, send \"mlkem768x25519:\" + base64 of the raw hybrid key)"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}, "ML-KEM-1024"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}, "ML-DSA-44"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}, "ML-DSA-65"},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}, "ML-DSA-87"},
	{asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}, "SM2"},
}

func keyTypeName(oid asn1.ObjectIdentifier) string {
	for _, k := range keyTypeNames {
		if k.oid.Equal(oid) {
			return k.name
		}
	}
	s := oid.String()
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "with algorithm OID " + s
}

const supportedKeys = "use RSA (2048–4096 bits), X25519, or mlkem768x25519"

// parseSPKI parses a DER SubjectPublicKeyInfo holding an RSA or X25519 key.
func parseSPKI(der []byte) (*PublicKey, error) {
	switch {
	case len(der) == 32:
		return nil, pubErr("32 bytes is not a DER SubjectPublicKeyInfo; a raw X25519 key must be sent wrapped in SPKI (44 bytes of DER, as openssl pkey -pubout -outform DER writes)")
	case len(der) == hybridPublicKeySize:
		return nil, pubErr("%d bytes is not a DER SubjectPublicKeyInfo; a raw ML-KEM-768+X25519 key must be prefixed with %q", len(der), hybridKeyPrefix)
	}
	var outer spki
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil {
		return nil, pubErr("not a DER SubjectPublicKeyInfo (%d bytes after base64)", len(der))
	}
	if len(rest) > 0 {
		return nil, pubErr("%d bytes of trailing data after the DER SubjectPublicKeyInfo", len(rest))
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		name := keyTypeName(outer.Algorithm.Algorithm)
		switch name {
		case "RSA", "X25519":
			return nil, pubErr("invalid %s key: %s", name, describeX509Err(err))
		case "EC":
			return nil, pubErr("unsupported key type EC on an unsupported curve; %s", supportedKeys)
		}
		return nil, pubErr("unsupported key type %s; %s", name, supportedKeys)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return newRSAPublicKey(k)
	case *ecdh.PublicKey:
		if k.Curve() != ecdh.X25519() {
			return nil, pubErr("unsupported key type ECDH %v; %s", k.Curve(), supportedKeys)
		}
		return newX25519PublicKey(k, true)
	case *ecdsa.PublicKey:
		return nil, pubErr("unsupported key type ECDSA %s; %s", k.Curve.Params().Name, supportedKeys)
	case ed25519.PublicKey:
		return nil, pubErr("unsupported key type Ed25519 (a signature key; X25519 is its encryption counterpart); %s", supportedKeys)
	}
	return nil, pubErr("unsupported key type %s; %s", keyTypeName(outer.Algorithm.Algorithm), supportedKeys)
}

// describeX509Err shortens an error of crypto/x509 for a message: ASN.1
// decoder details become "malformed DER".
func describeX509Err(err error) string {
	s := strings.TrimPrefix(err.Error(), "x509: ")
	if i := strings.Index(s, "asn1:"); i >= 0 {
		s = strings.TrimSuffix(strings.TrimSpace(s[:i]), ":")
		if s == "" {
			return "malformed DER"
		}
		return s + ": malformed DER"
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// describeEncapErr explains why a trial encapsulation failed.
func describeEncapErr(err error, subject string) string {
	if strings.Contains(err.Error(), "low order") {
		return subject + " a low-order point"
	}
	return err.Error()
}

// checkRSAPublic applies the size and sanity rules for RSA keys. The error
// message has no prefix.
func checkRSAPublic(k *rsa.PublicKey) error {
	if k.N == nil || k.N.Sign() <= 0 {
		return errors.New("RSA modulus is missing")
	}
	if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return fmt.Errorf("RSA key is %d bits; %d–%d required", bits, minRSABits, maxRSABits)
	}
	if k.N.Bit(0) == 0 {
		return errors.New("RSA modulus is even")
	}
	if k.E < 3 || k.E&1 == 0 || k.E > 1<<31-1 {
		return fmt.Errorf("RSA public exponent %d is invalid; it must be odd, at least 3 and below 2^31", k.E)
	}
	return nil
}

func newRSAPublicKey(k *rsa.PublicKey) (*PublicKey, error) {
	if err := checkRSAPublic(k); err != nil {
		return nil, pubErr("%v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, pubErr("invalid RSA key: %v", err)
	}
	pub := *k
	return &PublicKey{alg: RSAOAEP256, raw: der, rsa: &pub}, nil
}

// newX25519PublicKey wraps an X25519 key. With check set, it proves by a
// trial encapsulation that the key can be sealed to.
func newX25519PublicKey(k *ecdh.PublicKey, check bool) (*PublicKey, error) {
	hk, err := hpke.NewDHKEMPublicKey(k)
	if err != nil {
		return nil, pubErr("invalid X25519 key: %v", err)
	}
	if check {
		if err := trialEncap(hk); err != nil {
			return nil, pubErr("X25519 key is unusable: %s", describeEncapErr(err, "it is"))
		}
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, pubErr("invalid X25519 key: %v", err)
	}
	return &PublicKey{alg: HPKEX25519, raw: der, hpke: hk}, nil
}

// parseHybridPublicKey parses a raw MLKEM768-X25519 public key.
func parseHybridPublicKey(raw []byte) (*PublicKey, error) {
	if len(raw) != hybridPublicKeySize {
		return nil, pubErr("mlkem768x25519 key is %d bytes; want %d (%d-byte ML-KEM-768 encapsulation key, then 32-byte X25519 key)",
			len(raw), hybridPublicKeySize, mlkem.EncapsulationKeySize768)
	}
	hk, err := hpke.MLKEM768X25519().NewPublicKey(raw)
	if err != nil {
		return nil, pubErr("invalid mlkem768x25519 key: %v", err)
	}
	if err := trialEncap(hk); err != nil {
		return nil, pubErr("mlkem768x25519 key is unusable: %s", describeEncapErr(err, "its X25519 part is"))
	}
	return newHybridPublicKey(hk), nil
}

func newHybridPublicKey(hk hpke.PublicKey) *PublicKey {
	return &PublicKey{alg: HPKEMLKEM768X25519, raw: hk.Bytes(), hpke: hk}
}

// trialEncap runs an encapsulation to k and discards the result.
func trialEncap(k hpke.PublicKey) error {
	_, _, err := hpke.NewSender(k, hpkeKDF(), hpkeAEAD(), []byte(infoPrefix))
	return err
}

// Algorithm returns the algorithm that Seal uses with this key, which
// follows from the key's type. It returns "" for a nil or zero PublicKey.
func (k *PublicKey) Algorithm() Algorithm {
	if k == nil {
		return ""
	}
	return k.alg
}

// String returns the canonical API encoding of the key, which ParsePublicKey
// accepts: base64 of the DER SPKI for RSA and X25519, and "mlkem768x25519:"
// + base64 of the raw key for the hybrid. It returns "" for a nil or zero
// PublicKey.
func (k *PublicKey) String() string {
	if k == nil || len(k.raw) == 0 {
		return ""
	}
	s := base64.StdEncoding.EncodeToString(k.raw)
	switch k.alg {
	case HPKEMLKEM768X25519:
		return hybridKeyPrefix + s
	case RSAOAEP256Bound:
		return boundRSAPrefix + s
	}
	return s
}

// Bound returns the key in its request-bound form: for an RSA key, the
// same key with algorithm RSAOAEP256Bound (its String is
// "rsa-oaep-256-bound:" + base64 of the DER); HPKE keys, bound through
// info already, come back as they are. The fingerprint does not change.
func (k *PublicKey) Bound() *PublicKey {
	if k == nil || k.alg != RSAOAEP256 {
		return k
	}
	b := *k
	b.alg = RSAOAEP256Bound
	return &b
}

// Plain returns an RSA key in its plain form (RSAOAEP256: an empty OAEP
// label, what WebCrypto code written to the integration guide uses);
// other keys come back as they are.
func (k *PublicKey) Plain() *PublicKey {
	if k == nil || k.alg != RSAOAEP256Bound {
		return k
	}
	p := *k
	p.alg = RSAOAEP256
	return &p
}

// rsaLabel is the OAEP label of alg for requestID: none for the plain
// form, "agentotp/v1:" + requestID for the bound one.
func rsaLabel(alg Algorithm, requestID string) ([]byte, error) {
	if alg != RSAOAEP256Bound {
		return nil, nil
	}
	if requestID == "" {
		return nil, fmt.Errorf("seal: %s needs a request id to bind the ciphertext to", alg)
	}
	return []byte(infoPrefix + requestID), nil
}

// Fingerprint returns "SHA256:" followed by the unpadded standard base64 of
// the SHA-256 of the key's canonical bytes, in the style of OpenSSH. The
// canonical bytes are the DER SubjectPublicKeyInfo for RSA and X25519 keys
// and the raw 1216-byte key for ML-KEM-768+X25519: the bytes that String
// base64-encodes. It returns "" for a nil or zero PublicKey.
func (k *PublicKey) Fingerprint() string {
	if k == nil || len(k.raw) == 0 {
		return ""
	}
	sum := sha256.Sum256(k.raw)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// rsaMaxPlaintext is the largest plaintext RSA-OAEP with SHA-256 can seal
// to k: the modulus size minus twice the hash size minus 2.
func rsaMaxPlaintext(k *rsa.PublicKey) int {
	return k.Size() - 2*sha256.Size - 2
}

// Seal encrypts plaintext for this key, bound to requestID.
//
// For RSAOAEP256 it is RSA-OAEP with SHA-256 as the hash and in MGF1 and an
// empty label (WebCrypto's RSA-OAEP with SHA-256; openssl pkeyutl with
// rsa_padding_mode:oaep and rsa_oaep_md:sha256). requestID is not used.
// For RSAOAEP256Bound the label is "agentotp/v1:" + requestID (openssl's
// rsa_oaep_label, in hex); requestID must not be empty.
// A plaintext longer than the modulus size minus 66 bytes (190 bytes for
// 2048 bits) is an error.
//
// For the HPKE algorithms it is an RFC 9180 base-mode single-shot seal with
// HKDF-SHA256 and ChaCha20Poly1305, info = "agentotp/v1:" + requestID and an
// empty AAD; the result is enc || ciphertext. requestID must not be empty.
//
// The output is random: sealing the same plaintext twice gives different
// ciphertexts.
func (k *PublicKey) Seal(requestID string, plaintext []byte) ([]byte, error) {
	if k == nil || len(k.raw) == 0 {
		return nil, errors.New("seal: Seal called on a nil or zero PublicKey")
	}
	switch k.alg {
	case RSAOAEP256, RSAOAEP256Bound:
		if max := rsaMaxPlaintext(k.rsa); len(plaintext) > max {
			return nil, fmt.Errorf("seal: plaintext is %d bytes; %s with a %d-bit key holds at most %d",
				len(plaintext), k.alg, k.rsa.N.BitLen(), max)
		}
		label, err := rsaLabel(k.alg, requestID)
		if err != nil {
			return nil, err
		}
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.rsa, plaintext, label)
		if err != nil {
			return nil, fmt.Errorf("seal: %s: %v", k.alg, err)
		}
		return ct, nil
	case HPKEX25519, HPKEMLKEM768X25519:
		if requestID == "" {
			return nil, fmt.Errorf("seal: %s needs a request id to bind the ciphertext to", k.alg)
		}
		ct, err := hpke.Seal(k.hpke, hpkeKDF(), hpkeAEAD(), []byte(infoPrefix+requestID), plaintext)
		if err != nil {
			return nil, fmt.Errorf("seal: %s: %v", k.alg, err)
		}
		return ct, nil
	}
	return nil, fmt.Errorf("seal: unknown algorithm %q", k.alg)
}
