package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
)

// testCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files, and returns their paths and a pool that trusts it.
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agentotp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// TestServeTLS: with --tls-cert/--tls-key the relay speaks HTTPS (HTTP/2
// and HTTP/1.1) to a client that trusts the certificate, its public URL is
// https://, plain HTTP is refused, and the dashboard's session cookie is
// Secure with the __Host- prefix.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := testCert(t)
	r := startMain(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(r.url, "https://127.0.0.1:") {
		t.Fatalf("public URL %s; want https://", r.url)
	}
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	for major, tr := range map[int]*http.Transport{
		2: {TLSClientConfig: tlsCfg.Clone(), ForceAttemptHTTP2: true},
		1: {TLSClientConfig: tlsCfg.Clone(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}, // no h2
	} {
		resp, err := (&http.Client{Transport: tr}).Get(r.url + "/healthz")
		if err != nil {
			t.Fatalf("HTTP/%d over TLS: %v", major, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.ProtoMajor != major {
			t.Fatalf("HTTP/%d over TLS: %d, HTTP/%d, TLS %v", major, resp.StatusCode, resp.ProtoMajor, resp.TLS != nil)
		}
	}
	// Plain HTTP on the same port is refused.
	resp, err := http.Get("http://" + strings.TrimPrefix(r.url, "https://") + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the HTTPS port: %d", resp.StatusCode)
		}
	}
	// An untrusting client fails the handshake.
	if _, err := http.Get(r.url + "/healthz"); err == nil {
		t.Fatal("a client that does not trust the certificate got through")
	}

	// The dashboard log-in over HTTPS sets a Secure __Host- session cookie.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tok, err := os.ReadFile(filepath.Join(r.data, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	owner := client.NewOwnerClient(strings.TrimSpace(string(tok)), client.WithBaseURL(r.url), client.WithHTTPClient(hc), client.WithMaxRetries(0))
	if err := owner.SetPassword(ctxTest(t), "a dashboard password"); err != nil {
		t.Fatal(err)
	}
	page, err := hc.Get(r.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the log-in page: %s", body)
	}
	form := url.Values{"csrf": {string(m[1])}, "password": {"a dashboard password"}}
	req, _ := http.NewRequest(http.MethodPost, r.url+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range page.Cookies() {
		req.AddCookie(c)
	}
	login, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	login.Body.Close()
	var session *http.Cookie
	for _, c := range login.Cookies() {
		if strings.HasSuffix(c.Name, "agentotp_session") {
			session = c
		}
	}
	if login.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("log-in over HTTPS: %d, cookies %v", login.StatusCode, login.Header["Set-Cookie"])
	}
	if !session.Secure || session.Name != "__Host-agentotp_session" || !session.HttpOnly {
		t.Fatalf("session cookie over HTTPS: %+v; want Secure, HttpOnly, __Host-", session)
	}
}

// TestServeTLSFlags: one of the pair alone, a file that is not a
// certificate, or a negative connection bound, is a usage error before
// anything opens.
func TestServeTLSFlags(t *testing.T) {
	certFile, _, _ := testCert(t)
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	for _, args := range [][]string{
		{"--tls-cert", certFile},
		{"--tls-key", certFile},
		{"--tls-cert", certFile, "--tls-key", bad},
		{"--max-conns", "-1"},
		{"--max-conns-per-ip", "-3"},
	} {
		o := testServeOptions(t, args...)
		m := newRelayMain(io.Discard, slog.New(slog.DiscardHandler), o)
		err := m.Run(context.Background())
		m.Close()
		var ee *exitErr
		if !errors.As(err, &ee) || ee.code != exitUsage {
			t.Errorf("%v: %v; want a usage error", args, err)
		}
		if _, err := os.Stat(o.dataDir); err == nil {
			t.Errorf("%v: the data directory was created", args)
		}
	}
}

// TestServeTLSShutdown: over HTTP/2, a long-poll open when the relay
// stops is answered with the request object too.
func TestServeTLSShutdown(t *testing.T) {
	certFile, keyFile, pool := testCert(t)
	r := startMain(t, "--tls-cert", certFile, "--tls-key", keyFile)
	r.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	key, id := r.agentWithRequest(t)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: r.tls.Clone(), ForceAttemptHTTP2: true}}
	type answer struct {
		proto, status, id string
		err               error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, r.url+"/v1/otp/"+id+"?wait=55", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := hc.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var obj struct{ ID, Status string }
		err = json.NewDecoder(resp.Body).Decode(&obj)
		got <- answer{resp.Proto, resp.Status, obj.ID, err}
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := hc.Get(r.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "\nagentotp_waiters 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the long-poll never started waiting")
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil || a.proto != "HTTP/2.0" || a.status != "200 OK" || a.id != id {
		t.Fatalf("long-poll over HTTP/2 at shutdown: %+v", a)
	}
}
