package extract

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// leaksCode reports whether s, read as its folded letters and digits only
// (every separator, space and format character removed), holds the
// letters and digits of code as one contiguous run: the invariant
// RedactSubject keeps. It folds on its own (with the tokenizer's
// appendFold), apart from the code under test.
func leaksCode(s, code string) bool {
	key := alnumFolded(code)
	return key != "" && strings.Contains(alnumFolded(s), key)
}

func alnumFolded(s string) string {
	var b []byte
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			if _, ok := asciiAlnum(r); !ok {
				continue
			}
		}
		for _, f := range string(appendFold(nil, r)) {
			if unicode.IsLetter(f) || unicode.IsNumber(f) {
				b = utf8.AppendRune(b, f)
			}
		}
	}
	return string(b)
}

func TestRedactSubject(t *testing.T) {
	tests := []struct {
		name, subject, code, want string
	}{
		// the forms of issue 13, item 1 (these leaked before)
		{"hyphen in subject, none in body", "Code: ABC-DEF", "ABCDEF", "Code: •••••••"},
		{"letters and digits in spaced groups", "Your code AB 12 CD", "AB12CD", "Your code ••••••••"},
		{"one character per word", "K X Q Z P T is your code", "KXQZPT", "••••••••••• is your code"},
		// and the reverse
		{"no separator in subject", "Code ABCDEF", "ABCDEF", "Code ••••••"},
		{"plain digits", "482913 is your code", "482913", "•••••• is your code"},
		// separators
		{"hyphen", "Your code: 482-913", "482913", "Your code: •••••••"},
		{"hyphens between every digit", "Code 4-8-2-9-1-3", "482913", "Code •••••••••••"},
		{"space", "Your code: 482 913", "482913", "Your code: •••••••"},
		{"full stop", "Code 482.913 inside", "482913", "Code ••••••• inside"},
		{"middle dot", "Code 482·913", "482913", "Code •••••••"},
		{"no-break space", "Code 482\u00a0913", "482913", "Code •••••••"},
		{"thin space", "Code 482\u2009913", "482913", "Code •••••••"},
		{"narrow no-break space", "Code 482\u202f913", "482913", "Code •••••••"},
		{"ideographic space", "認証コード 482\u3000913", "482913", "認証コード •••••••"},
		{"zero-width space", "Code 482\u200b913", "482913", "Code •••••••"},
		{"zero-width joiners inside", "Code 4\u200c8\u200d2\u20609\ufeff13", "482913", "Code ••••••••••"},
		{"soft hyphen", "Code ABC\u00adDEF", "ABCDEF", "Code •••••••"},
		{"slash and colon", "Code 48/29:13", "482913", "Code ••••••••"},
		{"brackets", "Code [482] (913)", "482913", "Code [•••••••••)"},
		{"underscores", "Code 482_913", "482913", "Code •••••••"},
		{"digits spelled out one per space", "Code 1 2 3 4 5 6", "123456", "Code •••••••••••"},
		// other forms of the characters
		{"full-width digits", "コード １２３４５６ です", "123456", "コード •••••• です"},
		{"full-width letters", "Code ＡＢＣ－ＤＥＦ", "ABCDEF", "Code •••••••"},
		{"Arabic-Indic digits", "رمز التحقق ٤٨٢٩١٣", "482913", "رمز التحقق ••••••"},
		{"Devanagari digits", "OTP ४८२९१३ है", "482913", "OTP •••••• है"},
		{"lower case in subject", "code abc-def", "ABCDEF", "code •••••••"},
		{"mixed case", "Code aBc-DeF", "abcdef", "Code •••••••"},
		{"diacritics", "Code ÀBC-DÉF", "ABCDEF", "Code •••••••"},
		{"combining mark inside", "Code A\u0301BC-DEF", "ABCDEF", "Code ••••••••"},
		{"mathematical letters", "Code 𝐀𝐁𝐂𝐃𝐄𝐅", "ABCDEF", "Code ••••••"},
		// where the code sits
		{"glued to a word", "Code:ABCDEF!", "ABCDEF", "Code:••••••!"},
		{"inside a longer word", "verifyABCDEFnow please", "ABCDEF", "••••••••••••••• please"},
		{"twice", "482913 / 482-913", "482913", "•••••• / •••••••"},
		{"masking joins pieces around it", "ABC ABCDEF DEF", "ABCDEF", "••••••••••••••"},
		{"code at the very end", "Your code is 482 913", "482913", "Your code is •••••••"},
		{"code in subject, body elsewhere", "Sign-in code 77 31 05", "773105", "Sign-in code ••••••••"},
		{"origin code with punctuation", "Code a.b-c_d", "a.b-cd", "Code •••••••"},
		// nothing to mask
		{"code not in subject", "Your Acme sign-in code", "482913", "Your Acme sign-in code"},
		{"other digits kept", "Order 5521 shipped", "482913", "Order 5521 shipped"},
		{"part of the code only", "Code starts with 482", "482913", "Code starts with 482"},
		{"one-character pieces at word ends kept", "Step 4 of 8: 2 more", "482913", "Step 4 of 8: 2 more"},
		{"pieces in the wrong order kept", "DEF before ABC", "ABCDEF", "DEF before ABC"},
		{"empty subject", "", "482913", ""},
		{"no code", "Welcome", "", "Welcome"},
		// undecidable: keep no subject
		{"split with words between", "Code 482 and then 913", "482913", ""},
		{"pieces apart", "Use ABC, then type DEF", "ABCDEF", ""},
		{"one character per word among words", "K is X and Q Z P T", "KXQZPT", ""},
		{"pieces at the ends of words", "verifyABC then DEFnow", "ABCDEF", ""},
		{"three pieces", "Codes AB, CD or EF", "ABCDEF", ""},
		{"code without letters or digits", "Code #!?", "#!?", ""},
		{"code too long to be a code", "Code x", strings.Repeat("x", 65), ""},
		{"subject over the limit", strings.Repeat("a", 16<<10+1), "482913", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactSubject(tt.subject, Result{Code: tt.code})
			if got != tt.want {
				t.Errorf("RedactSubject(%q, %q) = %q, want %q", tt.subject, tt.code, got, tt.want)
			}
			if leaksCode(got, tt.code) {
				t.Errorf("RedactSubject(%q, %q) = %q still holds the code", tt.subject, tt.code, got)
			}
		})
	}
}

// TestRedactSubjectAfterExtraction runs e-mails of the issue through the
// path the relay and edge capture take (ParseEmail, ExtractWith with and
// without a request context, RedactSubject) and checks that the subject
// that would be stored, returned by GET /v1/otp/{id} before consume and
// shown on the dashboard and in Telegram holds no code.
func TestRedactSubjectAfterExtraction(t *testing.T) {
	tests := []struct {
		subject, body, code string
	}{
		{"Code: ABC-DEF", "Your verification code is ABCDEF", "ABCDEF"},
		{"Your code AB 12 CD", "Your verification code is AB12CD", "AB12CD"},
		{"K X Q Z P T is your code", "Your verification code is KXQZPT", "KXQZPT"},
		{"Code ABCDEF", "Your verification code is ABC-DEF", "ABCDEF"},
		{"Your code: 482 913", "Your verification code is 482913. It expires in 10 minutes.", "482913"},
		{"Ваш код 482-913", "Ваш код подтверждения: 482913", "482913"},
		{"Sign-in code 48\u200b29\u200b13", "Enter 482913 to sign in.", "482913"},
		{"Your code is 773105", "Welcome back to Acme.", "773105"},
	}
	for _, tt := range tests {
		raw := "From: Acme <no-reply@acme.example>\r\nTo: me@example.net\r\nSubject: " + mimeWord(tt.subject) +
			"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + tt.body + "\r\n"
		e, err := ParseEmail([]byte(raw))
		if err != nil {
			t.Fatalf("%q: %v", tt.subject, err)
		}
		if e.Subject != tt.subject {
			t.Fatalf("subject decoded as %q, want %q", e.Subject, tt.subject)
		}
		for _, ctx := range []Context{{}, {SenderMatched: true, Source: "email", Domain: "acme.example"}} {
			res, err := ExtractWith(e.Message, ctx)
			if err != nil || res.Code != tt.code {
				t.Fatalf("%q: extracted %q (%v), want %q", tt.subject, res.Code, err, tt.code)
			}
			got := RedactSubject(e.Subject, res)
			if leaksCode(got, res.Code) || strings.Contains(got, tt.code) {
				t.Errorf("%q: the stored subject %q holds the code %q", tt.subject, got, res.Code)
			}
		}
	}
}

// mimeWord encodes a non-ASCII subject as an RFC 2047 encoded word.
func mimeWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return "=?utf-8?q?" + qEncode(s) + "?="
		}
	}
	return s
}

func qEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'z' {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// FuzzRedactSubject checks the invariant on any subject and code, and on
// codes the extractor finds in a subject and a body: the redacted subject
// never holds the code's letters and digits as a contiguous run once
// separators and format characters are removed.
func FuzzRedactSubject(f *testing.F) {
	seeds := [][3]string{
		{"Code: ABC-DEF", "Your verification code is ABCDEF", ""},
		{"Your code AB 12 CD", "Your verification code is AB12CD", ""},
		{"K X Q Z P T is your code", "Your verification code is KXQZPT", ""},
		{"ABC ABCDEF DEF", "", "ABCDEF"},
		{"Code 482\u200b913", "", "482913"},
		{"コード １２３４５６", "", "123456"},
		{"Code ÀBC-DÉF", "", "abcdef"},
		{"Code ﬁx", "", "fix"},
		{"x\xffy 12\xc334", "", "1234"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, subject, body, code string) {
		res := Result{Code: code}
		if code == "" {
			var err error
			res, err = Extract(Message{Source: "email", Sender: "a@b.example", Subject: subject, Text: body})
			if err != nil {
				return
			}
		}
		got := RedactSubject(subject, res)
		if res.Code == "" {
			if got != subject {
				t.Fatalf("no code, but the subject changed: %q -> %q", subject, got)
			}
			return
		}
		if leaksCode(got, res.Code) {
			t.Fatalf("RedactSubject(%q, %q) = %q holds the code", subject, res.Code, got)
		}
		if utf8.ValidString(subject) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 from valid input: %q", got)
		}
		if utf8.RuneCountInString(got) > utf8.RuneCountInString(subject) {
			t.Fatalf("redacted subject %q is longer than %q", got, subject)
		}
	})
}
