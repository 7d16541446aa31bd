package extract

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func checkResult(t *testing.T, r Result) {
	t.Helper()
	if len(r.Origins) > 0 {
		// an origin-bound code: any characters but white space, '@', '#'
		if r.Code != "" && (len(r.Code) > MaxOriginCodeLen || strings.ContainsAny(r.Code, " \t\r\n@#") || !utf8.ValidString(r.Code)) {
			t.Fatalf("origin-bound code %q", r.Code)
		}
	} else if r.Code != "" && (len(r.Code) < 3 || len(r.Code) > 10 || !isASCIIAlnumString(r.Code)) {
		t.Fatalf("code %q is not 3–10 letters/digits", r.Code)
	}
	if r.Confidence < 0 || r.Confidence > 1 || r.Code == "" && r.Confidence != 0 {
		t.Fatalf("confidence %v for code %q", r.Confidence, r.Code)
	}
	if len(r.Candidates) > MaxCandidates {
		t.Fatalf("%d candidates", len(r.Candidates))
	}
	for _, c := range r.Candidates {
		if c.Score < 0 || c.Score > 1 || len(r.Origins) == 0 && (len(c.Code) < 3 || len(c.Code) > 10 || !isASCIIAlnumString(c.Code)) {
			t.Fatalf("bad candidate %+v", c)
		}
	}
}

func FuzzParseEmail(f *testing.F) {
	for _, c := range loadCorpus(f) {
		if c.Source == "email" {
			f.Add([]byte(c.Text))
		}
	}
	f.Add([]byte("From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--"))
	f.Add([]byte("From: a@b.c\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.e\r\nContent-Type: message/rfc822\r\n\r\nSubject: =?utf-8?q?=E2=82?=\r\n\r\n"))
	f.Add([]byte("Subject: =?gb2312?B?0enWpMLr?= =?x?Q?=FF?=\n\n=\n=4=ZZ"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := ParseEmail(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		for _, s := range []string{e.Sender, e.Subject, e.Text, e.HTML} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		if n := len(e.Sender) + len(e.Subject) + len(e.Text) + len(e.HTML); n > MaxTextSize {
			t.Fatalf("message of %d bytes exceeds MaxTextSize", n)
		}
		r, err := Extract(e.Message)
		if err != nil {
			t.Fatalf("Extract of a parsed e-mail failed: %v", err)
		}
		checkResult(t, r)
	})
}

func FuzzHTMLToText(f *testing.F) {
	for _, c := range loadCorpus(f) {
		if c.Source == "email" {
			if e, err := ParseEmail([]byte(c.Text)); err == nil && e.HTML != "" {
				f.Add(e.HTML)
			}
		}
	}
	f.Add("<div style=display:none><p>x</div></p><td>1</td><td>2</td><td>3</td><td>4</td>")
	f.Add("<pre>a\r\n b</pre><plaintext><b>x")
	f.Add(strings.Repeat("<span>", 300) + "&#x10FFFF;&amp&nbsp;\xff")
	f.Fuzz(func(t *testing.T, in string) {
		out := HTMLToText(in)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 output %q", out)
		}
		if len(out) > 3*len(in)+16 {
			t.Fatalf("output %d bytes for %d bytes of input", len(out), len(in))
		}
	})
}

func FuzzExtract(f *testing.F) {
	for _, c := range loadCorpus(f) {
		if c.Source == "sms" {
			f.Add(c.Text, c.Sender, "", "")
		} else if e, err := ParseEmail([]byte(c.Text)); err == nil {
			f.Add(e.Text, e.Sender, e.Subject, e.HTML)
		}
	}
	f.Fuzz(func(t *testing.T, text, sender, subject, html string) {
		r, ok := checkExtraction(t, len(text)+len(html)+len(subject), func() (Result, error) {
			return Extract(Message{Source: "sms", Sender: sender, Subject: subject, Text: text, HTML: html})
		})
		if !ok {
			return
		}
		// The code is never invented: its letters and digits appear in
		// that order in the message.
		if r.Code != "" && len(r.Origins) > 0 {
			if !strings.Contains(text, r.Code) {
				t.Fatalf("origin-bound code %q does not appear in the text", r.Code)
			}
		} else if r.Code != "" {
			var b strings.Builder
			for _, part := range []string{subject, text, HTMLToText(html)} {
				for _, c := range part {
					if a, ok := asciiAlnum(c); ok {
						b.WriteByte(a | 0x20)
					}
				}
			}
			if !strings.Contains(b.String(), strings.ToLower(r.Code)) {
				t.Fatalf("code %q does not appear in the message", r.Code)
			}
		}
		// Deterministic.
		if r2, _ := Extract(Message{Source: "sms", Sender: sender, Subject: subject, Text: text, HTML: html}); r2.Code != r.Code || r2.Confidence != r.Confidence {
			t.Fatalf("non-deterministic: %q/%v then %q/%v", r.Code, r.Confidence, r2.Code, r2.Confidence)
		}
	})
}

// FuzzExtractWith drives the context paths: a matched sender, an expected
// length, alphabet and domain, and origin-bound last lines.
func FuzzExtractWith(f *testing.F) {
	for _, c := range loadCorpus(f) {
		if c.Source == "sms" {
			f.Add(c.Text, c.Sender, c.SenderPattern != "", 0, uint8(0), PatternDomain(c.SenderPattern))
		}
	}
	f.Add("482193", "ACME", true, 6, uint8(1), "")
	f.Add("Your code\n@top.example #ÄÖ-12 @emb.example", "x", true, 0, uint8(0), "emb.example")
	f.Add("@a.b #c @d.e extra", "", false, 0, uint8(0), "evil.example")
	f.Add("KCXF-SMQQ", "auth", true, 8, uint8(2), "")
	f.Fuzz(func(t *testing.T, text, sender string, matched bool, length int, alpha uint8, domain string) {
		ctx := Context{SenderMatched: matched, Length: length % 16, Alphabet: Alphabet(alpha % 4), Domain: domain}
		r, ok := checkExtraction(t, len(text), func() (Result, error) {
			return ExtractWith(Message{Source: "sms", Sender: sender, Text: text}, ctx)
		})
		if !ok {
			return
		}
		if r.Code == "" {
			return
		}
		if len(r.Origins) > 0 {
			ok := ctx.Domain == ""
			for _, h := range r.Origins {
				ok = ok || OriginMatches(h, ctx.Domain)
			}
			if !ok {
				t.Fatalf("code %q bound to %v delivered for domain %q", r.Code, r.Origins, ctx.Domain)
			}
			return
		}
		if ctx.Length > 0 && len(r.Code) != ctx.Length && r.Confidence != 0.6 {
			t.Fatalf("code %q for expected length %d", r.Code, ctx.Length)
		}
		if !ctx.Alphabet.fits(r.Code) && r.Confidence != 0.6 {
			t.Fatalf("code %q for alphabet %v", r.Code, ctx.Alphabet)
		}
	})
}

// FuzzOriginLine: whatever parses as an origin-bound line has a host that
// is a domain and a code without white space or delimiters.
func FuzzOriginLine(f *testing.F) {
	f.Add("@example.com #123456")
	f.Add("@ecommerce.example #747723 @payments.example")
	f.Add("@apple.com #448120 %apple.com")
	f.Add("@x.y #\xff")
	f.Fuzz(func(t *testing.T, line string) {
		o := parseOriginLine(line)
		if o == nil {
			return
		}
		if o.code == "" || len(o.code) > MaxOriginCodeLen || strings.ContainsAny(o.code, " \t\r\n@#") || !utf8.ValidString(o.code) {
			t.Fatalf("code %q from %q", o.code, line)
		}
		if !strings.HasPrefix(strings.ToLower(line), "@"+o.top+" #"+strings.ToLower(o.code)) {
			t.Fatalf("host %q code %q do not open %q", o.top, o.code, line)
		}
		if _, ok := originHost(o.top); !ok {
			t.Fatalf("bad host %q", o.top)
		}
	})
}

// checkExtraction runs one extraction of size input bytes: it may refuse
// only with ErrTooLarge (then ok is false), its result must pass
// checkResult. (How long it takes is the benchmarks' to show, never a
// test's to assert.)
func checkExtraction(t *testing.T, size int, run func() (Result, error)) (r Result, ok bool) {
	t.Helper()
	r, err := run()
	if err != nil {
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
		return r, false
	}
	checkResult(t, r)
	return r, true
}
