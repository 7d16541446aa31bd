package extract

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func findCand(r Result, code string) *Candidate {
	for i := range r.Candidates {
		if r.Candidates[i].Code == code {
			return &r.Candidates[i]
		}
	}
	return nil
}

func hasReason(c *Candidate, sub string) bool {
	for _, r := range c.Reasons {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

// TestCandidateKinds checks each candidate shape and the code "as a person
// would type it".
func TestCandidateKinds(t *testing.T) {
	tests := []struct {
		text, want, reason string
	}{
		{"Your code is 4821", "4821", "4-digit number"},
		{"Your code is 4821930517", "4821930517", "10-digit number"},
		{"Your code: 482 913", "482913", "grouped digits"},
		{"Your code: 482-913", "482913", "grouped digits"},
		{"Your code: 48 29 13", "482913", "grouped digits"},
		{"Your code: 4829 1307", "48291307", "grouped digits"},
		{"Your code: 4 8 2 9 1 3", "482913", "grouped digits"},
		{"G-482913 is your Google verification code.", "482913", "service prefix \"G-\""},
		{"FB-48291 is your Facebook confirmation code", "48291", "service prefix \"FB-\""},
		{"GG-482913 is your verification code", "482913", "service prefix \"GG-\""},
		{"Your code is K7P4XZ", "K7P4XZ", "letters and digits"},
		{"Your code is k7p4xz", "k7p4xz", "letters and digits"},
		{"Code: 7X2-K9M", "7X2K9M", "grouped letters and digits"},
		{"Code: ABJ-5K2", "ABJ5K2", "grouped letters and digits"},
		{"Your code is: KPXZTQ", "KPXZTQ", "capital letters right after a code keyword"},
		{"Your code is ４８２９１３", "482913", "6-digit number"},
		{"رمز التحقق: ٤٨٢٩١٣", "482913", "6-digit number"},
		{"आपका ओटीपी ४८२९१३ है", "482913", "6-digit number"},
		{"Your code is 𝟒𝟖𝟐𝟗𝟏𝟑", "482913", "6-digit number"},
		{"Your code is ＫＰ７４ＸＺ", "KP74XZ", "letters and digits"},
		{"Your code is 482913\n\n@example.com #482913", "482913", "origin-bound"},
	}
	for _, tt := range tests {
		r, err := Extract(Message{Source: "sms", Text: tt.text})
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != tt.want {
			t.Errorf("%q: code %q, want %q (%+v)", tt.text, r.Code, tt.want, r.Candidates)
			continue
		}
		if c := findCand(r, tt.want); c == nil || !hasReason(c, tt.reason) {
			t.Errorf("%q: candidate %q lacks reason %q: %+v", tt.text, tt.want, tt.reason, c)
		}
	}
}

// TestPenalties checks that each penalty rule fires on its typical
// context (the candidate is listed with the reason and is not chosen).
func TestPenalties(t *testing.T) {
	tests := []struct {
		text, cand, reason string
	}{
		{"Your code is 482913. Call 1-888-555-0142 for help", "0142", "phone number"},
		{"Your code is 482913. Call +44 7946 095812", "7946", "phone number"},
		{"Your code is 482913. Or call 5550142", "5550142", "phone number"},
		{"Your code is 482913, sent 11/23/2026", "2026", "date"},
		{"Your code is 482913, sent 2026-11-23", "2026", "date"},
		{"Your code is 482913, sent 23.11.2026", "2026", "date"},
		{"Your code is 482913 (issued November 2026)", "2026", "date"},
		{"Your code is 482913, valid since 2019", "2019", "date"},
		{"验证码：482913，2026年11月23日前有效", "2026", "date"},
		{"Your code 482913 expires at 14:30:00 or 1430:59", "1430", "time of day"},
		{"Votre code 482913, rendez-vous à 14h30", "14h30", "time of day"},
		{"Your code is 482913 for 2019 and later", "2019", "looks like a year"},
		{"Your code is 482913 for a payment of $4821.00", "4821", "decimal number or amount"},
		{"Your code is 482913 for a payment of USD 4821", "4821", "money amount"},
		{"Your code is 482913 for a payment of 4821 EUR", "4821", "money amount"},
		{"Your code is 482913 for a payment of ₹4821", "4821", "money amount"},
		{"Your code is 482913, balance 4821", "4821", "money amount"},
		{"OTP 482913 - Rs5000 debited", "Rs5000", "money amount"},
		{"Your code is 482913, rates up 4821%", "4821", "percentage"},
		{"Your code is 482913 for card ending 4421", "4421", "card or account fragment"},
		{"Your code is 482913 for card ****4421", "4421", "card or account fragment"},
		{"Your code is 482913 for a/c XX4421", "XX4421", "card or account fragment"},
		{"OTP sent to 98XXXXXX21, your code is 482913", "98XXXXXX21", "card or account fragment"},
		{"Your code is 482913. Order #58213 shipped", "58213", "order/invoice/tracking"},
		{"58213 is your tracking number; your code is 482913", "58213", "order/invoice/tracking"},
		{"Your code is 482913. Ticket No. 58213", "58213", "order/invoice/tracking"},
		{"Your code is 482913. Ref No. 58213", "58213", "order/invoice/tracking"},
		{"Your code is 482913. No. 58213", "58213", "reference/ID number"},
		{"Your code is 482913. Springfield, IL 62701", "62701", "postcode"},
		{"Your code is 482913. Musterweg 5, 80331 München", "80331", "postcode"},
		{"Your code is 482913. Damstraat 1, 1012 AB Amsterdam", "1012", "postcode"},
		{"Your code is 482913. London SW1A 2AA", "SW1A", "postcode"},
		{"Your code is 482913. ZIP 94107", "94107", "postcode"},
		{"认证码 482913 〒100-0001", "0001", "postcode"},
		{"Your code is 482913. Visit 2000 Main St", "2000", "street address"},
		{"Your code is 482913. Suite 4021", "4021", "street address"},
		{"Your code is 482913. Login from 192.168.100.254", "", ""},
		{"Your code is 482913. Open https://ex.am/v/551902", "551902", "part of a URL"},
		{"Your code is 482913. Open example.com/v/551902", "551902", "part of a URL"},
		{"Your code is 482913. Mail user5519@example.com", "", ""},
		{"Your code is 482913. Promo code WINTER25", "WINTER25", "promo or discount code"},
		{"Your code is 482913. Use SAVE4821 for 20% off", "SAVE4821", "promo or discount code"},
		{"Your code is 482913. You have 2500 points", "2500", "quantity with a unit"},
		{"Your code is 482913. 100MB left", "", ""},
		{"Your code is 482913. © 2026 Example", "2026", "copyright"},
		{"Your code is 482913. Booking ref QX72PA", "QX72PA", "order/invoice/tracking"},
		{"Your code is 482913. Booking QX72PA confirmed", "QX72PA", "booking reference"},
		{"Your code is 482913. Use version 4.2, build 4821", "4821", "order/invoice/tracking"},
		{"Your code is 482913. Founded 1000 years ago: 5000 users", "5000", "quantity with a unit"},
	}
	for _, tt := range tests {
		r, err := Extract(Message{Source: "sms", Sender: "Example", Text: tt.text})
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != "482913" {
			t.Errorf("%q: code %q, want 482913", tt.text, r.Code)
		}
		if tt.cand == "" {
			continue
		}
		c := findCand(r, tt.cand)
		if c == nil {
			t.Errorf("%q: no candidate %q in %+v", tt.text, tt.cand, r.Candidates)
			continue
		}
		if !hasReason(c, tt.reason) {
			t.Errorf("%q: candidate %q reasons %q lack %q", tt.text, tt.cand, c.Reasons, tt.reason)
		}
		if c.Score >= Threshold {
			t.Errorf("%q: candidate %q scored %v", tt.text, tt.cand, c.Score)
		}
	}
	// Sender's own number.
	r, _ := Extract(Message{Source: "sms", Sender: "+1 415-555-0142", Text: "Your code is 482913. Reply to 4155550142"})
	if c := findCand(r, "4155550142"); c == nil || !hasReason(c, "sender's own number") {
		t.Errorf("sender number not penalised: %+v", r.Candidates)
	}
}

// TestNoCode: messages with no code give Code "" and a nil error.
func TestNoCode(t *testing.T) {
	for _, s := range []string{
		"", "   ", "Hello", "123456", "Your code has expired",
		"Order 123456 shipped", "Call 555-123-4567", "Balance: $1,234.56",
		"Use promo code SAVE20 for 20% off",
	} {
		r, err := Extract(Message{Source: "sms", Text: s})
		if err != nil || r.Code != "" || r.Confidence != 0 {
			t.Errorf("%q: got %q %v %v", s, r.Code, r.Confidence, err)
		}
	}
}

// TestTieBreak: equal scores go to the code seen more often, then to the
// first one.
func TestTieBreak(t *testing.T) {
	r, _ := Extract(Message{Source: "sms", Text: "Code 111222 or code 333444"})
	if r.Code != "111222" {
		t.Errorf("first of equal candidates: got %q (%+v)", r.Code, r.Candidates)
	}
	r, _ = Extract(Message{Source: "sms", Subject: "Code 333444", Text: "Code 111222 or code 333444"})
	if r.Code != "333444" {
		t.Errorf("repeated candidate: got %q (%+v)", r.Code, r.Candidates)
	}
	if r.Confidence <= 0 || r.Confidence > 1 {
		t.Errorf("confidence %v", r.Confidence)
	}
}

func TestOriginBoundWinsOutright(t *testing.T) {
	r, _ := Extract(Message{Source: "sms", Text: "Your code is 111111.\n\n@login.example.com #482913 $example.org"})
	if r.Code != "482913" || r.Domain != "login.example.com" || r.Confidence != 1 {
		t.Errorf("got %+v", r)
	}
	// A malformed origin line is ignored.
	r, _ = Extract(Message{Source: "sms", Text: "Your code is 111111.\n\n@nodot #482913"})
	if r.Code != "111111" || r.Domain != "" {
		t.Errorf("got %+v", r)
	}
}

func TestHTMLUsedAlongsideText(t *testing.T) {
	r, _ := Extract(Message{Source: "email", Subject: "Sign in", Text: "View this email in your browser.", HTML: "<p>Your code:</p><h1>482913</h1>"})
	if r.Code != "482913" {
		t.Errorf("got %+v", r)
	}
}

func TestExtractTooLarge(t *testing.T) {
	_, err := Extract(Message{Text: strings.Repeat("a", MaxTextSize+1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v", err)
	}
}

func TestResultJSON(t *testing.T) {
	b, _ := json.Marshal(Result{})
	if string(b) != `{"code":null,"confidence":0,"candidates":[]}` {
		t.Errorf("empty result JSON %s", b)
	}
	r, _ := Extract(Message{Source: "sms", Text: "Your code is 482913\n\n@example.com #482913"})
	b, _ = json.Marshal(r)
	var back struct {
		Code       *string `json:"code"`
		Confidence float64 `json:"confidence"`
		Domain     string  `json:"domain"`
		Candidates []struct {
			Code, Raw string
			Score     float64
			Reasons   []string
		} `json:"candidates"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Code == nil || *back.Code != "482913" || back.Domain != "example.com" || len(back.Candidates) == 0 || back.Candidates[0].Reasons == nil {
		t.Errorf("JSON %s", b)
	}
}

func TestExtractDeterministic(t *testing.T) {
	m := Message{Source: "sms", Text: "Code 111222 or code 333444 or 555666 is your code"}
	first, _ := Extract(m)
	a, _ := json.Marshal(first)
	for i := 0; i < 20; i++ {
		r, _ := Extract(m)
		b, _ := json.Marshal(r)
		if string(a) != string(b) {
			t.Fatalf("non-deterministic: %s vs %s", a, b)
		}
	}
}

func TestExtractConcurrent(t *testing.T) {
	cases := loadCorpus(t)
	done := make(chan bool)
	for w := 0; w < 4; w++ {
		go func() {
			for _, c := range cases {
				if _, err := runCase(c); err != nil {
					t.Error(err)
				}
			}
			done <- true
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}

// A combining mark with no letter before it must not glue onto digits
// (found by FuzzParseEmail: "\u09c00000" became the code "ী0000").
func TestCombiningMarkNotInCode(t *testing.T) {
	for _, s := range []string{"Your code is \u09c04821", "Your code is 4821\u0301", "Your code is \u20e34821"} {
		r, _ := Extract(Message{Source: "sms", Text: s})
		if r.Code != "4821" {
			t.Errorf("%q: code %q", s, r.Code)
		}
		checkResult(t, r)
	}
}

// TestKeywordMemoSameResult checks that the per-document word memo of
// findKeywords changes nothing: every corpus text, alone and all of them
// joined into one long text, gives the same occurrences and masks with and
// without it.
func TestKeywordMemoSameResult(t *testing.T) {
	var all strings.Builder
	check := func(name, text string) {
		d := tokenize(text)
		o1, m1 := d.findKeywordsMemo(false)
		o2, m2 := d.findKeywordsMemo(true)
		if !reflect.DeepEqual(o1, o2) || !reflect.DeepEqual(m1, m2) {
			t.Errorf("%s: keyword occurrences differ with the word memo", name)
		}
	}
	for _, c := range loadCorpus(t) {
		text := c.Text
		if c.Source == "email" {
			if e, err := ParseEmail([]byte(c.Text)); err == nil {
				text = assemble(e.Message)
			}
		}
		check(c.ID, text)
		all.WriteString(text)
		all.WriteString("\n\n")
	}
	check("whole corpus", all.String())
}

// TestDigitCountSaturates: a token's digit count stops at 65535; a number
// that long is no code, and nor is one of 65,536 or more digits.
func TestDigitCountSaturates(t *testing.T) {
	for _, n := range []int{65535, 65536, 70000} {
		d := tokenize(strings.Repeat("7", n))
		if len(d.toks) != 1 || d.toks[0].ndig != 65535 || int(d.toks[0].nrunes) != n {
			t.Fatalf("%d digits: tokens %d, ndig %d", n, len(d.toks), d.toks[0].ndig)
		}
		r, err := Extract(Message{Source: "sms", Text: "Your code: " + strings.Repeat("7", n) + " or 7777-7777"})
		if err != nil || r.Code != "77777777" {
			t.Fatalf("%d digits: got %q %v, want the dashed code 77777777", n, r.Code, err)
		}
	}
}
