package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/sqlite"
	"github.com/agentotp/agentotp/webhook"
)

// startWebhooks runs the relay's webhook worker for the examples.
func startWebhooks(store *sqlite.DB) func() {
	w := webhook.New(store, webhook.Config{AllowPrivate: true, PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}

// The webhook integration: request without waiting, with a
// webhook URL; the handler verifies the signature, and on otp_received
// consumes the code and resumes the job.
func ExampleReadWebhook() {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	secret := os.Getenv("AGENT_OTP_WEBHOOK_SECRET") // whsec_…, shown when the agent was created
	publicKey, privateKey, _ := client.GenerateKeyPair(client.HPKEX25519)
	jobDone := make(chan string, 1)

	// 2. Handle the webhook callback.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/otp", func(w http.ResponseWriter, r *http.Request) {
		event, err := client.ReadWebhook(r, secret, 5*time.Minute) // verifies the signature
		if err != nil {
			http.Error(w, "Invalid signature", http.StatusUnauthorized)
			return
		}
		switch event.Status {
		case client.StatusOTPReceived:
			res, err := otp.ConsumeOTP(r.Context(), event.RequestID, privateKey)
			if err != nil {
				jobDone <- "failed: " + err.Error()
				break
			}
			jobDone <- res.Code
		case client.StatusDenied, client.StatusExpired:
			jobDone <- "OTP " + string(event.Status)
		}
		w.WriteHeader(http.StatusOK)
	})
	agentServer := httptest.NewServer(mux)
	defer agentServer.Close()

	// 1. Request the OTP without waiting.
	_, err := otp.RequestOTP(ctx, client.RequestOptions{
		Reason:     "Signup verification",
		PublicKey:  client.ExportPublicKey(publicKey),
		WaitForOTP: false,
		WebhookURL: agentServer.URL + "/webhooks/otp",
	})
	if err != nil {
		panic(err)
	}
	code := <-jobDone
	fmt.Println("job completed with a code of", len(code), "digits")
	// Output: job completed with a code of 6 digits
}

// VerifyWebhook on a raw body and headers, as any framework hands them.
func ExampleVerifyWebhook() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"type":"otp.status","request_id":"otp_1","status":"approved","occurred_at":"2030-01-01T00:00:00Z"}`)
	sig, _ := webhook.Sign(secret, "evt_1", time.Now(), body)
	h := http.Header{}
	h.Set("webhook-id", "evt_1")
	h.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
	h.Set("webhook-signature", sig)
	fmt.Println(client.VerifyWebhook(secret, h, body, 0))
	err := client.VerifyWebhook(secret, h, []byte(`{"status":"otp_received"}`), 0)
	fmt.Println(errors.Is(err, client.ErrWebhookVerification))
	// Output:
	// <nil>
	// true
}

// createOTPMiddleware: an action that needs a code gets it
// injected; one that does not runs at once.
func ExampleWithOTP() {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	_, privateKey, _ := client.GenerateKeyPair(client.HPKEX25519)
	middleware := client.NewExecutor(otp, privateKey).Middleware()

	// In a test, play the part of Acme's mail server.
	go func() {
		time.Sleep(200 * time.Millisecond)
		otp.SendTestMessage(ctx, client.TestMessage{Source: "email", Sender: "Acme <noreply@acme.com>", Text: "Your Acme code is 482913"})
	}()
	err := middleware(ctx, client.Action{
		Type:        "signup",
		RequiresOTP: true,
		OTPReason:   "Sign up for Acme Inc",
		Filter:      &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"},
		Params:      map[string]any{"email": "user@example.com"},
	}, func(ctx context.Context, code string) error {
		fmt.Println("completing signup with", code)
		return nil
	})
	fmt.Println(err)

	_ = middleware(ctx, client.Action{Type: "browse"}, func(ctx context.Context, code string) error {
		fmt.Printf("no code needed: %q\n", code)
		return nil
	})
	// Output:
	// completing signup with 482913
	// <nil>
	// no code needed: ""
}

// SecureAgentExecutor.executeWithOTP, with its "Error
// Handling Best Practices" result object.
func ExampleExecutor_ExecuteWithOTP() {
	ctx := context.Background()
	_, privateKey, _ := client.GenerateKeyPair(client.RSAOAEP256)
	executor := client.NewExecutor(client.New(os.Getenv("AGENT_OTP_TEST_KEY")), privateKey)
	result, _ := client.OutcomeOf(executor.ExecuteWithOTP(ctx, client.Need{Reason: "signup_verification: Acme Inc", ExpectedSender: "Acme Inc"}))
	fmt.Println(result.Success, len(result.Code))

	bad := client.NewExecutor(client.New("ak_live_not-a-real-key"), privateKey)
	result, _ = client.OutcomeOf(bad.ExecuteWithOTP(ctx, client.Need{Reason: "x"}))
	fmt.Println(result.Success, result.Error)
	// Output:
	// true 6
	// false Authentication failed
}

// pollForOTP.
func ExampleExecutor_PollForOTP() {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	publicKey, privateKey, _ := client.GenerateKeyPair(client.HPKEX25519)
	request, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "Signup verification", PublicKey: client.ExportPublicKey(publicKey)})
	if err != nil {
		panic(err)
	}
	code, err := client.NewExecutor(otp, privateKey).PollForOTP(ctx, request.ID, 60, 2*time.Second)
	fmt.Println(len(code), err)
	// Output: 6 <nil>
}

// Server-Sent Events instead of long-polls: each state as it happens.
func ExampleClient_WatchOTP() {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	publicKey, privateKey, _ := client.GenerateKeyPair(client.HPKEX25519)
	request, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "Sign in to Globex", PublicKey: client.ExportPublicKey(publicKey),
		Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: "GLOBEX"}})
	if err != nil {
		panic(err)
	}
	for req, err := range otp.WatchOTP(ctx, request.ID) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(req.Status)
		if req.Status == client.StatusApproved {
			otp.SendTestMessage(ctx, client.TestMessage{Source: "sms", Sender: "GLOBEX", Text: "Globex code: 731205"})
		}
	}
	res, _ := otp.ConsumeOTP(ctx, request.ID, privateKey)
	fmt.Println(res.Code)
	// Output:
	// approved
	// otp_received
	// 731205
}

func TestWaitForOTPEvents(t *testing.T) {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "x", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{SenderPattern: "NOBODY"}})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing comes: a timeout, with the request as it stands.
	got, err := otp.WaitForOTPEvents(ctx, req.ID, 1500*time.Millisecond)
	if !errors.Is(err, client.ErrTimeout) || got == nil || got.Status != client.StatusApproved {
		t.Fatalf("timeout: %v %v", got, err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		otp.SendTestMessage(ctx, client.TestMessage{Source: "sms", Sender: "NOBODY", Text: "code 555111"})
	}()
	got, err = otp.WaitForOTPEvents(ctx, req.ID, 20*time.Second)
	if err != nil || got.Status != client.StatusOTPReceived {
		t.Fatalf("wait: %v %v", got, err)
	}
	res, err := otp.ConsumeOTP(ctx, req.ID, priv)
	if err != nil || res.Code != "555111" {
		t.Fatalf("consume: %v %v", res, err)
	}
	// A final request: the stream yields it and ends.
	got, err = otp.WaitForOTPEvents(ctx, req.ID, 5*time.Second)
	if err != nil || got.Status != client.StatusConsumed {
		t.Fatalf("final: %v %v", got, err)
	}
	// Someone else's request, or none: not found, not retried.
	if _, err := otp.WaitForOTPEvents(ctx, "otp_nope", 5*time.Second); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unknown request: %v", err)
	}
	live := client.New(os.Getenv("AGENT_OTP_API_KEY"))
	if _, err := live.WaitForOTPEvents(ctx, req.ID, 5*time.Second); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("another agent's request: %v", err)
	}
}

func TestPollForOTPEnds(t *testing.T) {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
	ex := client.NewExecutor(otp, priv)
	req, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "x", PublicKey: client.ExportPublicKey(pub), Filter: &client.Filter{SenderPattern: "NOBODY"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.PollForOTP(ctx, req.ID, 2, 10*time.Millisecond); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("out of attempts: %v", err)
	}
	if _, err := otp.CancelOTPRequest(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.PollForOTP(ctx, req.ID, 5, 10*time.Millisecond); !errors.Is(err, client.ErrCancelled) {
		t.Fatalf("cancelled: %v", err)
	}
	out, _ := client.OutcomeOf("", errors.New("boom"))
	if out.Success {
		t.Fatal("an unknown error was a success")
	}
}
