// Package imaptest runs a real Dovecot IMAP server for tests: on a
// loopback port, with a throwaway configuration (a passwd-file user,
// maildir in a temp dir, no TLS), started in the foreground by the test
// and stopped, or killed, by it. Tests that use it skip where dovecot is
// not installed, and fail instead under CI=true.
package imaptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Dovecot is a real Dovecot IMAP server, run by the test on a loopback
// port with a throwaway configuration: a passwd-file user, maildir in a
// temp dir, no TLS.
type Dovecot struct {
	t    testing.TB
	bin  string
	dir  string
	conf string
	Port int
	// TLSPort is the implicit-TLS port, with Options.TLS.
	TLSPort int
	// RootCAs trusts the server's certificate, with Options.TLS.
	RootCAs  *x509.CertPool
	User     string
	Password string
	cmd      *exec.Cmd
	out      *bytes.Buffer
}

// Options change the throwaway configuration.
type Options struct {
	// NoIdle removes IDLE from the capabilities the server announces
	// after login, so that a client must poll.
	NoIdle bool
	// TLS turns TLS on: STARTTLS on Port, implicit TLS on TLSPort, with a
	// certificate for 127.0.0.1 that only Dovecot.RootCAs trusts.
	TLS bool
}

// Find returns the dovecot binary, or skips the test (fails it
// under CI=true, where .ci/run installs dovecot-imapd).
func Find(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"dovecot", "/usr/sbin/dovecot"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("dovecot is not installed, and CI=true: .ci/run must install the Debian package dovecot-imapd")
	}
	t.Skip("dovecot is not installed (Debian: apt-get install dovecot-imapd); skipping the tests against a real IMAP server")
	return ""
}

var dovecotConf = template.Must(template.New("conf").Parse(`# throwaway test configuration
protocols = imap
listen = 127.0.0.1
base_dir = {{.Dir}}/run
state_dir = {{.Dir}}/state
instance_name = agentotp-test-{{.Port}}
{{if .TLS}}ssl = yes
ssl_cert = <{{.Dir}}/cert.pem
ssl_key = <{{.Dir}}/key.pem
ssl_min_protocol = TLSv1.2
{{else}}ssl = no
{{end}}disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {{.Dir}}/dovecot.log
mail_location = maildir:{{.Dir}}/mail/%u
first_valid_uid = {{.UID}}
last_valid_uid = 0
{{if .NoIdle}}imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE UIDPLUS
{{end}}{{if not .Root}}default_internal_user = {{.UserName}}
default_internal_group = {{.GroupName}}
default_login_user = {{.UserName}}
{{end}}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {{.Dir}}/passwd
}
userdb {
  driver = static
  args = uid={{.UID}} gid={{.GID}} home={{.Dir}}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = {{.Port}}
  }
  inet_listener imaps {
{{if .TLS}}    address = 127.0.0.1
    port = {{.TLSPort}}
{{else}}    port = 0
{{end}}  }
{{if not .Root}}  chroot =
{{end}}}
{{if not .Root}}service anvil {
  chroot =
}
{{end}}`))

// Start writes a configuration and starts Dovecot in the
// foreground. As root (CI), the mail processes run as the dovecot user,
// which Dovecot requires; otherwise everything runs as the current user.
func Start(t testing.TB, opts Options) *Dovecot {
	t.Helper()
	bin := Find(t)
	dir := t.TempDir()
	d := &Dovecot{t: t, bin: bin, dir: dir, conf: filepath.Join(dir, "dovecot.conf"), User: "alice", Password: "app-pass-" + strconv.Itoa(os.Getpid())}
	root := os.Geteuid() == 0
	uid, gid := os.Getuid(), os.Getgid()
	userName, groupName := "", ""
	if root {
		u, err := user.Lookup("dovecot")
		if err != nil {
			t.Fatalf("running as root, Dovecot's mail processes need an unprivileged user: %v (the dovecot-core package creates the user dovecot)", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		// The mail processes run as that user: let them reach the temp dir.
		for p := dir; p != os.TempDir() && p != "/" && strings.HasPrefix(p, os.TempDir()); p = filepath.Dir(p) {
			if err := os.Chmod(p, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(strconv.Itoa(gid))
		if err != nil {
			t.Fatal(err)
		}
		userName, groupName = u.Username, g.Name
	}
	for _, sub := range []string{"run", "state", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if root {
		if err := os.Chown(filepath.Join(dir, "mail"), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(d.User+":{PLAIN}"+d.Password+"::::::\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Port = freePort(t)
	if opts.TLS {
		d.TLSPort = freePort(t)
		d.RootCAs = writeCert(t, dir)
	}
	var conf bytes.Buffer
	err := dovecotConf.Execute(&conf, map[string]any{
		"Dir": dir, "Port": d.Port, "UID": uid, "GID": gid, "Root": root,
		"UserName": userName, "GroupName": groupName, "NoIdle": opts.NoIdle,
		"TLS": opts.TLS, "TLSPort": d.TLSPort,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.conf, conf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Restart()
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot output:\n%s\ndovecot.log:\n%s", d.out, log)
		}
	})
	return d
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key
// into dir and returns a pool that trusts it.
func writeCert(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agentotp test IMAP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Addr is the server's host:port.
func (d *Dovecot) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port)) }

// Restart runs dovecot -F in its own process group and waits until it
// greets on its port.
func (d *Dovecot) Restart() {
	d.t.Helper()
	if d.out == nil {
		d.out = &bytes.Buffer{}
	}
	cmd := exec.Command(d.bin, "-F", "-c", d.conf)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start dovecot: %v", err)
	}
	d.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr(), time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			c.Close()
			if bytes.HasPrefix(buf[:n], []byte("* OK")) {
				return
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
			d.t.Fatalf("dovecot did not greet on %s within 20 s: %v\noutput: %s\nlog: %s", d.Addr(), err, d.out, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill ends Dovecot and every process it started at once (SIGKILL to
// the process group), as a crash or an OOM kill would: clients see their
// connections die without a BYE.
func (d *Dovecot) Kill() {
	d.t.Helper()
	if d.cmd == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	_ = d.cmd.Wait()
	d.cmd = nil
}

// Log returns Dovecot's log so far.
func (d *Dovecot) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
	return string(b)
}

// Freeze stops every Dovecot process (SIGSTOP) without closing anything:
// to a client the server is a dead peer whose kernel still acknowledges
// packets, so only the client's own deadlines can notice.
func (d *Dovecot) Freeze() {
	d.t.Helper()
	if d.cmd != nil {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGSTOP)
	}
}

// Thaw lets a frozen Dovecot run again (SIGCONT).
func (d *Dovecot) Thaw() {
	d.t.Helper()
	if d.cmd != nil {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGCONT)
	}
}

// Stop shuts Dovecot down gracefully (SIGTERM), then forcefully.
func (d *Dovecot) Stop() {
	if d.cmd == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGCONT)
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	// The master's children leave with it; make sure none lingers.
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	d.cmd = nil
}

// Client logs in to the server as the test user.
func (d *Dovecot) Client(ctx context.Context) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(d.Addr(), nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(d.User, d.Password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Deliver puts a message into the mailbox with IMAP APPEND, as a mail
// delivery agent would, and returns its UID.
func (d *Dovecot) Deliver(mailbox string, raw []byte) uint32 {
	d.t.Helper()
	return d.DeliverMany(mailbox, [][]byte{raw})[0]
}

// DeliverMany appends the messages over one connection and returns their
// UIDs.
func (d *Dovecot) DeliverMany(mailbox string, raws [][]byte) []uint32 {
	d.t.Helper()
	c, err := d.Client(context.Background())
	if err != nil {
		d.t.Fatalf("deliver: %v", err)
	}
	defer c.Close()
	if mailbox != "INBOX" {
		_ = c.Create(mailbox, nil).Wait()
	}
	uids := make([]uint32, 0, len(raws))
	for _, raw := range raws {
		cmd := c.Append(mailbox, int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			d.t.Fatalf("deliver: %v", err)
		}
		if err := cmd.Close(); err != nil {
			d.t.Fatalf("deliver: %v", err)
		}
		data, err := cmd.Wait()
		if err != nil {
			d.t.Fatalf("deliver: %v", err)
		}
		uids = append(uids, uint32(data.UID))
	}
	_ = c.Logout().Wait()
	return uids
}

// Flags returns the flags of every message in the mailbox, by UID, read
// with EXAMINE so that reading them changes nothing.
func (d *Dovecot) Flags(mailbox string) map[uint32][]goimap.Flag {
	d.t.Helper()
	c, err := d.Client(context.Background())
	if err != nil {
		d.t.Fatalf("flags: %v", err)
	}
	defer c.Close()
	if _, err := c.Select(mailbox, &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		d.t.Fatalf("flags: %v", err)
	}
	bufs, err := c.Fetch(goimap.SeqSet{goimap.SeqRange{Start: 1, Stop: 0}}, &goimap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil && !errors.Is(err, context.Canceled) {
		// An empty mailbox answers "1:*" with an error on some servers.
		if !strings.Contains(err.Error(), "Invalid messageset") {
			d.t.Fatalf("flags: %v", err)
		}
	}
	out := map[uint32][]goimap.Flag{}
	for _, b := range bufs {
		out[uint32(b.UID)] = b.Flags
	}
	_ = c.Logout().Wait()
	return out
}

// Email returns a raw RFC 5322 message with a Message-ID.
func Email(from, subject, body, msgID string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: alice@example.test\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		from, subject, time.Now().Format(time.RFC1123Z), msgID, body))
}
