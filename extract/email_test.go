package extract

import (
	"encoding/base64"
	"errors"
	"mime"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

func encodeWith(t *testing.T, enc encoding.Encoding, s string) []byte {
	t.Helper()
	if enc == nil {
		return []byte(s)
	}
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return b
}

func b64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}

func qpString(b []byte) string {
	var sb strings.Builder
	w := quotedprintable.NewWriter(&sb)
	w.Write(b)
	w.Close()
	return sb.String()
}

func TestParseEmailCharsets(t *testing.T) {
	tests := []struct {
		label string
		enc   encoding.Encoding
		cte   string
		text  string
	}{
		{"utf-8", nil, "8bit", "Ihr Code für Müller: 482913 ✓"},
		{"UTF-8", nil, "base64", "您的验证码是 482913"},
		{"us-ascii", nil, "7bit", "Your code is 482913"},
		{"iso-8859-1", charmap.ISO8859_1, "quoted-printable", "Código de verificación: 482913"},
		{"ISO-8859-15", charmap.ISO8859_15, "quoted-printable", "Prix 10 € - code 482913"},
		{"windows-1252", charmap.Windows1252, "quoted-printable", "Your code is “482913” — don’t share"},
		{"gb2312", simplifiedchinese.GBK, "base64", "您的验证码是：482913，请勿泄露"},
		{"GBK", simplifiedchinese.GBK, "base64", "验证码 482913"},
		{"gb18030", simplifiedchinese.GB18030, "base64", "验证码 482913 𠀀"},
		{"shift_jis", japanese.ShiftJIS, "base64", "認証コード：482913"},
		{"Shift-JIS", japanese.ShiftJIS, "base64", "確認コードは 482913 です"},
		{"cp932", japanese.ShiftJIS, "base64", "パスコード 482913"},
		{"euc-jp", japanese.EUCJP, "base64", "認証番号 482913"},
		{"iso-2022-jp", japanese.ISO2022JP, "7bit", "確認コード 482913"},
		{"euc-kr", korean.EUCKR, "base64", "인증번호 [482913]"},
		{"ks_c_5601-1987", korean.EUCKR, "base64", "인증번호는 482913 입니다"},
		{"big5", traditionalchinese.Big5, "base64", "驗證碼：482913"},
		{"koi8-r", charmap.KOI8R, "quoted-printable", "Код подтверждения: 482913"},
		{"windows-1251", charmap.Windows1251, "base64", "Ваш код: 482913"},
		{"iso-8859-7", charmap.ISO8859_7, "quoted-printable", "Ο κωδικός είναι 482913"},
		{"windows-1255", charmap.Windows1255, "base64", "קוד האימות 482913"},
		{"windows-1256", charmap.Windows1256, "base64", "رمز التحقق 482913"},
		{"utf-16", unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), "base64", "Code 482913"},
		{"x-unknown-charset", nil, "8bit", "Code 482913 déjà"},
	}
	for _, tt := range tests {
		t.Run(tt.label+"/"+tt.cte, func(t *testing.T) {
			raw := encodeWith(t, tt.enc, tt.text)
			var body string
			switch tt.cte {
			case "base64":
				body = b64Lines(raw)
			case "quoted-printable":
				body = qpString(raw)
			default:
				body = string(raw)
			}
			msg := "From: Example <no-reply@example.com>\r\nSubject: Code\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=\"" + tt.label + "\"\r\nContent-Transfer-Encoding: " + tt.cte + "\r\n\r\n" + body
			e, err := ParseEmail([]byte(msg))
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(e.Text) != tt.text {
				t.Errorf("Text = %q, want %q", e.Text, tt.text)
			}
			r, _ := Extract(e.Message)
			if r.Code != "482913" {
				t.Errorf("code = %q", r.Code)
			}
		})
	}
}

func TestParseEmailHeaders(t *testing.T) {
	tests := []struct {
		name, header, wantSubject, wantFrom string
	}{
		{"plain", "Subject: Your code\r\nFrom: Acme <noreply@acme.com>", "Your code", "Acme <noreply@acme.com>"},
		{"B utf-8", "Subject: " + mime.BEncoding.Encode("utf-8", "Votre code: 482913") + "\r\nFrom: x@y.z", "Votre code: 482913", "x@y.z"},
		{"Q utf-8", "Subject: " + mime.QEncoding.Encode("utf-8", "Tu código") + "\r\nFrom: x@y.z", "Tu código", "x@y.z"},
		{"B gb2312", "Subject: =?GB2312?B?0enWpMLr?=\r\nFrom: =?UTF-8?B?56S65L6L?= <a@b.cn>", "验证码", "示例 <a@b.cn>"},
		{"Q iso-8859-1", "Subject: =?ISO-8859-1?Q?Best=E4tigungscode?=\r\nFrom: x@y.z", "Bestätigungscode", "x@y.z"},
		{"adjacent words joined", "Subject: =?UTF-8?B?Q29k?= =?UTF-8?B?ZQ==?=\r\nFrom: x@y.z", "Code", "x@y.z"},
		{"folded", "Subject: Your\r\n  verification\r\n\tcode\r\nFrom: x@y.z", "Your verification code", "x@y.z"},
		{"ks_c_5601 word", "Subject: =?ks_c_5601-1987?B?wM7B9bn4yKM=?=\r\nFrom: x@y.z", "인증번호", "x@y.z"},
		{"unknown charset decoded leniently", "Subject: =?x-nope?Q?abc?= ok\r\nFrom: x@y.z", "abc ok", "x@y.z"},
		{"raw utf-8", "Subject: Código 482913\r\nFrom: x@y.z", "Código 482913", "x@y.z"},
		{"raw latin-1", "Subject: C\xf3digo\r\nFrom: x@y.z", "Código", "x@y.z"},
		{"broken word", "Subject: =?UTF-8?B?###?= and =?UTF-8?Q?ok?=\r\nFrom: x@y.z", "=?UTF-8?B?###?= and ok", "x@y.z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.header + "\r\nMessage-ID: <abc@example.com>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\n\r\nbody\r\n"
			e, err := ParseEmail([]byte(msg))
			if err != nil {
				t.Fatal(err)
			}
			if e.Subject != tt.wantSubject {
				t.Errorf("Subject = %q, want %q", e.Subject, tt.wantSubject)
			}
			if e.Sender != tt.wantFrom {
				t.Errorf("Sender = %q, want %q", e.Sender, tt.wantFrom)
			}
			if e.MessageID != "abc@example.com" {
				t.Errorf("MessageID = %q", e.MessageID)
			}
			if want := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC); !e.Date.Equal(want) {
				t.Errorf("Date = %v", e.Date)
			}
			if e.Source != "email" {
				t.Errorf("Source = %q", e.Source)
			}
		})
	}
}

func TestParseEmailStructure(t *testing.T) {
	const hdr = "From: a@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
	tests := []struct {
		name, msg, wantText, wantHTML string
	}{
		{"no content type", "From: a@b.c\r\n\r\nplain body", "plain body", ""},
		{"LF only", "From: a@b.c\nSubject: x\n\nbody line\n", "body line", ""},
		{"mbox From line and BOM", "\xef\xbb\xbfFrom a@b.c Mon Nov 23 09:00:00 2026\nFrom: a@b.c\n\nbody", "body", ""},
		{"alternative", hdr + "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\npreamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b--\r\nepilogue", "plain", "<p>html</p>"},
		{"unquoted boundary with specials", hdr + "Content-Type: multipart/alternative; boundary=----=_Part_1_2.3\r\n\r\n------=_Part_1_2.3\r\nContent-Type: text/plain\r\n\r\nplain\r\n------=_Part_1_2.3--\r\n", "plain", ""},
		{"LF multipart", "From: a@b.c\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nline\n--zz--\n", "line", ""},
		{"attachment skipped", hdr + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached 999999\r\n--b--\r\n", "body", ""},
		{"image skipped", hdr + "Content-Type: multipart/related; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n", "", "<b>x</b>"},
		{"nested", hdr + "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\ninner\r\n--i--\r\n--o\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--o--\r\n", "inner\n\nsecond", ""},
		{"rfc822", hdr + "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nFYI\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@c.d\r\nSubject: Inner subject\r\n\r\ninner body\r\n--o--\r\n", "FYI\n\nInner subject\n\ninner body", ""},
		{"missing boundary param", hdr + "Content-Type: multipart/alternative\r\n\r\n--q1\r\nContent-Type: text/plain\r\n\r\nsniffed\r\n--q1--\r\n", "sniffed", ""},
		{"boundary never found", hdr + "Content-Type: multipart/alternative; boundary=nope\r\n\r\njust text", "just text", ""},
		{"unterminated last part", hdr + "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ncut off", "cut off", ""},
		{"part without header", hdr + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nno header part\r\n--b--\r\n", "no header part", ""},
		{"boundary prefix of longer line", hdr + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--bx not a boundary\r\n--b--\r\n", "--bx not a boundary", ""},
		{"QP multipart QUIRK", hdr + "Content-Type: multipart/alternative; boundary=b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak =3D ok\r\n--b--\r\n", "softbreak = ok", ""},
		{"bad QP kept", hdr + "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n100% =ZZ =4", "100% =ZZ =4", ""},
		{"bad base64 partly decoded", hdr + "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nWW91ciBj!!b2RlIDQ4MjkxMw", "Your code 482913", ""},
		{"missing blank line after header", "From: a@b.c\r\nSubject: x\r\nThis line starts the body\r\n", "This line starts the body", ""},
		{"html only", hdr + "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hi</p>", "", "<p>Hi</p>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEmail([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			if e.Text != tt.wantText {
				t.Errorf("Text = %q, want %q", e.Text, tt.wantText)
			}
			if e.HTML != tt.wantHTML {
				t.Errorf("HTML = %q, want %q", e.HTML, tt.wantHTML)
			}
		})
	}
}

func TestParseEmailErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":            "",
		"not an email":     "Hello, this is not a message",
		"starts with fold": " folded: header\r\n\r\nbody",
		"binary":           "\x00\x01\x02\x03",
	} {
		if _, err := ParseEmail([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// Nesting deeper than the limit with no text left.
	var deep strings.Builder
	deep.WriteString("From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i <= 40; i++ {
		deep.WriteString("--b" + itoa(i-1) + "\r\nContent-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n")
	}
	if _, err := ParseEmail([]byte(deep.String())); !errors.Is(err, ErrMalformed) {
		t.Errorf("deep nesting: err = %v, want ErrMalformed", err)
	}
	big := make([]byte, MaxEmailSize+1)
	if _, err := ParseEmail(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over MaxEmailSize: err = %v, want ErrTooLarge", err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestLooksLikeEmail(t *testing.T) {
	yes := []string{"From: a@b.c\r\n\r\nx", "Received: from x\r\nSubject: y\r\n\r\n", "MIME-Version: 1.0\nContent-Type: text/plain\n\nhi"}
	no := []string{"Your code is 123456", "Code: 123456", "", "G-123456 is your Google verification code."}
	for _, s := range yes {
		if !LooksLikeEmail([]byte(s)) {
			t.Errorf("LooksLikeEmail(%q) = false", s)
		}
	}
	for _, s := range no {
		if LooksLikeEmail([]byte(s)) {
			t.Errorf("LooksLikeEmail(%q) = true", s)
		}
	}
}
