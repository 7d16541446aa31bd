package smtp_test

import (
	"fmt"
	netsmtp "net/smtp"
	"testing"

	"github.com/agentotp/agentotp/smtp"
)

// BenchmarkSMTPMessage measures one message through the SMTP receiver in
// the default mode, on one authenticated connection: MAIL, RCPT, DATA,
// decoding, extraction, the de-duplication record of its Message-ID hash,
// and matching (no request waits, so it is dropped).
//
//	go test ./smtp -run '^$' -bench SMTPMessage -benchtime 500x
func BenchmarkSMTPMessage(b *testing.B) {
	e := newRelayTB(b)
	h, _ := smtp.NewRelay(e.svc, smtp.RelayOptions{})
	e.startSMTP(smtp.Config{}, h)
	_, token := e.source("email")
	c, err := netsmtp.Dial(e.smtp)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(netsmtp.PlainAuth("", "u", token, "127.0.0.1")); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := c.Mail("noreply@acme.com"); err != nil {
			b.Fatal(err)
		}
		if err := c.Rcpt("me@example.net"); err != nil {
			b.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			b.Fatal(err)
		}
		w.Write(email("Acme <noreply@acme.com>", "Your code", fmt.Sprintf("Your Acme code is %06d.\nIt expires in 10 minutes.", i%1000000), fmt.Sprintf("bench-%d@acme.com", i)))
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
