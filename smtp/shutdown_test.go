package smtp_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/smtp"
)

// TestShutdown: a shutdown closes a session that is between transactions
// at once, lets a message whose DATA is under way finish (its code is
// delivered) and closes that session after its next reply, refuses new
// connections, and returns without waiting for its deadline.
func TestShutdown(t *testing.T) {
	e := newRelay(t)
	ctx := ctxT(t)
	h, err := smtp.NewRelay(e.svc, smtp.RelayOptions{Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	srv := e.startSMTP(smtp.Config{}, h)
	_, token := e.source("email")
	agent := e.agent()
	req, priv := e.request(ctx, agent, &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"})

	idle := dial(t, e.smtp)
	idle.expect(250, "EHLO idle.example")

	busy := dial(t, e.smtp)
	busy.expect(250, "EHLO busy.example")
	busy.expect(235, "AUTH PLAIN %s", plain("anyone", token))
	busy.expect(250, "MAIL FROM:<noreply@acme.com>")
	busy.expect(250, "RCPT TO:<me@example.net>")
	busy.expect(354, "DATA")
	msg := string(email("Acme <noreply@acme.com>", "Your code", "Your Acme verification code is 583921.", "shut@acme.com"))
	w := busy.c.DotWriter()
	io.WriteString(w, msg[:len(msg)/2])

	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(shutCtx) }()

	// The idle session is closed without waiting for its timeout.
	if _, _, err := idle.c.ReadResponse(0); err == nil {
		t.Fatal("the idle session got a reply instead of being closed")
	}
	// The message under way completes and its code arrives.
	io.WriteString(w, msg[len(msg)/2:])
	w.Close()
	if code, text := busy.read(); code != 250 {
		t.Fatalf("DATA during shutdown: %d %s", code, text)
	}
	if _, code := receive(t, ctx, agent, req.ID, priv); code != "583921" {
		t.Fatalf("code %q; want 583921", code)
	}
	// That session closes after its next reply.
	busy.expect(250, "NOOP")
	if _, _, err := busy.c.ReadResponse(0); err == nil {
		t.Fatal("the session stayed open after its transaction at shutdown")
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if c, err := net.DialTimeout("tcp", e.smtp, 2*time.Second); err == nil {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		if strings.HasPrefix(string(b), "220") {
			t.Fatalf("a new connection after Shutdown was greeted: %q", b)
		}
	}
}
