package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestBoundRSA: the bound RSA form seals with the OAEP label
// "agentotp/v1:" + request id, so that a ciphertext opens only for its own
// request, and asking for the bound form refuses a plain ciphertext (the
// replay of issue 13 item 10: an old RSA ciphertext posted into a new
// request). The plain form is unchanged.
func TestBoundRSA(t *testing.T) {
	priv, err := GenerateKey(RSAOAEP256)
	if err != nil {
		t.Fatal(err)
	}
	plain := priv.Public()
	bound := plain.Bound()
	if bound.Algorithm() != RSAOAEP256Bound || plain.Algorithm() != RSAOAEP256 || bound.Plain().Algorithm() != RSAOAEP256 {
		t.Fatalf("algorithms: plain %s, bound %s", plain.Algorithm(), bound.Algorithm())
	}
	if bound.Fingerprint() != plain.Fingerprint() {
		t.Fatal("binding changed the fingerprint")
	}
	want := "rsa-oaep-256-bound:" + base64.StdEncoding.EncodeToString(plain.raw)
	if bound.String() != want {
		t.Fatalf("String() = %.40q…", bound.String())
	}
	for _, s := range []string{want, "RSA-OAEP-256-BOUND:" + strings.TrimPrefix(want, "rsa-oaep-256-bound:"), " " + want + "\n"} {
		k, err := ParsePublicKey(s)
		if err != nil || k.Algorithm() != RSAOAEP256Bound || k.String() != want {
			t.Fatalf("ParsePublicKey(%.30q…) = %v, %v", s, k, err)
		}
	}
	code := []byte("482913")
	boundCT, err := bound.Seal("otp_new", code)
	if err != nil {
		t.Fatal(err)
	}
	plainCT, err := plain.Seal("otp_old", code)
	if err != nil {
		t.Fatal(err)
	}
	otherCT, err := bound.Seal("otp_old", code)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		alg  Algorithm
		id   string
		ct   []byte
		ok   bool
	}{
		{"bound opens for its request", RSAOAEP256Bound, "otp_new", boundCT, true},
		{"plain ciphertext refused when bound asked for", RSAOAEP256Bound, "otp_new", plainCT, false},
		{"bound ciphertext of another request refused", RSAOAEP256Bound, "otp_new", otherCT, false},
		{"bound needs the request id", RSAOAEP256Bound, "", boundCT, false},
		{"plain opens as plain", RSAOAEP256, "", plainCT, true},
		{"bound ciphertext does not open as plain", RSAOAEP256, "otp_new", boundCT, false},
		{"an HPKE name on an RSA key", HPKEX25519, "otp_new", boundCT, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := priv.OpenAs(tt.alg, tt.id, tt.ct)
			if tt.ok {
				if err != nil || !bytes.Equal(got, code) {
					t.Fatalf("OpenAs = %q, %v", got, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrDecryption) || got != nil {
				t.Fatalf("OpenAs = %q, %v; want ErrDecryption", got, err)
			}
		})
	}
	if _, err := bound.Seal("", code); err == nil {
		t.Fatal("bound Seal without a request id")
	}
	// SealOTP never seals the text for either RSA form.
	if _, content, err := SealOTP(bound, "otp_new", "482913", true, "s", "t"); err != nil || content != nil {
		t.Fatalf("SealOTP(bound, withMessage) = %v, %v", content, err)
	}
}

func TestBoundPrefixRefusesOtherKeys(t *testing.T) {
	x, err := GenerateKey(HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParsePublicKey("rsa-oaep-256-bound:" + x.Public().String())
	if !errors.Is(err, ErrInvalidPublicKey) || !strings.Contains(err.Error(), "for RSA keys") {
		t.Fatalf("bound prefix on X25519: %v", err)
	}
	if x.Public().Bound() != x.Public() {
		t.Fatal("Bound changed an HPKE key")
	}
	if _, err := ParsePublicKey("rsa-oaep-256-bound:not base64!"); !errors.Is(err, ErrInvalidPublicKey) {
		t.Fatalf("bad base64: %v", err)
	}
}

// TestOpenSSLBoundRSA cross-checks the bound form with openssl pkeyutl
// and its rsa_oaep_label option (hex of "agentotp/v1:" + request id).
func TestOpenSSLBoundRSA(t *testing.T) {
	o := needOpenSSL(t)
	o.run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", o.path("key.pem"))
	o.run("pkey", "-in", o.path("key.pem"), "-pubout", "-out", o.path("pub.pem"))
	pub, err := ParsePublicKey("rsa-oaep-256-bound:" + o.spkiBase64(o.path("key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKeyPEM(o.read("key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	const id = "otp_3kQ9zX2mB7"
	label := []string{"-pkeyopt", "rsa_oaep_label:" + hex.EncodeToString([]byte("agentotp/v1:"+id))}

	t.Run("we seal, openssl opens with the label", func(t *testing.T) {
		ct, err := pub.Seal(id, []byte("735921"))
		if err != nil {
			t.Fatal(err)
		}
		o.write("ct.bin", ct)
		got := o.run(append(append([]string{"pkeyutl", "-decrypt", "-inkey", o.path("key.pem"), "-in", o.path("ct.bin")}, oaepOpts...), label...)...)
		if string(got) != "735921" {
			t.Fatalf("openssl decrypted %q", got)
		}
		// Without the label (the plain form) openssl refuses it.
		if _, err := o.try(append([]string{"pkeyutl", "-decrypt", "-inkey", o.path("key.pem"), "-in", o.path("ct.bin")}, oaepOpts...)...); err == nil {
			t.Fatal("openssl opened a bound ciphertext without the label")
		}
	})
	t.Run("openssl seals with the label, we open", func(t *testing.T) {
		o.write("code.txt", []byte("A1B2-C3D4"))
		ct := o.run(append(append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", o.path("pub.pem"), "-in", o.path("code.txt")}, oaepOpts...), label...)...)
		got, err := priv.OpenAs(RSAOAEP256Bound, id, ct)
		if err != nil || string(got) != "A1B2-C3D4" {
			t.Fatalf("OpenAs(openssl bound ciphertext) = %q, %v", got, err)
		}
		if _, err := priv.OpenAs(RSAOAEP256Bound, "otp_other", ct); err == nil {
			t.Fatal("a bound ciphertext opened for another request")
		}
		// openssl's plain ciphertext is refused when the bound form is asked for.
		plainCT := o.run(append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", o.path("pub.pem"), "-in", o.path("code.txt")}, oaepOpts...)...)
		if _, err := priv.OpenAs(RSAOAEP256Bound, id, plainCT); !errors.Is(err, ErrDecryption) {
			t.Fatalf("plain ciphertext as bound: %v", err)
		}
	})
}
