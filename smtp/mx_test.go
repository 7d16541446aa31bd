package smtp_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	netsmtp "net/smtp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/smtp"
)

// dkimKeys is a stand-in for DNS: the DKIM key records of the test
// domains, served through RelayOptions.LookupTXT (the tests reach no real
// DNS).
type dkimKeys struct {
	records map[string]string
	keys    map[string]ed25519.PrivateKey
}

func newDKIMKeys(t *testing.T, domains ...string) *dkimKeys {
	k := &dkimKeys{records: map[string]string{}, keys: map[string]ed25519.PrivateKey{}}
	for _, d := range domains {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.records["s1._domainkey."+d] = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
		k.keys[d] = priv
	}
	return k
}

func (k *dkimKeys) lookup(_ context.Context, name string) ([]string, error) {
	if r, ok := k.records[strings.TrimSuffix(name, ".")]; ok {
		return []string{r}, nil
	}
	return nil, errors.New("no such record")
}

// sign DKIM-signs msg as domain.
func (k *dkimKeys) sign(t *testing.T, domain string, msg []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: "s1", Signer: k.keys[domain],
		HeaderKeys: []string{"From", "Subject", "Date", "To"}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestMXMode: no AUTH; recipients by domain; sender patterns match only a
// From domain that a verified DKIM signature vouches for, and the DKIM
// result is in the metadata.
func TestMXMode(t *testing.T) {
	keys := newDKIMKeys(t, "acme.com", "evil.example")
	type sent struct {
		name        string
		msg         func(t *testing.T) []byte
		dkimResult  string
		matchSender bool // feeds the request with sender pattern *@acme.com
	}
	plainMsg := func(from string) []byte {
		return email(from, "Your Acme code", "Your Acme verification code is 424242.", "")
	}
	tests := []sent{
		{"signed by the From domain", func(t *testing.T) []byte { return keys.sign(t, "acme.com", plainMsg("Acme <noreply@acme.com>")) }, "pass", true},
		{"signed by a parent of the From domain", func(t *testing.T) []byte { return keys.sign(t, "acme.com", plainMsg("noreply@mail.acme.com")) }, "pass", true},
		{"unsigned", func(t *testing.T) []byte { return plainMsg("Acme <noreply@acme.com>") }, "none", false},
		{"signed by another domain", func(t *testing.T) []byte { return keys.sign(t, "evil.example", plainMsg("Acme <noreply@acme.com>")) }, "pass", false},
		{"body changed after signing", func(t *testing.T) []byte {
			return bytes.Replace(keys.sign(t, "acme.com", plainMsg("noreply@acme.com")), []byte("424242"), []byte("424243"), 1)
		}, "fail", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRelay(t)
			ctx := ctxT(t)
			srcID, _ := e.source("email")
			h, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Open: true, Domains: map[string]string{"otp.example.net": srcID}, LookupTXT: keys.lookup, Logger: e.log})
			if err != nil {
				t.Fatal(err)
			}
			e.startSMTP(smtp.Config{}, h)
			agent := e.agent()
			strict, strictKey := e.request(ctx, agent, &client.Filter{SenderPattern: "*@*acme.com"})
			loose, looseKey := e.request(ctx, agent, &client.Filter{Sources: []string{"email"}})
			if err := netsmtp.SendMail(e.smtp, nil, "bounce@acme.com", []string{"me@otp.example.net"}, tt.msg(t)); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			id, priv, other := loose.ID, looseKey, strict.ID
			if tt.matchSender {
				id, priv, other = strict.ID, strictKey, loose.ID
			}
			r, code := receive(t, ctx, agent, id, priv)
			if want := map[bool]string{true: "424243", false: "424242"}[tt.dkimResult == "fail"]; code != want {
				t.Fatalf("code %q", code)
			}
			if st := status(t, ctx, agent, other); st != client.StatusApproved {
				t.Fatalf("the other request is %s; want approved", st)
			}
			if r.Metadata == nil {
				t.Fatal("no metadata")
			}
			got := dkimOf(t, e, id)
			if !strings.Contains(got, `"result":"`+tt.dkimResult+`"`) || strings.Contains(got, `"aligned":true`) != tt.matchSender {
				t.Fatalf("metadata dkim = %s; want result %s, aligned %v", got, tt.dkimResult, tt.matchSender)
			}
		})
	}
}

// dkimOf returns the JSON of the request's metadata.dkim as the owner API
// shows it.
func dkimOf(t *testing.T, e *relayEnv, id string) string {
	t.Helper()
	r, err := e.svc.OwnerRequest(context.Background(), e.ownerID, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Metadata == nil || r.Metadata.DKIM == nil {
		return "null"
	}
	d := r.Metadata.DKIM
	return `{"result":"` + d.Result + `","domains":"` + strings.Join(d.Domains, ",") + `","aligned":` + map[bool]string{true: "true", false: "false"}[d.Aligned] + `}`
}

// TestMXModeDKIMOptional: with the DKIM requirement switched off for the
// source, an unsigned message's sender matches a sender pattern.
func TestMXModeDKIMOptional(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	srcID, _ := e.source("email")
	h, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Open: true, Domains: map[string]string{"otp.example.net": srcID},
		DKIMOptional: map[string]bool{srcID: true}, LookupTXT: newDKIMKeys(t).lookup, Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	e.startSMTP(smtp.Config{}, h)
	agent := e.agent()
	req, priv := e.request(ctx, agent, &client.Filter{SenderPattern: "*@acme.com"})
	if err := netsmtp.SendMail(e.smtp, nil, "x@acme.com", []string{"me@otp.example.net"},
		email("noreply@acme.com", "code", "Your Acme code is 515151", "")); err != nil {
		t.Fatal(err)
	}
	if _, code := receive(t, ctx, agent, req.ID, priv); code != "515151" {
		t.Fatalf("code %q", code)
	}
	if got := dkimOf(t, e, req.ID); !strings.Contains(got, `"result":"none"`) {
		t.Fatalf("dkim %s", got)
	}
}

// TestMXModeRefusals: an unknown recipient domain is 550, AUTH is neither
// offered nor accepted, and a revoked source's domain is refused.
func TestMXModeRefusals(t *testing.T) {
	e := newRelay(t)
	srcID, _ := e.source("email")
	smsID, _ := e.source("sms")
	if _, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Open: true, Domains: map[string]string{"x.example": smsID}}); err == nil {
		t.Fatal("an SMS source was accepted for an MX domain")
	}
	if _, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Open: true}); err == nil {
		t.Fatal("MX mode without a domain was accepted")
	}
	h, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Open: true, Domains: map[string]string{"OTP.Example.NET": srcID}, LookupTXT: newDKIMKeys(t).lookup})
	if err != nil {
		t.Fatal(err)
	}
	e.startSMTP(smtp.Config{}, h)
	c := dial(t, e.smtp)
	if msg := c.expect(250, "EHLO test"); strings.Contains(msg, "AUTH") {
		t.Fatalf("MX mode offers AUTH: %s", msg)
	}
	if code, _ := c.cmd("AUTH PLAIN %s", plain("u", "p")); code/100 != 5 {
		t.Fatalf("AUTH in MX mode: %d", code)
	}
	c.expect(250, "MAIL FROM:<a@acme.com>")
	c.expect(550, "RCPT TO:<me@elsewhere.example>")
	c.expect(250, "RCPT TO:<me@otp.example.net>")
	if _, err := e.svc.RevokeSource(context.Background(), e.ownerID, srcID); err != nil {
		t.Fatal(err)
	}
	c.expect(550, "RCPT TO:<other@otp.example.net>")
}
