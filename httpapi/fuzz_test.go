package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/agentotp/agentotp/httpapi"
)

// FuzzIngestMessage posts arbitrary bodies, as JSON and as raw email, to
// POST /v1/messages on a real relay: every answer is 202 or a 4xx
// problem document, never a 5xx or a dropped connection.
func FuzzIngestMessage(f *testing.F) {
	h := newHarness(f, func(c *httpapi.Config) { c.SourceRate, c.SourceBurst = 1<<30, 1<<30 })
	_, token := h.source("generic")
	seeds := []struct {
		body string
		raw  bool
	}{
		{`{"source":"sms","sender":"ACME","text":"Your code is 123456"}`, false},
		{`{"source":"email","sender":"a@b.c","subject":"Code","html":"<b>123456</b>","external_id":"x1"}`, false},
		{`{"source":"sms","sender":"X","text":"hi","received_at":"2026-01-01T00:00:00Z"}`, false},
		{`{"source":`, false},
		{`[]`, false},
		{"From: Acme <a@acme.com>\r\nSubject: Your code\r\n\r\nCode: 123456\r\n", true},
		{"From: a@b\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>654321</p>\r\n--x--\r\n", true},
		{"\x00\x01garbage", true},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.raw)
	}
	f.Fuzz(func(t *testing.T, body []byte, raw bool) {
		ct := "application/json"
		if raw {
			ct = "message/rfc822"
		}
		req, _ := http.NewRequest("POST", h.srv.URL+"/v1/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusAccepted:
			var res struct {
				MessageID string `json:"message_id"`
			}
			if json.Unmarshal(b, &res) != nil || res.MessageID == "" {
				t.Fatalf("202 without a message id: %s", b)
			}
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			var p struct{ Code string }
			if json.Unmarshal(b, &p) != nil || p.Code == "" {
				t.Fatalf("%d without a problem code: %s", resp.StatusCode, b)
			}
		default:
			t.Fatalf("status %d for %q: %s", resp.StatusCode, body, b)
		}
	})
}
