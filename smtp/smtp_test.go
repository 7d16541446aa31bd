package smtp_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	netsmtp "net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/smtp"
)

// email returns a raw RFC 5322 message with CRLF line ends.
func email(from, subject, body, msgID string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: owner@example.net\r\nSubject: %s\r\nDate: %s\r\n", from, subject, time.Now().UTC().Format(time.RFC1123Z))
	if msgID != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", msgID)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	b.WriteString("\r\n")
	return []byte(b.String())
}

// TestAuthModeNetSMTP: mail in through Go's net/smtp with AUTH PLAIN and an
// email source token → the waiting request gets otp_received → consume →
// decrypt → the right code.
func TestAuthModeNetSMTP(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	h, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	e.startSMTP(smtp.Config{}, h)
	_, token := e.source("email")
	agent := e.agent()
	req, priv := e.request(ctx, agent, &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"})

	auth := netsmtp.PlainAuth("", "anyone", token, "127.0.0.1")
	msg := email("Acme <noreply@acme.com>", "Your Acme sign-in code", "Hello,\n\nYour Acme verification code is 583921.\nIt expires in 10 minutes.", "m1@acme.com")
	if err := netsmtp.SendMail(e.smtp, auth, "noreply@acme.com", []string{"me@example.net"}, msg); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	r, code := receive(t, ctx, agent, req.ID, priv)
	if code != "583921" {
		t.Fatalf("code %q; want 583921", code)
	}
	if r.Metadata == nil || r.Metadata.Source != "email" || !strings.Contains(r.Metadata.Sender, "noreply@acme.com") {
		t.Fatalf("metadata %+v", r.Metadata)
	}
}

// TestAuthModePythonSmtplib: the same with Python's smtplib, over AUTH
// PLAIN and AUTH LOGIN, and after STARTTLS with a configured certificate.
func TestAuthModePythonSmtplib(t *testing.T) {
	py := python(t)
	certPEM, tlsCfg := selfSigned(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, mech string
		tls        bool
	}{
		{"PLAIN", "PLAIN", false},
		{"LOGIN", "LOGIN", false},
		{"STARTTLS+PLAIN", "PLAIN", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRelay(t)
			ctx := ctxT(t)
			h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
			cfg := smtp.Config{}
			if tt.tls {
				cfg.TLSConfig = tlsCfg
			}
			e.startSMTP(cfg, h)
			_, token := e.source("email")
			agent := e.agent()
			req, priv := e.request(ctx, agent, &client.Filter{SenderPattern: "*@acme.com"})
			want := fmt.Sprintf("7%05d", 31337+i)
			out, err := runPython(py, e.smtp, "user@example.net", token, tt.mech,
				email("Acme <noreply@acme.com>", "Verify your email", "Your Acme code: "+want, ""), caFileIf(tt.tls, caFile))
			if err != nil || !strings.Contains(out, "SENT") {
				t.Fatalf("smtplib: %v: %s", err, out)
			}
			if _, code := receive(t, ctx, agent, req.ID, priv); code != want {
				t.Fatalf("code %q; want %s", code, want)
			}
		})
	}
	// Refusals as smtplib sees them: a wrong token, and a 30 MB message
	// (smtplib announces SIZE, so MAIL FROM is refused).
	t.Run("refusals", func(t *testing.T) {
		e := newRelay(t)
		ctx := ctxT(t)
		h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
		e.startSMTP(smtp.Config{}, h)
		_, token := e.source("email")
		agent := e.agent()
		req, _ := e.request(ctx, agent, nil)
		out, _ := runPython(py, e.smtp, "u", "sk_wrong", "PLAIN", email("noreply@acme.com", "c", "code 123123", ""), "")
		if !strings.HasPrefix(out, "REFUSED 535") {
			t.Fatalf("wrong token: %s", out)
		}
		huge := append(email("noreply@acme.com", "c", "code 123123", ""), bytes.Repeat([]byte("padding line of a thirty megabyte message........\r\n"), (30<<20)/52)...)
		out, _ = runPython(py, e.smtp, "u", token, "LOGIN", huge, "")
		if !strings.HasPrefix(out, "REFUSED 552") {
			t.Fatalf("30 MB: %s", out)
		}
		if st := status(t, ctx, agent, req.ID); st != client.StatusApproved {
			t.Fatalf("request %s after refusals", st)
		}
	})
}

func caFileIf(ok bool, f string) string {
	if ok {
		return f
	}
	return ""
}

// python returns the python3 binary, skipping (or failing in CI) when it
// is missing.
func python(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is required in CI (Python's smtplib is the foreign SMTP client)")
		}
		t.Skip("python3 not installed; skipping the smtplib client test")
	}
	return py
}

// runPython sends msg with testdata/send.py.
func runPython(py, addr, user, password, mech string, msg []byte, caFile string) (string, error) {
	host, port, _ := net.SplitHostPort(addr)
	f, err := os.CreateTemp("", "mail-*.eml")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	f.Write(msg)
	f.Close()
	args := []string{"testdata/send.py", host, port, user, password, mech, "noreply@acme.com", "me@example.net", f.Name()}
	if caFile != "" {
		args = append(args, "--starttls", caFile)
	}
	out, err := exec.Command(py, args...).CombinedOutput()
	return string(out), err
}

// selfSigned returns a certificate for 127.0.0.1 and a server TLS config.
func selfSigned(t *testing.T) ([]byte, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// conv is a raw SMTP conversation, to see each reply code.
type conv struct {
	t *testing.T
	c *textproto.Conn
}

func dial(t *testing.T, addr string) *conv {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	c := &conv{t: t, c: textproto.NewConn(nc)}
	t.Cleanup(func() { c.c.Close() })
	if code, msg := c.read(); code != 220 {
		t.Fatalf("greeting %d %s", code, msg)
	}
	return c
}

func (c *conv) read() (int, string) {
	c.t.Helper()
	code, msg, err := c.c.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatalf("read reply: %v", err)
	}
	return code, msg
}

// cmd sends one command line and returns the reply.
func (c *conv) cmd(format string, args ...any) (int, string) {
	c.t.Helper()
	if err := c.c.PrintfLine(format, args...); err != nil {
		c.t.Fatalf("send: %v", err)
	}
	return c.read()
}

// expect sends a command and checks the reply code.
func (c *conv) expect(want int, format string, args ...any) string {
	c.t.Helper()
	code, msg := c.cmd(format, args...)
	if code != want {
		c.t.Fatalf("%q: reply %d %s; want %d", fmt.Sprintf(format, args...), code, msg, want)
	}
	return msg
}

func plain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// send runs DATA with body and returns the final reply.
func (c *conv) data(body []byte) (int, string) {
	c.t.Helper()
	c.expect(354, "DATA")
	w := c.c.DotWriter()
	w.Write(body)
	w.Close()
	return c.read()
}

// TestRefusals: each bad input gets its own SMTP reply and changes
// nothing: the waiting request stays approved.
func TestRefusals(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	e.startSMTP(smtp.Config{MaxMessageBytes: 1 << 20, MaxRecipients: 2}, h)
	_, token := e.source("email")
	_, smsToken := e.source("sms")
	agent := e.agent()
	req, _ := e.request(ctx, agent, &client.Filter{SenderPattern: "*@acme.com"})
	good := email("noreply@acme.com", "code", "Your Acme code is 111222", "")

	t.Run("MAIL before AUTH is 530", func(t *testing.T) {
		c := dial(t, e.smtp)
		c.expect(250, "EHLO test")
		c.expect(530, "MAIL FROM:<a@acme.com>")
	})
	t.Run("wrong token is 535", func(t *testing.T) {
		c := dial(t, e.smtp)
		c.expect(250, "EHLO test")
		c.expect(535, "AUTH PLAIN %s", plain("u", "sk_notatoken"))
		c.expect(535, "AUTH PLAIN %s", plain("u", smsToken)) // an SMS source cannot send mail
		c.expect(535, "AUTH PLAIN %s", plain("u", "ak_live_x"))
		code, _ := c.cmd("AUTH PLAIN %s", plain("u", token))
		if code != 421 {
			t.Fatalf("after 3 failures: %d; want 421", code)
		}
	})
	t.Run("LOGIN with a wrong token is 535", func(t *testing.T) {
		c := dial(t, e.smtp)
		c.expect(250, "EHLO test")
		c.expect(334, "AUTH LOGIN")
		c.expect(334, "%s", base64.StdEncoding.EncodeToString([]byte("user")))
		c.expect(535, "%s", base64.StdEncoding.EncodeToString([]byte("sk_wrong")))
	})
	t.Run("too large is 552", func(t *testing.T) {
		c := dial(t, e.smtp)
		c.expect(250, "EHLO test")
		c.expect(235, "AUTH PLAIN %s", plain("u", token))
		c.expect(552, "MAIL FROM:<a@acme.com> SIZE=%d", 30<<20)
		c.expect(250, "MAIL FROM:<a@acme.com>")
		c.expect(250, "RCPT TO:<b@example.net>")
		// 30 MB of mail, over the 1 MiB limit, sent without SIZE.
		big := bytes.Repeat([]byte("Your Acme code is 999888, says this very long line of padding.....\r\n"), (30<<20)/68)
		if code, msg := c.data(append(email("noreply@acme.com", "big", "x", ""), big...)); code != 552 {
			t.Fatalf("30 MB DATA: %d %s; want 552", code, msg)
		}
	})
	t.Run("too many recipients is 452", func(t *testing.T) {
		c := dial(t, e.smtp)
		c.expect(250, "EHLO test")
		c.expect(235, "AUTH PLAIN %s", plain("u", token))
		c.expect(250, "MAIL FROM:<a@acme.com>")
		c.expect(250, "RCPT TO:<b1@example.net>")
		c.expect(250, "RCPT TO:<b2@example.net>")
		c.expect(452, "RCPT TO:<b3@example.net>")
	})
	t.Run("malformed MIME is 554", func(t *testing.T) {
		for _, body := range [][]byte{
			[]byte("this is not an email at all, code 123456\r\n"),
			[]byte("Subject: no sender\r\n\r\nYour Acme code is 123456\r\n"),
		} {
			c := dial(t, e.smtp)
			c.expect(250, "EHLO test")
			c.expect(235, "AUTH PLAIN %s", plain("u", token))
			c.expect(250, "MAIL FROM:<a@acme.com>")
			c.expect(250, "RCPT TO:<b@example.net>")
			if code, msg := c.data(body); code != 554 {
				t.Fatalf("DATA %q: %d %s; want 554", body[:20], code, msg)
			}
		}
	})
	if st := status(t, ctx, agent, req.ID); st != client.StatusApproved {
		t.Fatalf("after refused input the request is %s; want approved", st)
	}
	// The same session still works for a good message afterwards.
	c := dial(t, e.smtp)
	c.expect(250, "EHLO test")
	c.expect(235, "AUTH PLAIN %s", plain("u", token))
	c.expect(250, "MAIL FROM:<a@acme.com>")
	c.expect(250, "RCPT TO:<b@example.net>")
	if code, msg := c.data(good); code != 250 {
		t.Fatalf("good DATA: %d %s", code, msg)
	}
	if st := status(t, ctx, agent, req.ID); st != client.StatusOTPReceived {
		t.Fatalf("after the good message the request is %s", st)
	}
}

// TestUnmatchedNothingStored: a message that matches no request is
// accepted (250) and dropped: neither its text nor its sender nor its
// subject reaches the database files or the log.
func TestUnmatchedNothingStored(t *testing.T) {
	e := newRelay(t)
	h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	e.startSMTP(smtp.Config{}, h)
	_, token := e.source("email")
	ctx := ctxT(t)
	agent := e.agent()
	req, _ := e.request(ctx, agent, &client.Filter{SenderPattern: "*@acme.com"})
	msg := email("Zebra Corp <secret-sender@zebra-unmatched.example>", "Zebra subject marker QWERTY",
		"Your Zebra code is 246813. Body marker ZXCVBN.", "unique-id-POIUYT@zebra")
	auth := netsmtp.PlainAuth("", "u", token, "127.0.0.1")
	if err := netsmtp.SendMail(e.smtp, auth, "secret-sender@zebra-unmatched.example", []string{"me@example.net"}, msg); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if st := status(t, ctx, agent, req.ID); st != client.StatusApproved {
		t.Fatalf("an unmatched message changed the request to %s", st)
	}
	files, logs := e.dataFiles(), e.logs.Bytes()
	for _, marker := range []string{"246813", "ZXCVBN", "QWERTY", "secret-sender", "zebra-unmatched", "POIUYT"} {
		if bytes.Contains(files, []byte(marker)) {
			t.Errorf("the data directory holds %q of an unmatched message", marker)
		}
		if bytes.Contains(logs, []byte(marker)) {
			t.Errorf("the log holds %q of an unmatched message", marker)
		}
	}
}

// TestTimeoutsAndConnLimit: an idle client is told 421 and cut off; a
// connection over the limit gets 421 at once.
func TestTimeoutsAndConnLimit(t *testing.T) {
	e := newRelay(t)
	h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	e.startSMTP(smtp.Config{ReadTimeout: 300 * time.Millisecond, MaxConns: 1}, h)
	first := dial(t, e.smtp) // holds the only slot

	nc, err := net.DialTimeout("tcp", e.smtp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(nc).ReadString('\n')
	if !strings.HasPrefix(line, "421 ") {
		t.Fatalf("connection over the limit: %q; want 421", line)
	}
	// The first connection idles past ReadTimeout.
	if code, msg := first.read(); code != 421 {
		t.Fatalf("idle: %d %s; want 421", code, msg)
	}
}

// TestSTARTTLS: with a certificate, STARTTLS is offered and AUTH works
// after it (net/smtp verifying the certificate).
func TestSTARTTLS(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	certPEM, tlsCfg := selfSigned(t)
	h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	e.startSMTP(smtp.Config{TLSConfig: tlsCfg}, h)
	_, token := e.source("generic")
	agent := e.agent()
	req, priv := e.request(ctx, agent, nil)

	c, err := netsmtp.Dial(e.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := c.Auth(netsmtp.PlainAuth("", "u", token, "127.0.0.1")); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if err := c.Mail("noreply@acme.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("me@example.net"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(email("noreply@acme.com", "Your code", "Your Acme code is 864209", ""))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if _, code := receive(t, ctx, agent, req.ID, priv); code != "864209" {
		t.Fatalf("code %q", code)
	}
}

// TestDuplicateMessageID: a sender's retry of the same message (same
// Message-ID) feeds at most one request.
func TestDuplicateMessageID(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	e.startSMTP(smtp.Config{}, h)
	_, token := e.source("email")
	agent := e.agent()
	first, _ := e.request(ctx, agent, nil)
	second, _ := e.request(ctx, agent, nil)
	msg := email("noreply@acme.com", "code", "Your Acme code is 135790", "retry@acme.com")
	auth := netsmtp.PlainAuth("", "u", token, "127.0.0.1")
	for range 2 {
		if err := netsmtp.SendMail(e.smtp, auth, "noreply@acme.com", []string{"me@example.net"}, msg); err != nil {
			t.Fatal(err)
		}
	}
	if st := status(t, ctx, agent, first.ID); st != client.StatusOTPReceived {
		t.Fatalf("first request %s", st)
	}
	if st := status(t, ctx, agent, second.ID); st != client.StatusApproved {
		t.Fatalf("the retried message fed a second request (%s)", st)
	}
}

// TestRevokedMidSession: a token revoked after AUTH sends nothing more.
func TestRevokedMidSession(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	e.startSMTP(smtp.Config{}, h)
	srcID, token := e.source("email")
	agent := e.agent()
	req, _ := e.request(ctx, agent, nil)
	c := dial(t, e.smtp)
	c.expect(250, "EHLO test")
	c.expect(235, "AUTH PLAIN %s", plain("u", token))
	if _, err := e.svc.RevokeSource(ctx, e.ownerID, srcID); err != nil {
		t.Fatal(err)
	}
	c.expect(250, "MAIL FROM:<a@acme.com>")
	c.expect(250, "RCPT TO:<b@example.net>")
	if code, msg := c.data(email("noreply@acme.com", "code", "Your Acme code is 121212", "")); code != 535 {
		t.Fatalf("DATA after revocation: %d %s; want 535", code, msg)
	}
	if st := status(t, ctx, agent, req.ID); st != client.StatusApproved {
		t.Fatalf("request %s", st)
	}
}

// TestLongBodyLine: a message whose body has a 10,000-byte line (HTML
// mail often has one) is accepted and its code delivered. go-smtp's
// default line limit of 2,000 bytes answered such mail with a temporary
// 451, so the sender retried it for days.
func TestLongBodyLine(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	h, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	e.startSMTP(smtp.Config{}, h)
	_, token := e.source("email")
	agent := e.agent()
	req, priv := e.request(ctx, agent, &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"})

	long := strings.Repeat("x", 10_000)
	msg := email("Acme <noreply@acme.com>", "Your Acme sign-in code", "Your Acme verification code is 583921.\n"+long, "long@acme.com")
	auth := netsmtp.PlainAuth("", "anyone", token, "127.0.0.1")
	if err := netsmtp.SendMail(e.smtp, auth, "noreply@acme.com", []string{"me@example.net"}, msg); err != nil {
		t.Fatalf("SendMail with a 10,000-byte line: %v", err)
	}
	if _, code := receive(t, ctx, agent, req.ID, priv); code != "583921" {
		t.Fatalf("code %q; want 583921", code)
	}
}

// TestLineOverTheSizeLimit: a line longer than the whole message limit
// is refused permanently (552), never with a temporary 4xx.
func TestLineOverTheSizeLimit(t *testing.T) {
	e := newRelay(t)
	h, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	e.startSMTP(smtp.Config{MaxMessageBytes: 4096}, h)
	_, token := e.source("email")
	c := dial(t, e.smtp)
	c.expect(250, "EHLO client.example")
	c.expect(235, "AUTH PLAIN %s", plain("anyone", token))
	c.expect(250, "MAIL FROM:<noreply@acme.com>")
	c.expect(250, "RCPT TO:<me@example.net>")
	code, text := c.data(email("noreply@acme.com", "Code", "Your code is 583921.\n"+strings.Repeat("y", 10_000), "big@acme.com"))
	if code/100 != 5 {
		t.Fatalf("a line over the size limit: %d %s; want a permanent 5xx", code, text)
	}
}
