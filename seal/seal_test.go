package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// algorithms lists every algorithm with the short name used for subtests.
var algorithms = []struct {
	name string
	alg  Algorithm
}{
	{"rsa", RSAOAEP256},
	{"x25519", HPKEX25519},
	{"mlkem768x25519", HPKEMLKEM768X25519},
}

// keySet is one private key per algorithm.
type keySet map[Algorithm]*PrivateKey

func generateKeySet() (keySet, error) {
	ks := keySet{}
	for _, a := range algorithms {
		k, err := GenerateKey(a.alg)
		if err != nil {
			return nil, err
		}
		ks[a.alg] = k
	}
	return ks, nil
}

// Two independent key sets, each generated once per test binary (RSA key
// generation is the slow part of this package's tests).
var (
	primaryKeys   = sync.OnceValues(generateKeySet)
	secondaryKeys = sync.OnceValues(generateKeySet)
)

func keys(t testing.TB) keySet {
	t.Helper()
	ks, err := primaryKeys()
	if err != nil {
		t.Fatalf("generating test keys: %v", err)
	}
	return ks
}

func otherKeys(t testing.TB) keySet {
	t.Helper()
	ks, err := secondaryKeys()
	if err != nil {
		t.Fatalf("generating test keys: %v", err)
	}
	return ks
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in   string
		want Algorithm
		ok   bool
	}{
		{"RSA-OAEP-256", RSAOAEP256, true},
		{"HPKE-X25519-SHA256-CHACHA20POLY1305", HPKEX25519, true},
		{"HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305", HPKEMLKEM768X25519, true},
		{"rsa", RSAOAEP256, true},
		{"x25519", HPKEX25519, true},
		{"mlkem768x25519", HPKEMLKEM768X25519, true},
		{"RSA", RSAOAEP256, true},
		{"X25519", HPKEX25519, true},
		{"hpke-x25519-sha256-chacha20poly1305", HPKEX25519, true},
		{"", "", false},
		{"ed25519", "", false},
		{"RSA-OAEP", "", false},
		{" rsa", "", false},
		{strings.Repeat("x", 1000), "", false},
	}
	for _, tt := range tests {
		got, err := ParseAlgorithm(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseAlgorithm(%.20q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("ParseAlgorithm(%.20q): error message is %d bytes long", tt.in, len(err.Error()))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	ks := keys(t)
	plaintexts := []struct {
		name string
		pt   []byte
	}{
		{"code", []byte("123456")},
		{"empty", []byte{}},
		{"unicode", []byte("Код: 987-654 ✓")},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, 0}},
		{"rsa-max", bytes.Repeat([]byte{'a'}, 190)}, // the OAEP-SHA-256 limit of a 2048-bit key
	}
	for _, a := range algorithms {
		for _, p := range plaintexts {
			t.Run(a.name+"/"+p.name, func(t *testing.T) {
				priv := ks[a.alg]
				if priv.Algorithm() != a.alg || priv.Public().Algorithm() != a.alg {
					t.Fatalf("Algorithm() = %q / %q, want %q", priv.Algorithm(), priv.Public().Algorithm(), a.alg)
				}
				// Seal through a freshly parsed public key, as the relay does.
				pub, err := ParsePublicKey(priv.Public().String())
				if err != nil {
					t.Fatalf("ParsePublicKey(own key): %v", err)
				}
				ct, err := pub.Seal("otp_abc123", p.pt)
				if err != nil {
					t.Fatalf("Seal: %v", err)
				}
				if got, want := len(ct), ciphertextLen(a.alg, len(p.pt)); got != want {
					t.Errorf("len(ciphertext) = %d, want %d", got, want)
				}
				got, err := priv.Open("otp_abc123", ct)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !bytes.Equal(got, p.pt) {
					t.Fatalf("Open = %q, want %q", got, p.pt)
				}
				// Sealing is randomized.
				ct2, err := pub.Seal("otp_abc123", p.pt)
				if err != nil {
					t.Fatalf("Seal: %v", err)
				}
				if bytes.Equal(ct, ct2) {
					t.Errorf("two Seals of the same plaintext gave the same ciphertext")
				}
			})
		}
	}
}

// ciphertextLen is the documented ciphertext size.
func ciphertextLen(alg Algorithm, ptLen int) int {
	switch alg {
	case RSAOAEP256:
		return 256 // 2048-bit test keys
	case HPKEX25519:
		return 32 + ptLen + 16
	case HPKEMLKEM768X25519:
		return 1120 + ptLen + 16
	}
	return -1
}

func TestOpenFailures(t *testing.T) {
	ks, others := keys(t), otherKeys(t)
	const id = "otp_7Hx2"
	code := []byte("481516")
	flip := func(i int) func([]byte) []byte {
		return func(ct []byte) []byte {
			c := bytes.Clone(ct)
			j := i
			if j < 0 {
				j = len(c) + i
			}
			c[j] ^= 0x01
			return c
		}
	}
	tests := []struct {
		name     string
		hpkeOnly bool
		openID   string
		key      func(Algorithm) *PrivateKey
		mangle   func([]byte) []byte
	}{
		{name: "wrong request id", hpkeOnly: true, openID: "otp_7Hx3"},
		{name: "request id prefix", hpkeOnly: true, openID: "otp_7Hx"},
		{name: "empty request id", hpkeOnly: true, openID: ""},
		{name: "wrong key", key: func(a Algorithm) *PrivateKey { return others[a] }},
		{name: "key of another algorithm", key: func(a Algorithm) *PrivateKey {
			if a == RSAOAEP256 {
				return ks[HPKEX25519]
			}
			return ks[RSAOAEP256]
		}},
		{name: "first byte flipped", mangle: flip(0)},
		{name: "middle byte flipped", mangle: func(ct []byte) []byte { return flip(len(ct) / 2)(ct) }},
		{name: "last byte flipped", mangle: flip(-1)},
		{name: "truncated by one", mangle: func(ct []byte) []byte { return ct[:len(ct)-1] }},
		{name: "one byte appended", mangle: func(ct []byte) []byte { return append(bytes.Clone(ct), 0) }},
		{name: "tag only", mangle: func(ct []byte) []byte { return ct[len(ct)-16:] }},
		{name: "empty", mangle: func([]byte) []byte { return nil }},
		{name: "all zero", mangle: func(ct []byte) []byte { return make([]byte, len(ct)) }},
	}
	for _, a := range algorithms {
		pub := ks[a.alg].Public()
		ct, err := pub.Seal(id, code)
		if err != nil {
			t.Fatalf("%s: Seal: %v", a.name, err)
		}
		for _, tt := range tests {
			if tt.hpkeOnly && a.alg == RSAOAEP256 {
				continue
			}
			t.Run(a.name+"/"+tt.name, func(t *testing.T) {
				priv, openID, c := ks[a.alg], id, ct
				if tt.key != nil {
					priv = tt.key(a.alg)
				}
				if tt.hpkeOnly {
					openID = tt.openID
				}
				if tt.mangle != nil {
					c = tt.mangle(ct)
				}
				pt, err := priv.Open(openID, c)
				if err == nil {
					t.Fatalf("Open succeeded (%d bytes); want an error", len(pt))
				}
				if !errors.Is(err, ErrDecryption) {
					t.Errorf("error %q does not wrap ErrDecryption", err)
				}
				if pt != nil {
					t.Errorf("Open returned %d bytes with an error", len(pt))
				}
				if strings.Contains(err.Error(), string(code)) {
					t.Errorf("error %q contains the plaintext", err)
				}
				if !strings.HasPrefix(err.Error(), "seal: decryption failed: ") {
					t.Errorf("error %q lacks the standard prefix", err)
				}
			})
		}
	}
}

// RSA ignores the request id entirely.
func TestRSAIgnoresRequestID(t *testing.T) {
	k := keys(t)[RSAOAEP256]
	ct, err := k.Public().Seal("", []byte("1234"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.Open("otp_other", ct)
	if err != nil || string(pt) != "1234" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
}

func TestHPKESealNeedsRequestID(t *testing.T) {
	ks := keys(t)
	for _, alg := range []Algorithm{HPKEX25519, HPKEMLKEM768X25519} {
		if _, err := ks[alg].Public().Seal("", []byte("1")); err == nil {
			t.Errorf("%s: Seal with an empty request id succeeded", alg)
		}
	}
}

func TestRSAPlaintextLimit(t *testing.T) {
	pub := keys(t)[RSAOAEP256].Public()
	if _, err := pub.Seal("r", make([]byte, 190)); err != nil {
		t.Fatalf("Seal(190 bytes): %v", err)
	}
	_, err := pub.Seal("r", make([]byte, 191))
	if err == nil {
		t.Fatal("Seal(191 bytes) succeeded; the OAEP-SHA-256 limit of 2048 bits is 190")
	}
	if want := "seal: plaintext is 191 bytes; RSA-OAEP-256 with a 2048-bit key holds at most 190"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	// HPKE has no such limit.
	big := make([]byte, 64<<10)
	for _, alg := range []Algorithm{HPKEX25519, HPKEMLKEM768X25519} {
		k := keys(t)[alg]
		ct, err := k.Public().Seal("r", big)
		if err != nil {
			t.Fatalf("%s Seal(64 KiB): %v", alg, err)
		}
		if pt, err := k.Open("r", ct); err != nil || !bytes.Equal(pt, big) {
			t.Fatalf("%s Open(64 KiB): %v", alg, err)
		}
	}
}

var fingerprintRE = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)

func TestFingerprint(t *testing.T) {
	ks, others := keys(t), otherKeys(t)
	seen := map[string]string{}
	for _, a := range algorithms {
		for i, k := range []*PrivateKey{ks[a.alg], others[a.alg]} {
			pub := k.Public()
			fp := pub.Fingerprint()
			if !fingerprintRE.MatchString(fp) {
				t.Errorf("%s: Fingerprint() = %q; want SHA256: + 43 unpadded base64 characters", a.name, fp)
			}
			// Stable: the same for the same key, however it was obtained.
			reparsed, err := ParsePublicKey(pub.String())
			if err != nil {
				t.Fatal(err)
			}
			if reparsed.Fingerprint() != fp || pub.Fingerprint() != fp {
				t.Errorf("%s: fingerprint changed: %q, then %q", a.name, fp, reparsed.Fingerprint())
			}
			// Defined over the canonical bytes: the DER SPKI, or the raw hybrid key.
			b64 := strings.TrimPrefix(pub.String(), "mlkem768x25519:")
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(raw)
			if want := "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:]); fp != want {
				t.Errorf("%s: Fingerprint() = %q, want %q", a.name, fp, want)
			}
			// Distinct per key.
			name := fmt.Sprintf("%s#%d", a.name, i)
			if prev, dup := seen[fp]; dup {
				t.Errorf("%s and %s share fingerprint %s", prev, name, fp)
			}
			seen[fp] = name
		}
	}
}

func TestPublicKeyString(t *testing.T) {
	for _, a := range algorithms {
		t.Run(a.name, func(t *testing.T) {
			pub := keys(t)[a.alg].Public()
			s := pub.String()
			if a.alg == HPKEMLKEM768X25519 {
				if !strings.HasPrefix(s, "mlkem768x25519:") {
					t.Fatalf("String() = %.40q…, want the mlkem768x25519: prefix", s)
				}
				raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "mlkem768x25519:"))
				if len(raw) != 1216 {
					t.Errorf("raw hybrid key is %d bytes, want 1216", len(raw))
				}
			} else if _, err := base64.StdEncoding.Strict().DecodeString(s); err != nil {
				t.Fatalf("String() is not standard base64: %v", err)
			}
			for _, in := range []string{s, " " + s + "\n", "\t" + s} {
				got, err := ParsePublicKey(in)
				if err != nil {
					t.Fatalf("ParsePublicKey(String()): %v", err)
				}
				if got.String() != s || got.Algorithm() != a.alg || got.Fingerprint() != pub.Fingerprint() {
					t.Errorf("round trip changed the key: %q %q", got.Algorithm(), got.Fingerprint())
				}
			}
			if a.alg == HPKEMLKEM768X25519 {
				// The prefix is matched without regard to case.
				got, err := ParsePublicKey("MLKEM768X25519:" + strings.TrimPrefix(s, "mlkem768x25519:"))
				if err != nil || got.String() != s {
					t.Errorf("upper-case prefix: %v", err)
				}
			}
		})
	}
}

func TestPEMRoundTrip(t *testing.T) {
	for _, a := range algorithms {
		t.Run(a.name, func(t *testing.T) {
			k := keys(t)[a.alg]
			p, err := k.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			wantType := "-----BEGIN PRIVATE KEY-----\n"
			if a.alg == HPKEMLKEM768X25519 {
				wantType = "-----BEGIN AGENTOTP MLKEM768X25519 PRIVATE KEY-----\n"
			}
			if !bytes.HasPrefix(p, []byte(wantType)) {
				t.Errorf("MarshalPEM begins %q, want %q", p[:min(len(p), 60)], wantType)
			}
			k2, err := ParsePrivateKeyPEM(p)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM(MarshalPEM()): %v", err)
			}
			if k2.Algorithm() != a.alg || k2.Public().Fingerprint() != k.Public().Fingerprint() {
				t.Fatalf("PEM round trip changed the key")
			}
			p2, err := k2.MarshalPEM()
			if err != nil || !bytes.Equal(p, p2) {
				t.Errorf("MarshalPEM is not stable across a round trip (err %v)", err)
			}
			ct, err := k.Public().Seal("otp_1", []byte("424242"))
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := k2.Open("otp_1", ct); err != nil || string(pt) != "424242" {
				t.Errorf("reparsed key cannot open: %v", err)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	if _, err := GenerateKey("RSA-OAEP"); err == nil {
		t.Error("GenerateKey(unknown) succeeded")
	}
	if _, err := GenerateKey(""); err == nil {
		t.Error(`GenerateKey("") succeeded`)
	}
	for _, bits := range []int{0, 1024, 2047, 2049, 4097, 8192} {
		if _, err := GenerateRSAKey(bits); err == nil {
			t.Errorf("GenerateRSAKey(%d) succeeded", bits)
		}
	}
	if testing.Short() {
		t.Skip("skipping 3072- and 4096-bit RSA key generation in short mode")
	}
	for _, bits := range []int{3072, 4096} {
		k, err := GenerateRSAKey(bits)
		if err != nil {
			t.Fatalf("GenerateRSAKey(%d): %v", bits, err)
		}
		pub, err := ParsePublicKey(k.Public().String())
		if err != nil {
			t.Fatalf("%d bits: ParsePublicKey: %v", bits, err)
		}
		max := bits/8 - 66
		ct, err := pub.Seal("", make([]byte, max))
		if err != nil {
			t.Fatalf("%d bits: Seal(%d bytes): %v", bits, max, err)
		}
		if len(ct) != bits/8 {
			t.Errorf("%d bits: ciphertext is %d bytes", bits, len(ct))
		}
		if _, err := k.Open("", ct); err != nil {
			t.Fatalf("%d bits: Open: %v", bits, err)
		}
	}
}

func TestPrivateKeyFormatIsRedacted(t *testing.T) {
	for _, a := range algorithms {
		k := keys(t)[a.alg]
		want := "seal.PrivateKey(" + a.name + " " + k.Public().Fingerprint() + ")"
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d", "%q"} {
			if got := fmt.Sprintf(verb, k); got != want {
				t.Errorf("%s: Sprintf(%s) = %.80q, want %q", a.name, verb, got, want)
			}
		}
		// Also when it sits inside another value.
		if got := fmt.Sprintf("%+v", struct{ K *PrivateKey }{k}); !strings.Contains(got, want) {
			t.Errorf("%s: in a struct: %.80q", a.name, got)
		}
	}
}

func TestZeroAndNilKeys(t *testing.T) {
	var nilPub *PublicKey
	for _, pub := range []*PublicKey{nilPub, {}} {
		if pub.Algorithm() != "" || pub.String() != "" || pub.Fingerprint() != "" {
			t.Error("nil/zero PublicKey methods return non-empty values")
		}
		if _, err := pub.Seal("r", []byte("1")); err == nil {
			t.Error("Seal on a nil/zero PublicKey succeeded")
		}
	}
	var nilPriv *PrivateKey
	for _, k := range []*PrivateKey{nilPriv, {}} {
		if k.Algorithm() != "" {
			t.Error("nil/zero PrivateKey has an algorithm")
		}
		if _, err := k.Open("r", []byte("x")); !errors.Is(err, ErrDecryption) {
			t.Errorf("Open on nil/zero PrivateKey: %v", err)
		}
		if _, err := k.MarshalPEM(); !errors.Is(err, ErrInvalidPrivateKey) {
			t.Errorf("MarshalPEM on nil/zero PrivateKey: %v", err)
		}
		_ = fmt.Sprint(k)
	}
	if nilPriv.Public() != nil {
		t.Error("nil PrivateKey has a public key")
	}
}

func TestConcurrentUse(t *testing.T) {
	ks := keys(t)
	var wg sync.WaitGroup
	for _, a := range algorithms {
		k := ks[a.alg]
		for i := range 8 {
			wg.Go(func() {
				id := fmt.Sprintf("otp_%d", i)
				ct, err := k.Public().Seal(id, []byte(id))
				if err != nil {
					t.Error(err)
					return
				}
				if pt, err := k.Open(id, ct); err != nil || string(pt) != id {
					t.Errorf("%s: concurrent round trip: %v", a.name, err)
				}
			})
		}
	}
	wg.Wait()
}
