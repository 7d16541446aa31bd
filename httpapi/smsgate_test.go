package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/smsgate"
)

// gateBody is an sms:received webhook body as the android-sms-gateway app
// sends it.
func gateBody(id, phone, text string) []byte {
	b, _ := json.Marshal(map[string]any{
		"deviceId": "ffffffffceb0b1db0000018e937c815b", "event": "sms:received", "id": id, "webhookId": "LreFUt-Z3sSq0JufY9uWB",
		"payload": map[string]any{"messageId": "abc123", "message": text, "phoneNumber": phone, "simNumber": 1,
			"receivedAt": time.Now().Format("2006-01-02T15:04:05.000-07:00")},
	})
	return b
}

// postGate posts a webhook signed with key at ts ("" headers are left out).
func (h *harness) postGate(query string, body []byte, key, ts string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/ingest/sms-gate"+query, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set("X-Timestamp", ts)
	}
	if key != "" {
		req.Header.Set("X-Signature", smsgate.Sign([]byte(key), body, ts))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (h *harness) unixNow() string { return strconv.FormatInt(h.clock.Now().Unix(), 10) }

// waitingRequest makes an approved request for an SMS from the sender
// pattern and returns it with its private key.
func (h *harness) waitingRequest(ctx context.Context, agent *client.Client, pattern string) (*client.OTPRequest, *client.PrivateKey) {
	h.t.Helper()
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		h.t.Fatal(err)
	}
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "log in", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: pattern}})
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.owner.Approve(ctx, req.ID); err != nil {
		h.t.Fatal(err)
	}
	return req, priv
}

// TestSMSGateEndToEnd: a signed sms:received webhook → the agent's
// waiting request gets otp_received → consume → decrypt → the right
// code; with the source named in the URL and without.
func TestSMSGateEndToEnd(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("source in URL %v", named), func(t *testing.T) {
			h := newHarness(t)
			ctx := ctxT(t)
			agent, _ := h.agent("bot", false)
			h.source("sms") // another SMS source, whose key does not sign
			n, err := h.owner.CreateSource(ctx, "phone", "sms")
			if err != nil {
				t.Fatal(err)
			}
			req, priv := h.waitingRequest(ctx, agent, "+1555*")
			done := make(chan *client.OTPRequest, 1)
			go func() {
				r, _ := agent.WaitForOTP(ctx, req.ID, 20*time.Second)
				done <- r
			}()
			query := ""
			if named {
				query = "?source=" + n.Source.ID
			}
			status, b := h.postGate(query, gateBody("evt-1", "+15551234567", "Your Acme code is 604918"), n.Token, h.unixNow())
			if status != 202 || !strings.Contains(string(b), `"matched":true`) {
				t.Fatalf("webhook: %d %s", status, b)
			}
			if bytes.Contains(b, []byte("604918")) {
				t.Fatal("the answer echoes the code")
			}
			r := <-done
			if r == nil || r.Status != client.StatusOTPReceived || r.Metadata == nil || r.Metadata.Sender != "+15551234567" || r.Metadata.Source != "sms" {
				t.Fatalf("waited: %+v", r)
			}
			out, err := agent.ConsumeOTP(ctx, req.ID, priv)
			if err != nil || out.Code != "604918" {
				t.Fatalf("consume: %+v %v", out, err)
			}
		})
	}
}

// TestSMSGateRefusals: every bad webhook is refused with a clear error
// and changes nothing; a replayed id and other events are acknowledged
// (the gateway retries on any non-2xx) and change nothing either.
func TestSMSGateRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("bot", false)
	phone, err := h.owner.CreateSource(ctx, "phone", "sms")
	if err != nil {
		t.Fatal(err)
	}
	revoked, _ := h.owner.CreateSource(ctx, "old phone", "sms")
	if _, err := h.owner.RevokeSource(ctx, revoked.Source.ID); err != nil {
		t.Fatal(err)
	}
	_, emailToken := h.source("email")
	req, _ := h.waitingRequest(ctx, agent, "+1555*")
	good := gateBody("evt-good", "+15550000000", "Your code is 112233")
	now := h.unixNow()
	stale := strconv.FormatInt(h.clock.Now().Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(h.clock.Now().Add(6*time.Minute).Unix(), 10)

	tests := []struct {
		name   string
		query  string
		body   []byte
		key    string
		ts     string
		status int
		code   string
	}{
		{"unsigned", "", good, "", "", 401, agentotp.EAuthentication},
		{"no timestamp", "", good, phone.Token, "", 401, agentotp.EAuthentication},
		{"bad signature", "", good, "sk_not_the_token", now, 401, agentotp.EAuthentication},
		{"stale timestamp", "", good, phone.Token, stale, 401, agentotp.EAuthentication},
		{"future timestamp", "", good, phone.Token, future, 401, agentotp.EAuthentication},
		{"milliseconds timestamp", "", good, phone.Token, now + "000", 401, agentotp.EAuthentication},
		{"unknown source", "?source=src_unknown", good, phone.Token, now, 401, agentotp.EAuthentication},
		{"revoked source", "", good, revoked.Token, now, 401, agentotp.EAuthentication},
		{"email source token", "", good, emailToken, now, 401, agentotp.EAuthentication},
		{"malformed JSON", "", []byte(`{"event":"sms:received","id":`), phone.Token, now, 422, agentotp.EValidation},
		{"no message", "", []byte(`{"event":"sms:received","id":"e2","payload":{"phoneNumber":"+1555"}}`), phone.Token, now, 422, agentotp.EValidation},
		{"no id", "", []byte(`{"event":"sms:received","payload":{"phoneNumber":"+1555","message":"code 112233"}}`), phone.Token, now, 422, agentotp.EValidation},
		{"too large", "", bytes.Repeat([]byte("x"), smsgate.MaxBody+1), phone.Token, now, 413, agentotp.ETooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b := h.postGate(tt.query, tt.body, tt.key, tt.ts)
			if status != tt.status {
				t.Fatalf("status %d; want %d: %s", status, tt.status, b)
			}
			if p := decodeProblem(t, b); p.Code != tt.code || p.Message == "" {
				t.Fatalf("problem %+v; want code %s", p, tt.code)
			}
		})
	}
	if r, _ := agent.GetOTPStatus(ctx, req.ID); r.Status != client.StatusApproved {
		t.Fatalf("after refused webhooks the request is %s", r.Status)
	}

	t.Run("other events are acknowledged and ignored", func(t *testing.T) {
		for _, ev := range []string{"sms:sent", "sms:delivered", "system:ping"} {
			body := []byte(`{"event":"` + ev + `","id":"x-` + ev + `","payload":{"messageId":"m","phoneNumber":"+15550000000"}}`)
			status, b := h.postGate("", body, phone.Token, h.unixNow())
			if status != 200 || !strings.Contains(string(b), `"ignored":true`) {
				t.Fatalf("%s: %d %s", ev, status, b)
			}
		}
	})

	t.Run("an SMS the phone received long before is not matched", func(t *testing.T) {
		old, _ := json.Marshal(map[string]any{"event": "sms:received", "id": "evt-old",
			"payload": map[string]any{"message": "Your code is 998877", "phoneNumber": "+15550000000", "receivedAt": h.clock.Now().Add(-10 * time.Minute).Format(time.RFC3339)}})
		status, b := h.postGate("", old, phone.Token, h.unixNow())
		if status != 202 || !strings.Contains(string(b), `"matched":false`) {
			t.Fatalf("old SMS: %d %s", status, b)
		}
	})

	t.Run("replayed id", func(t *testing.T) {
		second, _ := h.waitingRequest(ctx, agent, "+1555*")
		status, b := h.postGate("", good, phone.Token, h.unixNow())
		if status != 202 || !strings.Contains(string(b), `"matched":true`) {
			t.Fatalf("first delivery: %d %s", status, b)
		}
		for range 3 { // the gateway's retries, re-signed each time
			status, b = h.postGate("", good, phone.Token, h.unixNow())
			if status != 202 || !strings.Contains(string(b), `"duplicate":true`) || strings.Contains(string(b), `"matched":true`) {
				t.Fatalf("replay: %d %s", status, b)
			}
		}
		first, _ := agent.GetOTPStatus(ctx, req.ID)
		other, _ := agent.GetOTPStatus(ctx, second.ID)
		if first.Status != client.StatusOTPReceived || other.Status != client.StatusApproved {
			t.Fatalf("after replays: first %s, second %s; want otp_received, approved", first.Status, other.Status)
		}
	})
}

// BenchmarkSMSGateWebhook measures one signed sms:received webhook from
// arrival to answer: signature check against the source's sealed token,
// parsing, de-duplication record, extraction and matching (no request
// waits). The gateway retries on any non-2xx, so this is how quickly it
// gets its answer.
//
//	go test ./httpapi -run '^$' -bench SMSGateWebhook -benchtime 500x
func BenchmarkSMSGateWebhook(b *testing.B) {
	h := newHarness(b, func(c *httpapi.Config) { c.SourceRate = 0 })
	n, err := h.owner.CreateSource(context.Background(), "phone", "sms")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		status, out := h.postGate("?source="+n.Source.ID, gateBody(fmt.Sprintf("evt-%d", i), "+15551234567", "Your Acme code is 604918"), n.Token, h.unixNow())
		if status != 202 {
			b.Fatalf("%d %s", status, out)
		}
	}
}
