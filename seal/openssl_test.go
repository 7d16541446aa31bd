package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests check interoperability with OpenSSL, the reference that
// agents in other languages use. They skip when the openssl binary is
// missing, except under CI=true, where a missing openssl is a failure.

type openssl struct {
	t   *testing.T
	bin string
	dir string
}

func needOpenSSL(t *testing.T) *openssl {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl not found in PATH, and CI=true requires the OpenSSL cross-checks: %v", err)
		}
		t.Skipf("openssl not found in PATH; skipping the OpenSSL cross-check (install openssl, or set CI=true to make this a failure): %v", err)
	}
	return &openssl{t: t, bin: bin, dir: t.TempDir()}
}

// path names a file in the test's temporary directory.
func (o *openssl) path(name string) string { return filepath.Join(o.dir, name) }

func (o *openssl) write(name string, data []byte) string {
	o.t.Helper()
	p := o.path(name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

func (o *openssl) read(name string) []byte {
	o.t.Helper()
	b, err := os.ReadFile(o.path(name))
	if err != nil {
		o.t.Fatal(err)
	}
	return b
}

// run runs openssl with args and returns its standard output.
func (o *openssl) run(args ...string) []byte {
	o.t.Helper()
	out, err := o.try(args...)
	if err != nil {
		o.t.Fatal(err)
	}
	return out
}

func (o *openssl) try(args ...string) ([]byte, error) {
	cmd := exec.Command(o.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.New("openssl " + strings.Join(args, " ") + ": " + err.Error() + ": " + stderr.String())
	}
	return stdout.Bytes(), nil
}

// spkiBase64 is the API encoding of the public half of the key in PEM file
// key, as openssl writes it.
func (o *openssl) spkiBase64(key string) string {
	o.t.Helper()
	return base64.StdEncoding.EncodeToString(o.run("pkey", "-in", key, "-pubout", "-outform", "DER"))
}

var oaepOpts = []string{
	"-pkeyopt", "rsa_padding_mode:oaep",
	"-pkeyopt", "rsa_oaep_md:sha256",
	"-pkeyopt", "rsa_mgf1_md:sha256",
}

func TestOpenSSLRSA(t *testing.T) {
	o := needOpenSSL(t)
	o.run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", o.path("key.pem"))
	pubB64 := o.spkiBase64(o.path("key.pem"))
	o.run("pkey", "-in", o.path("key.pem"), "-pubout", "-out", o.path("pub.pem"))

	pub, err := ParsePublicKey(pubB64)
	if err != nil {
		t.Fatalf("ParsePublicKey(openssl SPKI): %v", err)
	}
	if pub.Algorithm() != RSAOAEP256 {
		t.Fatalf("Algorithm() = %q", pub.Algorithm())
	}
	if pub.String() != pubB64 {
		t.Errorf("String() differs from openssl's DER SPKI")
	}
	// The fingerprint as documented, computed by openssl.
	o.write("pub.der", o.run("pkey", "-in", o.path("key.pem"), "-pubout", "-outform", "DER"))
	digest := o.run("dgst", "-sha256", "-binary", o.path("pub.der"))
	if want := "SHA256:" + base64.RawStdEncoding.EncodeToString(digest); pub.Fingerprint() != want {
		t.Errorf("Fingerprint() = %s, openssl says %s", pub.Fingerprint(), want)
	}

	t.Run("we seal, openssl opens", func(t *testing.T) {
		code := []byte("735921")
		ct, err := pub.Seal("otp_x", code)
		if err != nil {
			t.Fatal(err)
		}
		o.write("ct.bin", ct)
		got := o.run(append([]string{"pkeyutl", "-decrypt", "-inkey", o.path("key.pem"), "-in", o.path("ct.bin")}, oaepOpts...)...)
		if !bytes.Equal(got, code) {
			t.Fatalf("openssl decrypted %q, want %q", got, code)
		}
		// And openssl's default MGF1 (same as the OAEP digest) agrees too,
		// which is how WebCrypto and most libraries behave.
		got = o.run("pkeyutl", "-decrypt", "-inkey", o.path("key.pem"), "-in", o.path("ct.bin"),
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256")
		if !bytes.Equal(got, code) {
			t.Fatalf("openssl (default MGF1) decrypted %q, want %q", got, code)
		}
	})

	t.Run("openssl seals, we open", func(t *testing.T) {
		pemBytes := o.read("key.pem")
		priv, err := ParsePrivateKeyPEM(pemBytes)
		if err != nil {
			t.Fatalf("ParsePrivateKeyPEM(openssl genpkey): %v", err)
		}
		if priv.Public().Fingerprint() != pub.Fingerprint() {
			t.Fatal("private key's public half differs from openssl's")
		}
		for _, code := range []string{"000000", "A1B2-C3D4", strings.Repeat("9", 190)} {
			o.write("code.txt", []byte(code))
			ct := o.run(append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", o.path("pub.pem"), "-in", o.path("code.txt")}, oaepOpts...)...)
			got, err := priv.Open("", ct)
			if err != nil {
				t.Fatalf("Open(openssl ciphertext): %v", err)
			}
			if string(got) != code {
				t.Fatalf("Open = %q, want %q", got, code)
			}
		}
	})

	t.Run("PKCS #1 from openssl", func(t *testing.T) {
		o.run("pkey", "-in", o.path("key.pem"), "-traditional", "-out", o.path("pkcs1.pem"))
		pemBytes := o.read("pkcs1.pem")
		if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN RSA PRIVATE KEY-----")) {
			t.Fatalf("openssl -traditional wrote %.40q", pemBytes)
		}
		priv, err := ParsePrivateKeyPEM(pemBytes)
		if err != nil {
			t.Fatalf("ParsePrivateKeyPEM(PKCS #1): %v", err)
		}
		if priv.Public().Fingerprint() != pub.Fingerprint() {
			t.Fatal("PKCS #1 key's public half differs")
		}
	})
}

func TestOpenSSLX25519(t *testing.T) {
	o := needOpenSSL(t)
	o.run("genpkey", "-algorithm", "X25519", "-out", o.path("key.pem"))
	pubB64 := o.spkiBase64(o.path("key.pem"))

	pub, err := ParsePublicKey(pubB64)
	if err != nil {
		t.Fatalf("ParsePublicKey(openssl X25519 SPKI): %v", err)
	}
	if pub.Algorithm() != HPKEX25519 {
		t.Fatalf("Algorithm() = %q", pub.Algorithm())
	}
	if pub.String() != pubB64 {
		t.Errorf("String() differs from openssl's DER SPKI")
	}
	der, _ := base64.StdEncoding.DecodeString(pubB64)
	sum := sha256.Sum256(der)
	if want := "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:]); pub.Fingerprint() != want {
		t.Errorf("Fingerprint() = %s, want %s", pub.Fingerprint(), want)
	}

	priv, err := ParsePrivateKeyPEM(o.read("key.pem"))
	if err != nil {
		t.Fatalf("ParsePrivateKeyPEM(openssl X25519): %v", err)
	}
	if priv.Algorithm() != HPKEX25519 || priv.Public().String() != pubB64 {
		t.Fatalf("openssl's X25519 private key parsed to %v, whose public half differs", priv)
	}
	ct, err := pub.Seal("otp_openssl", []byte("246810"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := priv.Open("otp_openssl", ct)
	if err != nil || string(got) != "246810" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := priv.Open("otp_other", ct); !errors.Is(err, ErrDecryption) {
		t.Fatalf("Open with another request id: %v", err)
	}
}

// openssl reads the PKCS #8 that MarshalPEM writes and derives the same
// public key.
func TestOpenSSLReadsMarshalPEM(t *testing.T) {
	o := needOpenSSL(t)
	for _, a := range algorithms[:2] { // RSA and X25519; the hybrid is our own format
		t.Run(a.name, func(t *testing.T) {
			k := keys(t)[a.alg]
			p, err := k.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			file := o.write(a.name+".pem", p)
			if got := o.spkiBase64(file); got != k.Public().String() {
				t.Errorf("openssl derives public key %s, we say %s", got, k.Public().String())
			}
			if a.alg == RSAOAEP256 {
				// openssl decrypts what we seal, with the key we wrote.
				ct, err := k.Public().Seal("", []byte("13579"))
				if err != nil {
					t.Fatal(err)
				}
				o.write("ct.bin", ct)
				got := o.run(append([]string{"pkeyutl", "-decrypt", "-inkey", file, "-in", o.path("ct.bin")}, oaepOpts...)...)
				if string(got) != "13579" {
					t.Errorf("openssl decrypted %q", got)
				}
			}
		})
	}
}

// Keys openssl makes for other algorithms are refused with their name.
func TestOpenSSLOtherKeyTypesRefused(t *testing.T) {
	o := needOpenSSL(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"Ed25519", []string{"-algorithm", "ED25519"}, "unsupported key type Ed25519"},
		{"EC P-256", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, "unsupported key type ECDSA P-256"},
		{"X448", []string{"-algorithm", "X448"}, "unsupported key type X448"},
		{"RSA 1024", []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"}, "RSA key is 1024 bits; 2048–4096 required"},
		{"RSA-PSS", []string{"-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"}, "unsupported key type RSASSA-PSS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := o.path(strings.ReplaceAll(tt.name, " ", "_") + ".pem")
			o.run(append(append([]string{"genpkey"}, tt.args...), "-out", key)...)
			_, err := ParsePublicKey(o.spkiBase64(key))
			if !errors.Is(err, ErrInvalidPublicKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePublicKey = %v; want ErrInvalidPublicKey containing %q", err, tt.wantErr)
			}
			pemBytes, err := os.ReadFile(key)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParsePrivateKeyPEM(pemBytes)
			if !errors.Is(err, ErrInvalidPrivateKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePrivateKeyPEM = %v; want ErrInvalidPrivateKey containing %q", err, tt.wantErr)
			}
		})
	}
}
