package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
)

// call makes a raw HTTP call and returns status, body and headers.
func (h *harness) call(method, path, token, contentType string, body []byte) (int, []byte, http.Header) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

type problemDoc struct {
	Type       string                `json:"type"`
	Status     int                   `json:"status"`
	Code       string                `json:"code"`
	Message    string                `json:"message"`
	Detail     string                `json:"detail"`
	Errors     []agentotp.FieldError `json:"errors"`
	RetryAfter int                   `json:"retry_after"`
	DenyReason string                `json:"deny_reason"`
}

func decodeProblem(t *testing.T, b []byte) problemDoc {
	t.Helper()
	var p problemDoc
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a problem document: %s", b)
	}
	return p
}

var algorithms = []client.Algorithm{client.RSAOAEP256, client.HPKEX25519, client.HPKEMLKEM768X25519}

// TestLifecycle runs the whole life of a request over real HTTP for each
// key kind: request, long-poll, approve, ingest, consume, decrypt. The RSA
// ciphertext is also decrypted by openssl.
func TestLifecycle(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			h := newHarness(t)
			ctx := ctxT(t)
			agent, na := h.agent("signup-bot", false)
			src, _ := h.source("sms")
			pub, priv, err := client.GenerateKeyPair(alg)
			if err != nil {
				t.Fatal(err)
			}
			req, err := agent.RequestOTP(ctx, client.RequestOptions{
				Reason: "Sign up for Acme", ExpectedSender: "Acme", PublicKey: client.ExportPublicKeyPlain(pub), // the guide's plain RSA form, which openssl opens below
				Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: "ACME*"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if req.Status != client.StatusPendingApproval || req.Encryption != alg || req.PublicKeyFingerprint != pub.Fingerprint() {
				t.Fatalf("created: %+v", req)
			}
			if req.ApprovalURL != h.srv.URL+"/r/"+req.ID {
				t.Errorf("approval_url = %q", req.ApprovalURL)
			}
			type result struct {
				r   *client.OTPRequest
				err error
			}
			waited := make(chan result, 1)
			go func() {
				r, err := agent.WaitForOTP(ctx, req.ID, 30*time.Second)
				waited <- result{r, err}
			}()
			if _, err := h.owner.Approve(ctx, req.ID); err != nil {
				t.Fatal(err)
			}
			res, err := src.Send(ctx, client.Message{Source: "sms", Sender: "ACME", Text: "Your Acme verification code is 483920. It expires in 10 minutes."})
			if err != nil || !res.Matched {
				t.Fatalf("ingest: %+v %v", res, err)
			}
			w := <-waited
			if w.err != nil || w.r.Status != client.StatusOTPReceived {
				t.Fatalf("wait: %+v %v", w.r, w.err)
			}
			if w.r.Metadata == nil || w.r.Metadata.Sender != "ACME" || w.r.Metadata.Source != "sms" {
				t.Fatalf("metadata: %+v", w.r.Metadata)
			}
			if alg == client.RSAOAEP256 {
				status, body, _ := h.call("POST", "/v1/otp/"+req.ID+"/consume", na.APIKey, "", nil)
				if status != 200 {
					t.Fatalf("consume: %d %s", status, body)
				}
				var c struct {
					ID               string `json:"id"`
					Encryption       string `json:"encryption"`
					EncryptedPayload string `json:"encrypted_payload"`
				}
				json.Unmarshal(body, &c)
				code, err := client.DecryptOTPPayload(priv, req.ID, c.EncryptedPayload)
				if err != nil || code != "483920" {
					t.Fatalf("decrypt: %q %v", code, err)
				}
				if got := opensslDecrypt(t, priv, c.EncryptedPayload); got != "483920" {
					t.Fatalf("openssl decrypted %q", got)
				}
				return
			}
			out, err := agent.ConsumeOTP(ctx, req.ID, priv)
			if err != nil || out.Code != "483920" {
				t.Fatalf("consume: %+v %v", out, err)
			}
			final, err := agent.GetOTPStatus(ctx, req.ID)
			if err != nil || final.Status != client.StatusConsumed || final.ConsumedAt == nil {
				t.Fatalf("after consume: %+v %v", final, err)
			}
			if _, err := agent.ConsumeOTP(ctx, req.ID, priv); !errors.Is(err, client.ErrAlreadyConsumed) {
				t.Fatalf("second consume: %v", err)
			}
		})
	}
}

func opensslDecrypt(t *testing.T, priv *client.PrivateKey, payload string) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required in CI")
		}
		t.Skip("openssl not installed; skipping the openssl cross-check")
	}
	dir := t.TempDir()
	pemBytes, err := client.ExportPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(payload)
	os.WriteFile(filepath.Join(dir, "key.pem"), pemBytes, 0o600)
	os.WriteFile(filepath.Join(dir, "ct.bin"), ct, 0o600)
	out, err := exec.Command(bin, "pkeyutl", "-decrypt", "-inkey", filepath.Join(dir, "key.pem"), "-in", filepath.Join(dir, "ct.bin"),
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v: %s", err, out)
	}
	return string(out)
}
