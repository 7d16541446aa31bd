package extract

import (
	"fmt"
	"strings"
	"testing"
)

var benchSMS = Message{Source: "sms", Sender: "HDFCBK", Text: "482913 is your OTP for txn of INR 5,000.00 at AMAZON PAY on HDFC Bank card ending 4421. Valid for 10 mins. Do not share OTP with anyone."}

func BenchmarkExtractSMS(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r, err := Extract(benchSMS)
		if err != nil || r.Code != "482913" {
			b.Fatalf("got %q %v", r.Code, err)
		}
	}
}

// benchEmail50KB builds a realistic ~50 KB HTML e-mail (table layout,
// inline styles, tracking links, footer) around a code, quoted-printable.
func benchEmail50KB() []byte {
	var h strings.Builder
	h.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Verify</title><style>`)
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&h, ".c%d{font-family:Helvetica,Arial,sans-serif;font-size:%dpx;color:#%06x;padding:%dpx}\n", i, 10+i%8, i*4099, i%20)
	}
	h.WriteString(`</style></head><body><div style="display:none;max-height:0;overflow:hidden">Your Example sign-in code inside &zwnj;&nbsp;&zwnj;&nbsp;</div>`)
	h.WriteString(`<table width="100%" cellpadding="0" cellspacing="0" role="presentation">`)
	for i := 0; i < 110; i++ {
		fmt.Fprintf(&h, `<tr><td class="c%d" style="padding:8px 24px;border-bottom:1px solid #eeeeee"><a href="https://click.example.com/ls/click?upn=%d-abcdef%d&amp;u=%d" style="color:#1a73e8;text-decoration:none">Article %d: product news and tips for getting more out of your account</a><br><span style="font-size:12px;color:#777">Posted %d days ago &middot; %d min read</span></td></tr>`, i%60, 58213947+i, i, 99120344+i, i+1, i%9+1, i%7+2)
		if i == 3 {
			h.WriteString(`<tr><td align="center" style="padding:24px"><p style="font-size:16px">Use this code to finish signing in:</p><h1 style="font-size:36px;letter-spacing:8px;margin:0">730192</h1><p style="font-size:12px;color:#777">The code expires in 15 minutes.</p></td></tr>`)
		}
	}
	h.WriteString(`</table><table width="100%"><tr><td style="font-size:11px;color:#999">Example Inc, 548 Market St, Suite 4021, San Francisco, CA 94104 &middot; Call 1-888-555-0142<br>&copy; 2026 Example Inc. All rights reserved. <a href="https://example.com/unsubscribe?u=58213947">Unsubscribe</a></td></tr></table></body></html>`)
	html := h.String()
	var qp strings.Builder
	line := 0
	for i := 0; i < len(html); i++ {
		c := html[i]
		if c == '=' {
			qp.WriteString("=3D")
			line += 3
		} else {
			qp.WriteByte(c)
			line++
		}
		if line >= 74 {
			qp.WriteString("=\r\n")
			line = 0
		}
	}
	msg := "From: Example <no-reply@example.com>\r\nTo: me@example.net\r\nSubject: Your Example sign-in code\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nView this message in a browser: https://example.com/m/58213947\r\n" +
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() + "\r\n--b1--\r\n"
	return []byte(msg)
}

func BenchmarkExtractHTMLEmail50KB(b *testing.B) {
	raw := benchEmail50KB()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := ParseEmail(raw)
		if err != nil {
			b.Fatal(err)
		}
		r, err := Extract(e.Message)
		if err != nil || r.Code != "730192" {
			b.Fatalf("got %q %v", r.Code, err)
		}
	}
}

func TestBenchEmailSize(t *testing.T) {
	raw := benchEmail50KB()
	if len(raw) < 45<<10 || len(raw) > 60<<10 {
		t.Fatalf("benchmark e-mail is %d bytes, want about 50 KB", len(raw))
	}
}

// benchCtxSMS is a bare token from the sender a request names, with an
// origin-bound last line: the path ExtractWith takes for a request that
// expects this sender, length and domain.
var (
	benchCtxSMS = Message{Source: "sms", Sender: "ACME", Text: "Your ACME code: 482193. Don't share it.\n\n@acme.example #482193"}
	benchCtx    = Context{SenderMatched: true, Source: "sms", Length: 6, Alphabet: AlphabetDigits, Domain: "acme.example"}
)

func BenchmarkExtractSMSWithContext(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r, err := ExtractWith(benchCtxSMS, benchCtx)
		if err != nil || r.Code != "482193" || len(r.Origins) != 1 {
			b.Fatalf("got %q %v %v", r.Code, r.Origins, err)
		}
	}
}

// BenchmarkExtractSMSBareWithContext is a message that is only a token:
// without context it is no code, with a matching sender it is.
func BenchmarkExtractSMSBareWithContext(b *testing.B) {
	msg := Message{Source: "sms", Sender: "ACME", Text: "482193"}
	ctx := Context{SenderMatched: true, Source: "sms"}
	b.ReportAllocs()
	for b.Loop() {
		r, err := ExtractWith(msg, ctx)
		if err != nil || r.Code != "482193" {
			b.Fatalf("got %q %v", r.Code, err)
		}
	}
}

func BenchmarkExtractHTMLEmail50KBWithContext(b *testing.B) {
	raw := benchEmail50KB()
	ctx := Context{SenderMatched: true, Source: "email", Length: 6, Alphabet: AlphabetDigits, Domain: PatternDomain("*@example.com")}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := ParseEmail(raw)
		if err != nil {
			b.Fatal(err)
		}
		r, err := ExtractWith(e.Message, ctx)
		if err != nil || r.Code != "730192" {
			b.Fatalf("got %q %v", r.Code, err)
		}
	}
}

// BenchmarkPathological runs each adversarial text of
// TestPathologicalInputs (up to 1 MB): the tests assert results, this is
// where a regression to super-linear cost shows (compare ns/op with the
// text's size).
func BenchmarkPathological(b *testing.B) {
	for name, text := range pathologicalTexts() {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := Extract(Message{Source: "sms", Text: text}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
