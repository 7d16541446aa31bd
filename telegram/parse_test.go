package telegram

import (
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

func FuzzParseCallbackData(f *testing.F) {
	for _, s := range []string{"a:AAAAAAAAAAAAAAAAAAAAAA", "d:0123456789abcdefghijkl", "a:", "x:AAAAAAAAAAAAAAAAAAAAAA", "", "a:otp_123", "a:AAAAAAAAAAAAAAAAAAAAA/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		approve, token, ok := parseCallbackData(data)
		if !ok {
			return
		}
		verb := "d:"
		if approve {
			verb = "a:"
		}
		if data != verb+token || len(token) != tokenLen {
			t.Fatalf("parseCallbackData(%q) = %v, %q", data, approve, token)
		}
		for _, c := range token {
			if !strings.ContainsRune("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", c) {
				t.Fatalf("token %q holds %q", token, c)
			}
		}
	})
}

func FuzzCommand(f *testing.F) {
	for _, s := range []string{"/link ABCD-EFGH-JKLM", "/pending@agentotp_bot", "/", "hello", "/LINK   x  ", "/@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, arg, ok := command(text)
		if !ok {
			if strings.HasPrefix(text, "/") {
				t.Fatalf("command(%q) refused a slash command", text)
			}
			return
		}
		if strings.ContainsAny(cmd, " @") || cmd != strings.ToLower(cmd) || arg != strings.TrimSpace(arg) {
			t.Fatalf("command(%q) = %q, %q", text, cmd, arg)
		}
	})
}

func TestPromptTextHelpers(t *testing.T) {
	if got := oneLine("a\nb\r\nc\u2028d"); got != "a b  c d" {
		t.Errorf("oneLine = %q", got)
	}
	if got := shortFingerprint("SHA256:0123456789abcdefXYZ"); got != "SHA256:0123456789abcdef…" {
		t.Errorf("shortFingerprint = %q", got)
	}
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := timeLeft(now, now.Add(90*time.Second+400*time.Millisecond)); got != "1m30s" {
		t.Errorf("timeLeft = %q", got)
	}
	if got := timeLeft(now, now.Add(-time.Second)); got != "none" {
		t.Errorf("timeLeft past = %q", got)
	}
}

func TestOneLine(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a\nb\r\nc\u2028d\u2029e", "a b  c d e"},
		{"vt\vff\fnel\u0085tab\tesc\x1b.", "vt ff nel tab esc ."},
		{"bidi \u202eevil\u202c \u2067x\u2069\u200f", "bidi evil x"},
		{"emoji ✅ and “quotes”", "emoji ✅ and “quotes”"},
	}
	for _, c := range cases {
		if got := oneLine(c.in); got != c.want {
			t.Errorf("oneLine(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestHeldLine(t *testing.T) {
	at := time.Date(2031, 3, 4, 9, 41, 30, 0, time.FixedZone("CET", 3600))
	const tail = " — approving releases its code to this agent."
	cases := []struct {
		name string
		md   agentotp.MessageMetadata
		want string
	}{
		{"sms", agentotp.MessageMetadata{Source: "sms", Sender: "MYBANK", ReceivedAt: at},
			"⚠ Already caught: SMS from MYBANK, 08:41 UTC" + tail},
		{"email with a subject", agentotp.MessageMetadata{Source: "email", Sender: "Acme <noreply@acme.com>", Subject: "Your code: ••••••", ReceivedAt: at},
			"⚠ Already caught: email from Acme <noreply@acme.com>, “Your code: ••••••”, 08:41 UTC" + tail},
		{"nothing known", agentotp.MessageMetadata{Source: "sms"},
			"⚠ Already caught: SMS" + tail},
		{"lines in sender and subject", agentotp.MessageMetadata{Source: "email", Sender: " a@b.test\n", Subject: "x\n\n✅ Approved by the owner", ReceivedAt: at},
			"⚠ Already caught: email from a@b.test, “x  ✅ Approved by the owner”, 08:41 UTC" + tail},
		{"long sender and subject", agentotp.MessageMetadata{Source: "email", Sender: strings.Repeat("s", 200), Subject: strings.Repeat("ü", 200)},
			"⚠ Already caught: email from " + strings.Repeat("s", maxHeldSender-1) + "…, “" + strings.Repeat("ü", maxHeldSubject-1) + "…”" + tail},
		{"not UTF-8", agentotp.MessageMetadata{Source: "sms", Sender: "BANK\xff\xfe"},
			"⚠ Already caught: SMS from BANK\uFFFD" + tail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := heldLine(&c.md)
			if got != c.want {
				t.Errorf("heldLine = %q\nwant       %q", got, c.want)
			}
			if strings.ContainsAny(got, "\n\r\v\f\u2028\u2029\u0085") {
				t.Errorf("heldLine breaks the line: %q", got)
			}
		})
	}
}
