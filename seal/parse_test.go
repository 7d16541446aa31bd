package seal

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustSPKI(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// fakeRSASPKI is the SPKI of an RSA "key" with a random odd modulus of
// exactly bits bits. It is not a real key (nobody knows a factorization),
// but parsing and encryption only look at N and E, so it exercises the size
// checks without generating large keys.
func fakeRSASPKI(t testing.TB, bits, e int) []byte {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	n.SetBit(n, 0, 1)
	type pkcs1 struct {
		N *big.Int
		E int
	}
	return rawSPKI(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, asn1.NullRawValue, must(asn1.Marshal(pkcs1{n, e})))
}

// rawSPKI assembles a SubjectPublicKeyInfo by hand.
func rawSPKI(t testing.TB, oid asn1.ObjectIdentifier, params asn1.RawValue, key []byte) []byte {
	t.Helper()
	alg := pkix.AlgorithmIdentifier{Algorithm: oid}
	if params.Tag != 0 || len(params.FullBytes) > 0 {
		alg.Parameters = params
	}
	der, err := asn1.Marshal(spki{Algorithm: alg, PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestParsePublicKey(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	ec384 := must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	edPub, _ := must2(ed25519.GenerateKey(rand.Reader))
	x25519 := must(ecdh.X25519().GenerateKey(rand.Reader))
	hybrid := keys(t)[HPKEMLKEM768X25519].Public().String()
	hybridRaw := must(base64.StdEncoding.DecodeString(strings.TrimPrefix(hybrid, "mlkem768x25519:")))
	rsaGood := keys(t)[RSAOAEP256].Public().String()

	lowOrderHybrid := append([]byte(nil), hybridRaw...)
	clear(lowOrderHybrid[mlkem.EncapsulationKeySize768:])
	badMLKEM := append([]byte(nil), hybridRaw...)
	for i := range mlkem.EncapsulationKeySize768 {
		badMLKEM[i] = 0xff // coefficients not reduced mod q
	}
	// An X25519 SPKI with RSA's NULL parameters, and an RSA SPKI without them.
	x25519WithParams := rawSPKI(t, asn1.ObjectIdentifier{1, 3, 101, 110}, asn1.NullRawValue, x25519.PublicKey().Bytes())
	rsaNoNull := fakeRSASPKI(t, 2048, 65537)
	rsaNoNull = rawSPKI(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, asn1.RawValue{}, must(parsePKCS1Bits(rsaNoNull)))

	tests := []struct {
		name    string
		in      string
		want    Algorithm // "" means an error is expected
		wantErr string    // substring of the error message
	}{
		// Accepted.
		{"RSA 2048 (generated)", rsaGood, RSAOAEP256, ""},
		{"RSA 2048 boundary", b64(fakeRSASPKI(t, 2048, 65537)), RSAOAEP256, ""},
		{"RSA 3072", b64(fakeRSASPKI(t, 3072, 65537)), RSAOAEP256, ""},
		{"RSA 4096 boundary", b64(fakeRSASPKI(t, 4096, 65537)), RSAOAEP256, ""},
		{"RSA e=3", b64(fakeRSASPKI(t, 2048, 3)), RSAOAEP256, ""},
		{"X25519", b64(mustSPKI(t, x25519.PublicKey())), HPKEX25519, ""},
		{"mlkem768x25519", hybrid, HPKEMLKEM768X25519, ""},
		{"surrounding white space", "\n " + rsaGood + " \r\n", RSAOAEP256, ""},

		// Encoding errors.
		{"empty", "", "", "public_key: empty"},
		{"only white space", " \t\n", "", "public_key: empty"},
		{"bad base64", "MIIB!@#$", "", "public_key: not valid base64 (standard alphabet, = padding): bad data at byte 4"},
		{"missing padding", strings.TrimRight(b64(mustSPKI(t, x25519.PublicKey())), "="), "", "public_key: not valid base64"},
		{"url-safe base64", "MCowBQYDK2VuAyEA-_" + strings.Repeat("A", 42), "", "looks URL-safe"},
		{"PEM armour", "-----BEGIN PUBLIC KEY-----\n" + rsaGood + "\n-----END PUBLIC KEY-----", "", "PEM is not accepted"},
		{"oversized", strings.Repeat("A", 8<<10+1), "", "public_key: 8193 bytes is too long; at most 8192 accepted"},
		{"oversized white space", strings.Repeat(" ", 8<<10+1), "", "too long"},

		// DER errors.
		{"garbage DER", b64([]byte("this is not DER at all")), "", "public_key: not a DER SubjectPublicKeyInfo"},
		{"truncated DER", b64(must(base64.StdEncoding.DecodeString(rsaGood))[:100]), "", "not a DER SubjectPublicKeyInfo"},
		{"trailing data", b64(append(mustSPKI(t, x25519.PublicKey()), 0)), "", "1 bytes of trailing data"},
		{"raw X25519 key", b64(x25519.PublicKey().Bytes()), "", "a raw X25519 key must be sent wrapped in SPKI"},
		{"raw hybrid key without prefix", b64(hybridRaw), "", `must be prefixed with "mlkem768x25519:"`},
		{"X25519 with parameters", b64(x25519WithParams), "", "invalid X25519 key"},
		{"RSA without NULL parameters", b64(rsaNoNull), "", "invalid RSA key"},

		// RSA rules.
		{"RSA 1024 (generated)", b64(mustSPKI(t, &rsa1024.PublicKey)), "", "public_key: RSA key is 1024 bits; 2048–4096 required"},
		{"RSA 2047", b64(fakeRSASPKI(t, 2047, 65537)), "", "public_key: RSA key is 2047 bits; 2048–4096 required"},
		{"RSA 4097", b64(fakeRSASPKI(t, 4097, 65537)), "", "public_key: RSA key is 4097 bits; 2048–4096 required"},
		{"RSA 8192", b64(fakeRSASPKI(t, 8192, 65537)), "", "public_key: RSA key is 8192 bits; 2048–4096 required"},
		{"RSA e=1", b64(fakeRSASPKI(t, 2048, 1)), "", "public exponent 1 is invalid"},
		{"RSA e even", b64(fakeRSASPKI(t, 2048, 65536)), "", "public exponent 65536 is invalid"},
		{"RSA even modulus", b64(evenModulusSPKI(t)), "", "RSA modulus is even"},

		// Other key types, named.
		{"ECDSA P-256", b64(mustSPKI(t, &ecKey.PublicKey)), "", "public_key: unsupported key type ECDSA P-256; use RSA (2048–4096 bits), X25519, or mlkem768x25519"},
		{"ECDSA P-384", b64(mustSPKI(t, &ec384.PublicKey)), "", "unsupported key type ECDSA P-384"},
		{"ECDH P-256", b64(mustSPKI(t, must(ecdh.P256().GenerateKey(rand.Reader)).PublicKey())), "", "unsupported key type ECDSA P-256"},
		{"Ed25519", b64(mustSPKI(t, edPub)), "", "public_key: unsupported key type Ed25519"},
		{"X448", b64(rawSPKI(t, asn1.ObjectIdentifier{1, 3, 101, 111}, asn1.RawValue{}, make([]byte, 56))), "", "unsupported key type X448"},
		{"ML-KEM-768 SPKI", b64(rawSPKI(t, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}, asn1.RawValue{}, hybridRaw[:1184])), "", "unsupported key type ML-KEM-768"},
		{"unknown OID", b64(rawSPKI(t, asn1.ObjectIdentifier{1, 2, 3, 4}, asn1.RawValue{}, []byte{1})), "", "unsupported key type with algorithm OID 1.2.3.4"},
		{"low-order X25519 point", b64(rawSPKI(t, asn1.ObjectIdentifier{1, 3, 101, 110}, asn1.RawValue{}, make([]byte, 32))), "", "X25519 key is unusable"},

		// Hybrid rules.
		{"mlkem prefix, empty key", "mlkem768x25519:", "", "mlkem768x25519 key is 0 bytes; want 1216"},
		{"mlkem prefix, short key", "mlkem768x25519:" + b64(hybridRaw[:1215]), "", "public_key: mlkem768x25519 key is 1215 bytes; want 1216"},
		{"mlkem prefix, ML-KEM only", "mlkem768x25519:" + b64(hybridRaw[:1184]), "", "mlkem768x25519 key is 1184 bytes"},
		{"mlkem prefix, long key", "mlkem768x25519:" + b64(append(append([]byte(nil), hybridRaw...), 0)), "", "1217 bytes"},
		{"mlkem prefix, bad base64", "mlkem768x25519:***", "", "public_key: mlkem768x25519 key: not valid base64"},
		{"mlkem prefix, SPKI", "mlkem768x25519:" + rsaGood, "", "want 1216"},
		{"mlkem, low-order X25519 half", "mlkem768x25519:" + b64(lowOrderHybrid), "", "mlkem768x25519 key is unusable"},
		{"mlkem, bad ML-KEM half", "mlkem768x25519:" + b64(badMLKEM), "", "invalid mlkem768x25519 key"},
		{"unknown prefix", "x25519:" + b64(x25519.PublicKey().Bytes()), "", `unknown key prefix "x25519:"`},
		{"long unknown prefix", strings.Repeat("p", 100) + ":AAAA", "", "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePublicKey(tt.in)
			if tt.want != "" {
				if err != nil {
					t.Fatalf("ParsePublicKey: %v", err)
				}
				if k.Algorithm() != tt.want {
					t.Errorf("Algorithm() = %q, want %q", k.Algorithm(), tt.want)
				}
				if got := k.String(); got != strings.TrimSpace(tt.in) {
					t.Errorf("String() is not the canonical input")
				}
				return
			}
			if err == nil {
				t.Fatalf("ParsePublicKey succeeded (%s); want error containing %q", k.Algorithm(), tt.wantErr)
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, ErrInvalidPublicKey) {
				t.Errorf("error %q does not wrap ErrInvalidPublicKey", err)
			}
			if !strings.HasPrefix(err.Error(), "public_key: ") {
				t.Errorf("error %q does not start with \"public_key: \"", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.wantErr)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error message is %d bytes; keep it short", len(err.Error()))
			}
		})
	}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// parsePKCS1Bits returns the PKCS #1 RSAPublicKey inside an RSA SPKI.
func parsePKCS1Bits(der []byte) ([]byte, error) {
	var s spki
	if _, err := asn1.Unmarshal(der, &s); err != nil {
		return nil, err
	}
	return s.PublicKey.Bytes, nil
}

func evenModulusSPKI(t testing.TB) []byte {
	n := new(big.Int).Lsh(big.NewInt(1), 2047) // 2048 bits, even
	type pkcs1 struct {
		N *big.Int
		E int
	}
	return rawSPKI(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, asn1.NullRawValue, must(asn1.Marshal(pkcs1{n, 65537})))
}

// Sealing to a 4096-bit key works, and the plaintext limit follows the size.
func TestSealRSA4096Fake(t *testing.T) {
	pub, err := ParsePublicKey(b64(fakeRSASPKI(t, 4096, 65537)))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := pub.Seal("", make([]byte, 512-66))
	if err != nil || len(ct) != 512 {
		t.Fatalf("Seal(446 bytes) = %d bytes, %v", len(ct), err)
	}
	if _, err := pub.Seal("", make([]byte, 512-65)); err == nil {
		t.Fatal("Seal(447 bytes) succeeded")
	}
}

func pemBlock(typ string, der []byte, headers map[string]string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
}

func TestParsePrivateKeyPEM(t *testing.T) {
	ks := keys(t)
	rsaKey := ks[RSAOAEP256].rsa
	rsa1024 := must(rsa.GenerateKey(rand.Reader, 1024))
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	_, edPriv := must2(ed25519.GenerateKey(rand.Reader))
	x25519PEM := must(ks[HPKEX25519].MarshalPEM())
	hybridPEM := must(ks[HPKEMLKEM768X25519].MarshalPEM())
	rsaPKCS8 := must(x509.MarshalPKCS8PrivateKey(rsaKey))
	pubPEM := pemBlock("PUBLIC KEY", must(base64.StdEncoding.DecodeString(ks[RSAOAEP256].Public().String())), nil)

	tests := []struct {
		name    string
		in      []byte
		want    Algorithm
		wantFP  string
		wantErr string
	}{
		{"RSA PKCS #8", pemBlock("PRIVATE KEY", rsaPKCS8, nil), RSAOAEP256, ks[RSAOAEP256].Public().Fingerprint(), ""},
		{"RSA PKCS #1", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil), RSAOAEP256, ks[RSAOAEP256].Public().Fingerprint(), ""},
		{"X25519 PKCS #8", x25519PEM, HPKEX25519, ks[HPKEX25519].Public().Fingerprint(), ""},
		{"mlkem768x25519 seed", hybridPEM, HPKEMLKEM768X25519, ks[HPKEMLKEM768X25519].Public().Fingerprint(), ""},
		{"after other blocks and text", append(append([]byte("comment\n"), pubPEM...), x25519PEM...), HPKEX25519, ks[HPKEX25519].Public().Fingerprint(), ""},
		{"CRLF line endings", []byte(strings.ReplaceAll(string(x25519PEM), "\n", "\r\n")), HPKEX25519, ks[HPKEX25519].Public().Fingerprint(), ""},

		{"empty", nil, "", "", "private key: empty input"},
		{"not PEM", []byte("hello"), "", "", "private key: no PEM block found"},
		{"DER not PEM", rsaPKCS8, "", "", "no PEM block found"},
		{"oversized", make([]byte, 64<<10+1), "", "", "too long"},
		{"public key only", pubPEM, "", "", `no private key PEM block found (found "PUBLIC KEY")`},
		{"two private keys", append(append([]byte(nil), x25519PEM...), hybridPEM...), "", "", "more than one private key"},
		{"garbage PKCS #8", pemBlock("PRIVATE KEY", []byte("garbage"), nil), "", "", "not a valid PKCS #8 structure"},
		{"garbage PKCS #1", pemBlock("RSA PRIVATE KEY", []byte("garbage"), nil), "", "", "invalid PKCS #1 RSA key"},
		{"RSA 1024", pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(rsa1024)), nil), "", "", "private key: RSA key is 1024 bits; 2048–4096 required"},
		{"RSA 1024 PKCS #1", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024), nil), "", "", "RSA key is 1024 bits"},
		{"ECDSA PKCS #8", pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ecKey)), nil), "", "", "unsupported key type ECDSA P-256"},
		{"EC SEC 1", pemBlock("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(ecKey)), nil), "", "", "unsupported key type EC (SEC 1)"},
		{"Ed25519", pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(edPriv)), nil), "", "", "unsupported key type Ed25519"},
		{"X448 PKCS #8", pemBlock("PRIVATE KEY", fakePKCS8(t, asn1.ObjectIdentifier{1, 3, 101, 111}, 56), nil), "", "", "unsupported key type X448"},
		{"encrypted PKCS #8", pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}, nil), "", "", "encrypted private keys are not supported"},
		{"legacy encrypted PEM", pemBlock("RSA PRIVATE KEY", []byte{1, 2, 3}, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}), "", "", "encrypted private keys are not supported"},
		{"OpenSSH", pemBlock("OPENSSH PRIVATE KEY", []byte("openssh-key-v1\x00"), nil), "", "", "OpenSSH private keys are not supported"},
		{"unknown block type", pemBlock("DSA PRIVATE KEY", []byte{1}, nil), "", "", `unsupported PEM block type "DSA PRIVATE KEY"`},
		{"hybrid seed too short", pemBlock("AGENTOTP MLKEM768X25519 PRIVATE KEY", make([]byte, 31), nil), "", "", "mlkem768x25519 key is 31 bytes; want a 32-byte seed"},
		{"hybrid expanded key", pemBlock("AGENTOTP MLKEM768X25519 PRIVATE KEY", make([]byte, 2400), nil), "", "", "2400 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKeyPEM(tt.in)
			if tt.want != "" {
				if err != nil {
					t.Fatalf("ParsePrivateKeyPEM: %v", err)
				}
				if k.Algorithm() != tt.want || k.Public().Fingerprint() != tt.wantFP {
					t.Errorf("got %v, want %s %s", k, tt.want, tt.wantFP)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParsePrivateKeyPEM succeeded (%v); want error containing %q", k, tt.wantErr)
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, ErrInvalidPrivateKey) {
				t.Errorf("error %q does not wrap ErrInvalidPrivateKey", err)
			}
			if !strings.HasPrefix(err.Error(), "private key: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q\nwant it to start with \"private key: \" and contain %q", err, tt.wantErr)
			}
		})
	}
}

// fakePKCS8 is a PKCS #8 structure for an algorithm Go does not parse.
func fakePKCS8(t testing.TB, oid asn1.ObjectIdentifier, keyLen int) []byte {
	t.Helper()
	inner := must(asn1.Marshal(make([]byte, keyLen)))
	der, err := asn1.Marshal(struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: oid}, inner})
	if err != nil {
		t.Fatal(err)
	}
	return der
}
