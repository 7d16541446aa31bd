package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/agentotp/agentotp/client"
)

// TestSubjectHoldsNoCodeBeforeConsume (issue 13, item 1): a code written
// with separators in the subject and without them in the body, or the
// reverse, must not come back in GET /v1/otp/{id} before consume, however
// the subject spaces or punctuates it. The agent still consumes the code.
func TestSubjectHoldsNoCodeBeforeConsume(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("a", false)
	src, _ := h.source("generic")
	cases := []struct{ subject, body, code string }{
		{"Code: ABC-DEF", "Your verification code is ABCDEF", "ABCDEF"},
		{"Your code AB 12 CD", "Your verification code is AB12CD", "AB12CD"},
		{"K X Q Z P T is your code", "Your verification code is KXQZPT", "KXQZPT"},
		{"Code ABCDEF", "Your verification code is ABC-DEF", "ABCDEF"},
		{"Your code: 482\u00a0913", "Your verification code is 482913.", "482913"},
		{"Code 48\u200b29\u200b13", "Enter 482913 to sign in.", "482913"},
	}
	for _, c := range cases {
		pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
		if err != nil {
			t.Fatal(err)
		}
		req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "subject", PublicKey: client.ExportPublicKey(pub)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.owner.Approve(ctx, req.ID); err != nil {
			t.Fatal(err)
		}
		if res, err := src.Send(ctx, client.Message{Source: "email", Sender: "Acme <no-reply@acme.com>", Subject: c.subject, Text: c.body}); err != nil || !res.Matched {
			t.Fatalf("%q: ingest %+v %v", c.subject, res, err)
		}
		status, body, _ := h.call(http.MethodGet, "/v1/otp/"+req.ID, na.APIKey, "", nil)
		if status != http.StatusOK {
			t.Fatalf("%q: GET %d %s", c.subject, status, body)
		}
		var got struct {
			Status   string `json:"status"`
			Metadata *struct {
				Subject string `json:"subject"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(body, &got); err != nil || got.Status != "otp_received" || got.Metadata == nil {
			t.Fatalf("%q: %s (%v)", c.subject, body, err)
		}
		if strings.Contains(string(body), c.code) || strings.Contains(alnumLower(got.Metadata.Subject), strings.ToLower(c.code)) {
			t.Errorf("%q: GET before consume holds the code: subject %q", c.subject, got.Metadata.Subject)
		}
		if out, err := agent.ConsumeOTP(ctx, req.ID, priv); err != nil || out.Code != c.code {
			t.Fatalf("%q: consume %+v %v", c.subject, out, err)
		}
	}
}

// alnumLower keeps the letters and digits of s, lower-cased.
func alnumLower(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}
