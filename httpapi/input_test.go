package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
)

// TestBadInput: every bad input gets a 4xx problem+json with the right
// code, and nothing is written.
func TestBadInput(t *testing.T) {
	h := newHarness(t, generous)
	ctx := context.Background()
	_, na := h.agent("a", false)
	_, srcToken := h.source("sms")
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	rsaPub, _, _ := client.GenerateKeyPair(client.RSAOAEP256)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	key := client.ExportPublicKey(pub)
	body := func(extra string) string {
		return `{"reason":"sign up","public_key":"` + key + `"` + extra + `}`
	}
	const (
		agent  = "agent"
		source = "source"
		owner  = "owner"
	)
	tests := []struct {
		name, who, method, path, ctype, body string
		status                               int
		code, field                          string
	}{
		{"malformed JSON", agent, "POST", "/v1/otp/request", "application/json", `{"reason":`, 422, "VALIDATION_ERROR", ""},
		{"not an object", agent, "POST", "/v1/otp/request", "application/json", `[1,2]`, 422, "VALIDATION_ERROR", ""},
		{"empty body", agent, "POST", "/v1/otp/request", "application/json", ``, 422, "VALIDATION_ERROR", ""},
		{"trailing data", agent, "POST", "/v1/otp/request", "application/json", body("") + `{}`, 422, "VALIDATION_ERROR", ""},
		{"unknown field", agent, "POST", "/v1/otp/request", "application/json", body(`,"wait_for_otp":true`), 422, "VALIDATION_ERROR", "wait_for_otp"},
		{"unknown filter field", agent, "POST", "/v1/otp/request", "application/json", body(`,"filter":{"from":"x"}`), 422, "VALIDATION_ERROR", "from"},
		{"wrong type", agent, "POST", "/v1/otp/request", "application/json", body(`,"ttl":"300"`), 422, "VALIDATION_ERROR", "ttl"},
		{"missing reason", agent, "POST", "/v1/otp/request", "application/json", `{"public_key":"` + key + `"}`, 422, "VALIDATION_ERROR", "reason"},
		{"long reason", agent, "POST", "/v1/otp/request", "application/json", `{"reason":"` + strings.Repeat("x", 501) + `","public_key":"` + key + `"}`, 422, "VALIDATION_ERROR", "reason"},
		{"missing key", agent, "POST", "/v1/otp/request", "application/json", `{"reason":"x"}`, 422, "VALIDATION_ERROR", "public_key"},
		{"bad base64 key", agent, "POST", "/v1/otp/request", "application/json", `{"reason":"x","public_key":"%%%"}`, 422, "VALIDATION_ERROR", "public_key"},
		{"garbage key", agent, "POST", "/v1/otp/request", "application/json", `{"reason":"x","public_key":"` + base64.StdEncoding.EncodeToString([]byte("not a key at all")) + `"}`, 422, "VALIDATION_ERROR", "public_key"},
		{"RSA 1024", agent, "POST", "/v1/otp/request", "application/json", `{"reason":"x","public_key":"` + base64.StdEncoding.EncodeToString(smallDER) + `"}`, 422, "VALIDATION_ERROR", "public_key"},
		{"ttl low", agent, "POST", "/v1/otp/request", "application/json", body(`,"ttl":59`), 422, "VALIDATION_ERROR", "ttl"},
		{"ttl high", agent, "POST", "/v1/otp/request", "application/json", body(`,"ttl":3601`), 422, "VALIDATION_ERROR", "ttl"},
		{"ttl negative", agent, "POST", "/v1/otp/request", "application/json", body(`,"ttl":-5`), 422, "VALIDATION_ERROR", "ttl"},
		{"bad glob", agent, "POST", "/v1/otp/request", "application/json", body(`,"filter":{"sender_pattern":"` + strings.Repeat("a", 256) + `"}`), 422, "VALIDATION_ERROR", "filter.sender_pattern"},
		{"bad regex", agent, "POST", "/v1/otp/request", "application/json", body(`,"filter":{"content_pattern":"(["}`), 422, "VALIDATION_ERROR", "filter.content_pattern"},
		{"regex too complex", agent, "POST", "/v1/otp/request", "application/json", body(`,"filter":{"content_pattern":"` + strings.Repeat(`([^Z]{0,1000})`, 35) + `Z"}`), 422, "VALIDATION_ERROR", "filter.content_pattern"},
		{"bidi override in reason", agent, "POST", "/v1/otp/request", "application/json", `{"reason":"Log in to \u202emoc.emca","public_key":"` + key + `"}`, 422, "VALIDATION_ERROR", "reason"},
		{"bad source", agent, "POST", "/v1/otp/request", "application/json", body(`,"filter":{"sources":["fax"]}`), 422, "VALIDATION_ERROR", "filter.sources[0]"},
		{"bad received_after", agent, "POST", "/v1/otp/request", "application/json", body(`,"filter":{"received_after":"yesterday"}`), 422, "VALIDATION_ERROR", ""},
		{"bad webhook", agent, "POST", "/v1/otp/request", "application/json", body(`,"webhook_url":"ftp://x"`), 422, "VALIDATION_ERROR", "webhook_url"},
		{"include_message with RSA", agent, "POST", "/v1/otp/request", "application/json", `{"reason":"x","include_message":true,"public_key":"` + client.ExportPublicKey(rsaPub) + `"}`, 422, "VALIDATION_ERROR", "include_message"},
		{"oversize body", agent, "POST", "/v1/otp/request", "application/json", body(`,"expected_sender":"` + strings.Repeat("x", 70<<10) + `"`), 413, "PAYLOAD_TOO_LARGE", ""},
		{"wrong media type", agent, "POST", "/v1/otp/request", "text/plain", body(""), 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"wait zero", agent, "GET", "/v1/otp/otp_x?wait=0", "", "", 422, "VALIDATION_ERROR", "wait"},
		{"wait too long", agent, "GET", "/v1/otp/otp_x?wait=56", "", "", 422, "VALIDATION_ERROR", "wait"},
		{"wait not a number", agent, "GET", "/v1/otp/otp_x?wait=soon", "", "", 422, "VALIDATION_ERROR", "wait"},
		{"unknown request", agent, "GET", "/v1/otp/otp_nope", "", "", 404, "OTP_NOT_FOUND", ""},
		{"consume unknown", agent, "POST", "/v1/otp/otp_nope/consume", "", "", 404, "OTP_NOT_FOUND", ""},
		{"live key posts a test message", agent, "POST", "/v1/test/messages", "application/json", `{"source":"sms","sender":"X","text":"code 123456"}`, 403, "FORBIDDEN", ""},
		{"message bad source", source, "POST", "/v1/messages", "application/json", `{"source":"fax","sender":"X","text":"code 123456"}`, 422, "VALIDATION_ERROR", "source"},
		{"message no sender", source, "POST", "/v1/messages", "application/json", `{"source":"sms","text":"code 123456"}`, 422, "VALIDATION_ERROR", "sender"},
		{"message no text", source, "POST", "/v1/messages", "application/json", `{"source":"sms","sender":"X"}`, 422, "VALIDATION_ERROR", "text"},
		{"message unknown field", source, "POST", "/v1/messages", "application/json", `{"source":"sms","sender":"X","text":"a","body":"b"}`, 422, "VALIDATION_ERROR", "body"},
		{"message email to sms source", source, "POST", "/v1/messages", "application/json", `{"source":"email","sender":"a@b.c","text":"code 123456"}`, 422, "VALIDATION_ERROR", "source"},
		{"message malformed JSON", source, "POST", "/v1/messages", "application/json", `{"source":`, 422, "VALIDATION_ERROR", ""},
		{"message oversize", source, "POST", "/v1/messages", "application/json", `{"source":"sms","sender":"X","text":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "PAYLOAD_TOO_LARGE", ""},
		{"message wrong media type", source, "POST", "/v1/messages", "text/csv", `a,b`, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"empty raw email", source, "POST", "/v1/messages", "message/rfc822", ``, 422, "VALIDATION_ERROR", ""},
		{"owner bad status", owner, "GET", "/v1/owner/requests?status=done", "", "", 422, "VALIDATION_ERROR", "status"},
		{"owner bad limit", owner, "GET", "/v1/owner/requests?limit=1000", "", "", 422, "VALIDATION_ERROR", "limit"},
		{"owner bad cursor", owner, "GET", "/v1/owner/requests?cursor=not-a-cursor!", "", "", 422, "VALIDATION_ERROR", ""},
		{"owner approve unknown", owner, "POST", "/v1/owner/requests/otp_nope/approve", "application/json", `{}`, 404, "OTP_NOT_FOUND", ""},
		{"owner deny unknown field", owner, "POST", "/v1/owner/requests/otp_nope/deny", "application/json", `{"why":"x"}`, 422, "VALIDATION_ERROR", "why"},
		{"owner agent no name", owner, "POST", "/v1/owner/agents", "application/json", `{"name":""}`, 422, "VALIDATION_ERROR", "name"},
		{"owner source bad kind", owner, "POST", "/v1/owner/sources", "application/json", `{"name":"x","kind":"pager"}`, 422, "VALIDATION_ERROR", "kind"},
		{"owner rotate long grace", owner, "POST", "/v1/owner/agents/" + na.Agent.ID + "/rotate", "application/json", `{"grace_period_seconds":999999}`, 422, "VALIDATION_ERROR", "grace_period_seconds"},
		{"owner revoke unknown", owner, "DELETE", "/v1/owner/agents/agt_nope", "", "", 404, "NOT_FOUND", ""},
		{"owner export bad format", owner, "GET", "/v1/owner/audit/export?format=xml", "", "", 422, "VALIDATION_ERROR", "format"},
		{"unknown endpoint", agent, "GET", "/v1/nothing", "", "", 404, "NOT_FOUND", ""},
		{"wrong method", agent, "PUT", "/v1/otp/otp_x", "", "", 405, "METHOD_NOT_ALLOWED", ""},
		{"wrong method on consume", agent, "GET", "/v1/otp/otp_x/consume", "", "", 405, "METHOD_NOT_ALLOWED", ""},
	}
	countRows := func() (int, int) {
		rs, _, err := h.store.ListRequests(ctx, agentotp.RequestQuery{OwnerID: ownerID(t, h), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		es, err := h.store.ListAudit(ctx, agentotp.AuditQuery{OwnerID: ownerID(t, h)})
		if err != nil {
			t.Fatal(err)
		}
		return len(rs), len(es)
	}
	reqs0, audit0 := countRows()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := map[string]string{agent: na.APIKey, source: srcToken, owner: h.ownerToken}[tt.who]
			status, b, hdr := h.call(tt.method, tt.path, tok, tt.ctype, []byte(tt.body))
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, b)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			p := decodeProblem(t, b)
			if p.Code != tt.code || p.Status != tt.status || p.Message == "" || p.Detail != p.Message {
				t.Fatalf("problem %+v, want code %s", p, tt.code)
			}
			if tt.field != "" {
				found := false
				for _, f := range p.Errors {
					found = found || f.Field == tt.field
				}
				if !found {
					t.Fatalf("errors %+v do not name %s", p.Errors, tt.field)
				}
			}
		})
	}
	if reqs, audit := countRows(); reqs != reqs0 || audit != audit0 {
		t.Fatalf("bad input wrote rows: requests %d→%d, audit %d→%d", reqs0, reqs, audit0, audit)
	}
}

func ownerID(t *testing.T, h *harness) string {
	t.Helper()
	os, err := h.store.ListOwners(context.Background())
	if err != nil || len(os) != 1 {
		t.Fatalf("owners: %v %v", os, err)
	}
	return os[0].ID
}

// TestProblemShape checks the RFC 9457 members of one error in full.
func TestProblemShape(t *testing.T) {
	h := newHarness(t)
	_, na := h.agent("a", false)
	status, b, _ := h.call("POST", "/v1/otp/request", na.APIKey, "application/json", []byte(`{"reason":"x","public_key":"abc","ttl":5}`))
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil || status != 422 {
		t.Fatalf("%d %s", status, b)
	}
	for _, k := range []string{"type", "title", "status", "detail", "code", "message", "errors", "instance"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, b)
		}
	}
	if errs := doc["errors"].([]any); len(errs) != 2 {
		t.Errorf("want errors for public_key and ttl, got %v", errs)
	}
}

// TestMethodNotAllowed: a known path with the wrong method is 405 with
// an Allow header naming the methods that exist.
func TestMethodNotAllowed(t *testing.T) {
	h := newHarness(t)
	for path, want := range map[string]string{
		"/v1/otp/otp_x":         "GET, DELETE",
		"/v1/otp/otp_x/consume": "POST",
		"/v1/owner/agents":      "GET, POST",
		"/v1/otp/request":       "POST", // not GET or DELETE /v1/otp/{id}
		"/v1/owner/settings":    "GET, PUT",
	} {
		status, body, hdr := h.call("PATCH", path, "", "", nil)
		if status != 405 || hdr.Get("Allow") != want || decodeProblem(t, body).Code != "METHOD_NOT_ALLOWED" {
			t.Errorf("PATCH %s: %d Allow %q %s", path, status, hdr.Get("Allow"), body)
		}
	}
}
