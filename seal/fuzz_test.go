package seal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// FuzzParsePublicKey checks that ParsePublicKey never panics, that every
// error wraps ErrInvalidPublicKey, and that an accepted key's String()
// parses back to the same key. It runs its seed corpus under plain go test;
// fuzz with: go test ./seal -run '^$' -fuzz FuzzParsePublicKey
func FuzzParsePublicKey(f *testing.F) {
	ks := keys(f)
	for _, a := range algorithms {
		f.Add(ks[a.alg].Public().String())
	}
	ec := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	hybridRaw := must(base64.StdEncoding.DecodeString(strings.TrimPrefix(ks[HPKEMLKEM768X25519].Public().String(), "mlkem768x25519:")))
	for _, s := range []string{
		"",
		" ",
		"!!!!",
		"AAAA",
		"MCowBQYDK2VuAyEA",
		"mlkem768x25519:",
		"mlkem768x25519:AAAA",
		"MLKEM768X25519:" + base64.StdEncoding.EncodeToString(hybridRaw),
		"mlkem768x25519:" + base64.StdEncoding.EncodeToString(hybridRaw[:1215]),
		"x25519:AAAA",
		":",
		"-----BEGIN PUBLIC KEY-----",
		base64.StdEncoding.EncodeToString(mustSPKI(f, &ec.PublicKey)),
		base64.StdEncoding.EncodeToString(make([]byte, 32)),
		base64.StdEncoding.EncodeToString(fakeRSASPKI(f, 1024, 65537)),
		base64.StdEncoding.EncodeToString(fakeRSASPKI(f, 2048, 3)),
		base64.StdEncoding.EncodeToString(fakeRSASPKI(f, 2048, 2)),
		base64.StdEncoding.EncodeToString(rawSPKIFuzz(f, make([]byte, 32))),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePublicKey(s)
		if err != nil {
			if k != nil {
				t.Fatalf("ParsePublicKey returned a key and an error")
			}
			if !errors.Is(err, ErrInvalidPublicKey) {
				t.Fatalf("error %q does not wrap ErrInvalidPublicKey", err)
			}
			if !strings.HasPrefix(err.Error(), "public_key: ") {
				t.Fatalf("error %q lacks the public_key: prefix", err)
			}
			return
		}
		switch k.Algorithm() {
		case RSAOAEP256, HPKEX25519, HPKEMLKEM768X25519:
		default:
			t.Fatalf("accepted key has algorithm %q", k.Algorithm())
		}
		if !fingerprintRE.MatchString(k.Fingerprint()) {
			t.Fatalf("Fingerprint() = %q", k.Fingerprint())
		}
		k2, err := ParsePublicKey(k.String())
		if err != nil {
			t.Fatalf("String() of an accepted key does not parse: %v", err)
		}
		if k2.Fingerprint() != k.Fingerprint() || k2.Algorithm() != k.Algorithm() || k2.String() != k.String() {
			t.Fatalf("String() round trip changed the key")
		}
	})
}

// rawSPKIFuzz is an X25519 SPKI around arbitrary key bytes.
func rawSPKIFuzz(f *testing.F, key []byte) []byte {
	return rawSPKI(f, asn1.ObjectIdentifier{1, 3, 101, 110}, asn1.RawValue{}, key)
}

// FuzzParsePrivateKeyPEM checks that ParsePrivateKeyPEM never panics, that
// every error wraps ErrInvalidPrivateKey, and that an accepted key survives
// MarshalPEM and can open what its public half seals. Fuzz with:
// go test ./seal -run '^$' -fuzz FuzzParsePrivateKeyPEM
func FuzzParsePrivateKeyPEM(f *testing.F) {
	ks := keys(f)
	for _, a := range algorithms {
		f.Add(must(ks[a.alg].MarshalPEM()))
	}
	ec := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	for _, b := range [][]byte{
		nil,
		[]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"),
		[]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIA==\n-----END PRIVATE KEY-----\n"),
		pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(ks[RSAOAEP256].rsa), nil),
		pemBlock("AGENTOTP MLKEM768X25519 PRIVATE KEY", make([]byte, 32), nil),
		pemBlock("AGENTOTP MLKEM768X25519 PRIVATE KEY", make([]byte, 33), nil),
		pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ec)), nil),
		pemBlock("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(ec)), nil),
		pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}, nil),
		pemBlock("PUBLIC KEY", []byte{0x30, 0}, nil),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKeyPEM(data)
		if err != nil {
			if k != nil {
				t.Fatalf("ParsePrivateKeyPEM returned a key and an error")
			}
			if !errors.Is(err, ErrInvalidPrivateKey) {
				t.Fatalf("error %q does not wrap ErrInvalidPrivateKey", err)
			}
			return
		}
		p, err := k.MarshalPEM()
		if err != nil {
			t.Fatalf("MarshalPEM of an accepted key: %v", err)
		}
		k2, err := ParsePrivateKeyPEM(p)
		if err != nil {
			t.Fatalf("MarshalPEM output does not parse: %v", err)
		}
		if k2.Algorithm() != k.Algorithm() || k2.Public().Fingerprint() != k.Public().Fingerprint() {
			t.Fatalf("PEM round trip changed the key")
		}
		if _, err := ParsePublicKey(k.Public().String()); err != nil {
			t.Fatalf("public half of an accepted private key does not parse: %v", err)
		}
		ct, err := k.Public().Seal("otp_fuzz", []byte("123456"))
		if err != nil {
			t.Fatalf("Seal to an accepted key: %v", err)
		}
		pt, err := k2.Open("otp_fuzz", ct)
		if err != nil || !bytes.Equal(pt, []byte("123456")) {
			t.Fatalf("Open after Seal: %q, %v", pt, err)
		}
	})
}
