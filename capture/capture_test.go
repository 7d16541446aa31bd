package capture_test

import (
	"bytes"
	"fmt"
	"net"
	netsmtp "net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/capture"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/smtp"
)

func rawEmail(from, subject, body string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: me@example.net\r\nSubject: %s\r\nMessage-ID: <%d@acme.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		from, subject, time.Now().UnixNano(), strings.ReplaceAll(body, "\n", "\r\n")))
}

// TestEdgeCaptureNeverHoldsPlaintext is the must-hold of edge capture:
// a known code goes from a message through capture (matched, extracted
// and sealed here) to the agent, who decrypts the right code; and the
// relay's data directory, its log and every byte it received on the
// network are searched for that code: it is not there. The code is in the
// subject too, which the edge masks before sending metadata.
func TestEdgeCaptureNeverHoldsPlaintext(t *testing.T) {
	for i, alg := range []client.Algorithm{client.RSAOAEP256, client.HPKEX25519, client.HPKEMLKEM768X25519} {
		t.Run(string(alg), func(t *testing.T) {
			e := newRelay(t)
			ctx := ctxT(t)
			token := e.source("email")
			agent := e.agent()
			code := fmt.Sprintf("73915%d", i)
			req, priv := e.request(ctx, agent, alg, client.RequestOptions{
				Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com", ContentPattern: "(?i)acme"},
			}, true)
			c := capture.New(capture.Config{Server: e.url, Token: token})
			m, err := capture.FromEmail(rawEmail("Acme <noreply@acme.com>", code+" is your Acme code", "Hello,\nyour Acme verification code is "+code+".\nIt expires in 10 minutes."))
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Capture(ctx, m)
			if err != nil || !res.Matched || res.RequestID != req.ID || res.Status != client.StatusOTPReceived {
				t.Fatalf("capture: %+v %v", res, err)
			}
			r, err := agent.WaitForOTP(ctx, req.ID, 10*time.Second)
			if err != nil || r.Status != client.StatusOTPReceived {
				t.Fatalf("wait: %+v %v", r, err)
			}
			if r.Metadata == nil || strings.Contains(r.Metadata.Subject, code) || !strings.Contains(r.Metadata.Subject, "Acme code") {
				t.Fatalf("metadata %+v: want the subject with the code masked", r.Metadata)
			}
			out, err := agent.ConsumeOTP(ctx, req.ID, priv)
			if err != nil || out.Code != code {
				t.Fatalf("consume: %+v %v", out, err)
			}
			for where, b := range e.everything() {
				if len(b) == 0 && where == "received bytes" {
					t.Fatal("the test hook recorded nothing")
				}
				if bytes.Contains(b, []byte(code)) {
					t.Errorf("the relay's %s holds the code %s", where, code)
				}
			}
			// The hook did see the traffic: the delivery and the consume.
			if got := e.received.Bytes(); !bytes.Contains(got, []byte("/v1/capture/deliveries")) || !bytes.Contains(got, []byte("/consume")) {
				t.Fatal("the recorded bytes miss the delivery or the consume")
			}
		})
	}
}

// TestEdgeCapturePendingApproval: a code captured while the request waits
// for approval is held and released by the approval, as in-process.
func TestEdgeCapturePendingApproval(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	token := e.source("sms")
	agent := e.agent()
	req, priv := e.request(ctx, agent, client.HPKEX25519, client.RequestOptions{Filter: &client.Filter{Sources: []string{"sms"}}}, false)
	c := capture.New(capture.Config{Server: e.url, Token: token})
	res, err := c.Capture(ctx, capture.Message{Source: "sms", Sender: "ACME", Text: "ACME: 482910 is your login code"})
	if err != nil || !res.Matched || res.Status != client.StatusPendingApproval {
		t.Fatalf("capture: %+v %v", res, err)
	}
	if st, _ := agent.GetOTPStatus(ctx, req.ID); st.Status != client.StatusPendingApproval {
		t.Fatalf("held request shows %s", st.Status)
	}
	if _, err := e.svc.Decide(ctx, e.ownerID, req.ID, relay.Decision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	out, err := agent.ConsumeOTP(ctx, req.ID, priv)
	if err != nil || out.Code != "482910" {
		t.Fatalf("consume: %+v %v", out, err)
	}
}

// TestEdgeCaptureIncludeMessage: the message text, sealed at the edge too.
func TestEdgeCaptureIncludeMessage(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	token := e.source("generic")
	agent := e.agent()
	req, priv := e.request(ctx, agent, client.HPKEX25519, client.RequestOptions{IncludeMessage: true}, true)
	c := capture.New(capture.Config{Server: e.url, Token: token})
	if res, err := c.Capture(ctx, capture.Message{Source: "sms", Sender: "+15550001", Text: "Your code is 551177. Do not share it."}); err != nil || !res.Matched {
		t.Fatalf("capture: %+v %v", res, err)
	}
	out, err := agent.ConsumeOTP(ctx, req.ID, priv)
	if err != nil || out.Code != "551177" || out.FullMessage != "Your code is 551177. Do not share it." {
		t.Fatalf("consume: %+v %v", out, err)
	}
	if bytes.Contains(e.received.Bytes(), []byte("551177")) {
		t.Fatal("the relay received the code")
	}
}

// TestEdgeCaptureNoMatch: a message that fits no request, or holds no
// code, is not delivered, and the request is untouched.
func TestEdgeCaptureNoMatch(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	token := e.source("email")
	agent := e.agent()
	req, _ := e.request(ctx, agent, client.HPKEX25519, client.RequestOptions{Filter: &client.Filter{SenderPattern: "*@acme.com"}}, true)
	c := capture.New(capture.Config{Server: e.url, Token: token})
	tests := []capture.Message{
		{Source: "email", Sender: "noreply@other.example", Subject: "code", Text: "Your code is 123456"},
		{Source: "email", Sender: "noreply@acme.com", Subject: "Hello", Text: "Nothing to see here."},
		{Source: "sms", Sender: "noreply@acme.com", Text: "Your code is 123456"}, // matches, but an email source may not deliver an SMS
	}
	for i, m := range tests[:2] {
		res, err := c.Capture(ctx, m)
		if err != nil || res.Matched || res.Reason == "" {
			t.Fatalf("message %d: %+v %v", i, res, err)
		}
	}
	if st, _ := agent.GetOTPStatus(ctx, req.ID); st.Status != client.StatusApproved {
		t.Fatalf("request %s", st.Status)
	}
	// An SMS through an email source's token is refused by the relay.
	if _, err := c.Capture(ctx, tests[2]); err == nil {
		t.Fatal("an email source delivered an SMS")
	}
	if bytes.Contains(e.received.Bytes(), []byte("123456")) {
		t.Fatal("the relay received a code")
	}
}

// TestEdgeCaptureSMTP: the local SMTP receiver of `capture --smtp-addr`,
// fed by Go's net/smtp with the source token as the AUTH password.
func TestEdgeCaptureSMTP(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	token := e.source("email")
	agent := e.agent()
	req, priv := e.request(ctx, agent, client.HPKEX25519, client.RequestOptions{Filter: &client.Filter{SenderPattern: "*@acme.com"}}, true)
	c := capture.New(capture.Config{Server: e.url, Token: token})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.New(smtp.Config{}, capture.NewSMTPHandler(c, token))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	msg := rawEmail("Acme <noreply@acme.com>", "Your sign-in code", "Your Acme code is 909183")
	if err := netsmtp.SendMail(addr, netsmtp.PlainAuth("", "me", "sk_wrong", "127.0.0.1"), "a@acme.com", []string{"me@example.net"}, msg); err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("wrong token: %v; want 535", err)
	}
	if err := netsmtp.SendMail(addr, netsmtp.PlainAuth("", "me", token, "127.0.0.1"), "a@acme.com", []string{"me@example.net"}, msg); err != nil {
		t.Fatal(err)
	}
	out, err := agent.ConsumeOTP(ctx, req.ID, priv)
	if err != nil || out.Code != "909183" {
		t.Fatalf("consume: %+v %v", out, err)
	}
	if bytes.Contains(e.received.Bytes(), []byte("909183")) {
		t.Fatal("the relay received the code")
	}
}
