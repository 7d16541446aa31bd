package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanString(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "code 604918\n", "code 604918\n"},
		{"tab", "a\tb", "a\tb"},
		{"sgr", "\x1b[31mred\x1b[0m", "red"},
		{"clear screen", "\x1b[2J\x1b[Hx", "x"},
		{"osc title bel", "\x1b]0;pwned\x07ok", "ok"},
		{"osc hyperlink st", "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"dcs", "\x1bPq#0;2;0;0;0\x1b\\after", "after"},
		{"two char escape", "\x1bcreset", "reset"},
		{"charset escape", "\x1b(Bx", "x"},
		{"c1 csi", "a\u009b31mb", "ab"},
		{"c1 osc", "a\u009d0;t\u009cb", "ab"},
		{"c0", "a\x00b\x07c\x08d", "abcd"},
		{"lone cr", "real\rfake", "realfake"},
		{"crlf", "a\r\nb", "a\r\nb"},
		{"del", "a\x7fb", "ab"},
		{"bidi override", "user\u202Egnp.exe", "usergnp.exe"},
		{"bidi isolate", "\u2066x\u2069", "x"},
		{"invalid utf8", "a\xffb", "a\uFFFDb"},
		{"unterminated osc ends at newline", "\x1b]0;title\nnext", "\nnext"},
		{"unicode kept", "Grüße, 東京 ✓", "Grüße, 東京 ✓"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanString(tt.in); got != tt.want {
				t.Errorf("cleanString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestCleanWriterSplit writes every string one byte at a time: escape
// sequences and UTF-8 split across writes are handled like whole ones.
func TestCleanWriterSplit(t *testing.T) {
	for _, in := range []string{"\x1b[31mred\x1b[0m", "Grüße \u202E", "\x1b]0;t\x1b\\x", "a\r\nb"} {
		var b strings.Builder
		w := newCleanWriter(&b)
		for i := 0; i < len(in); i++ {
			if _, err := w.Write([]byte{in[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := b.String(), cleanString(in); got != want {
			t.Errorf("split %q: %q, want %q", in, got, want)
		}
	}
}

func FuzzCleanString(f *testing.F) {
	for _, s := range []string{"\x1b[31m", "\x1b]0;x\x07", "\u202e", "a\r\nb", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := cleanString(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		for i, r := range out {
			if r == 0x1b || (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || (r >= 0x7f && r <= 0x9f) || isBidiControl(r) {
				t.Fatalf("%q left %U at %d", s, r, i)
			}
			if r == '\r' && (i+1 >= len(out) || out[i+1] != '\n') {
				t.Fatalf("%q left a lone CR", s)
			}
		}
	})
}

// BenchmarkCleanWriter measures the cleaner on a table line of plain
// text, what nearly all output is.
func BenchmarkCleanWriter(b *testing.B) {
	line := []byte("otp_VGTAtqOX3hwNhrnMgm3OyQ  denied    agt_ybN0nfZI8Nr2Kl4iTCztDn  Sign up for Acme  ACME  SHA256:MPK3QsnyZCQ…  2026-12-02 14:52:44\n")
	w := newCleanWriter(discard{})
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		_, _ = w.Write(line)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
