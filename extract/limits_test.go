package extract

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// timed runs one pathological case and logs how long it took. Tests
// assert results, never durations: BenchmarkPathological (bench_test.go)
// is where a regression to super-linear cost shows.
func timed(t *testing.T, name string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	t.Logf("%s: %v", name, time.Since(start))
}

func TestOneMegabyteEmail(t *testing.T) {
	var h strings.Builder
	h.WriteString("<html><body><p>Your verification code:</p><h1>730192</h1><table>")
	for h.Len() < 1<<20 {
		fmt.Fprintf(&h, `<tr><td style="padding:4px"><a href="https://example.com/a?id=%d">Item %d</a> costs $%d.99, ships in %d days</td></tr>`, h.Len(), h.Len()%977, h.Len()%500, h.Len()%9)
	}
	h.WriteString("</table></body></html>")
	raw := []byte("From: Example <no-reply@example.com>\r\nSubject: Your code\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + h.String())
	if len(raw) < 1<<20 {
		t.Fatal("test e-mail too small")
	}
	timed(t, "1 MB e-mail", func() {
		e, err := ParseEmail(raw)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Extract(e.Message)
		if err != nil || r.Code != "730192" {
			t.Errorf("got %q %v", r.Code, err)
		}
	})
}

func TestPathologicalInputs(t *testing.T) {
	kb256 := 256 << 10
	texts := pathologicalTexts()
	for name, text := range texts {
		timed(t, name, func() {
			r, err := Extract(Message{Source: "sms", Text: text})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Candidates) > MaxCandidates {
				t.Errorf("%d candidates", len(r.Candidates))
			}
		})
	}
	emails := map[string]string{
		"deep multipart":    "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n", kb256/50),
		"many parts":        "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", kb256/12),
		"many rfc822":       "From: a@b.c\r\n" + strings.Repeat("Content-Type: message/rfc822\r\n\r\nFrom: a@b.c\r\n", kb256/45),
		"many headers":      strings.Repeat("X-A: b\r\n", kb256/8) + "\r\nbody",
		"long folded":       "Subject: x\r\n" + strings.Repeat(" y\r\n", kb256/4) + "\r\nbody",
		"boundary prefixes": "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n" + strings.Repeat("--bbx\n", kb256/6),
		"base64 garbage":    "From: a@b.c\r\nContent-Transfer-Encoding: base64\r\n\r\n" + strings.Repeat("!@#$", kb256/4),
		"qp equals":         "From: a@b.c\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("=", kb256),
		"encoded words":     "From: a@b.c\r\nSubject: " + strings.Repeat("=?utf-8?q?a?= ", kb256/16) + "\r\n\r\nx",
		"nested html":       "From: a@b.c\r\nContent-Type: text/html\r\n\r\n" + strings.Repeat("<div><span>", kb256/11),
	}
	for name, raw := range emails {
		timed(t, name, func() {
			e, err := ParseEmail([]byte(raw))
			if err != nil {
				return
			}
			if _, err := Extract(e.Message); err != nil {
				t.Errorf("Extract: %v", err)
			}
		})
	}
}

// pathologicalTexts are adversarial SMS texts of up to 1 MB: long runs of
// what the tokenizer, the number chains and the keyword search look at.
func pathologicalTexts() map[string]string {
	mb := 1 << 20
	kb256 := 256 << 10
	return map[string]string{
		"digits":             strings.Repeat("1234567890", mb/10),
		"spaced digits":      strings.Repeat("1 ", mb/2),
		"4-digit groups":     strings.Repeat("1234 ", kb256/5),
		"hyphen chain":       strings.Repeat("123-", kb256/4),
		"dots":               strings.Repeat("1.", kb256/2),
		"code words":         strings.Repeat("code ", kb256/5),
		"code and numbers":   strings.Repeat("code 482913 ", mb/12),
		"one long word":      strings.Repeat("a", mb),
		"one long alnum":     strings.Repeat("a1", kb256/2),
		"CJK keyword":        strings.Repeat("验证码", kb256/9),
		"CJK with digits":    strings.Repeat("验证码123456，", kb256/20),
		"hangul word":        strings.Repeat("인증번호", kb256/12),
		"arabic word":        strings.Repeat("الرمز", kb256/10),
		"newlines":           strings.Repeat("\n", kb256),
		"origin lines":       strings.Repeat("@example.com #482913\n", kb256/21),
		"punctuation":        strings.Repeat("#:-/.,", kb256/6),
		"caps after keyword": strings.Repeat("code: ABCDEF ", kb256/13),
		"urls":               strings.Repeat("https://example.com/482913 ", kb256/27),
		"invalid utf-8":      strings.Repeat("\xff\xfe1234", kb256/6),
		"sentences":          strings.Repeat("No. 1234. ", kb256/10),
	}
}
