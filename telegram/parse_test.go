package telegram

import (
	"strings"
	"testing"
	"time"
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
