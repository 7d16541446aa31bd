package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/agentotp/agentotp/client"
)

// The integration pattern: make a key pair once per session,
// request with waitForOTP, check the status, consume, decrypt.
func Example() {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	publicKey, privateKey, err := client.GenerateKeyPair(client.RSAOAEP256)
	if err != nil {
		panic(err)
	}
	request, err := otp.RequestOTP(ctx, client.RequestOptions{
		Reason:     "signup_verification: Acme Inc",
		PublicKey:  client.ExportPublicKey(publicKey),
		WaitForOTP: true,
		Timeout:    2 * time.Minute,
	})
	if err != nil {
		panic(err)
	}
	if request.Status != client.StatusOTPReceived {
		fmt.Println("OTP request failed:", request.Status)
		return
	}
	res, err := otp.ConsumeOTP(ctx, request.ID, privateKey)
	if err != nil {
		fmt.Println("Failed to consume OTP:", err)
		return
	}
	fmt.Println("received a code of", len(res.Code), "digits")
	// Output: received a code of 6 digits
}

// SecureAgentExecutor is the executor of the TypeScript integration, in Go.
type SecureAgentExecutor struct {
	otp        *client.Client
	publicKey  *client.PublicKey
	privateKey *client.PrivateKey
}

// ExecuteWithOTP requests a code for an action and returns it.
func (e *SecureAgentExecutor) ExecuteWithOTP(ctx context.Context, action, service string, filter *client.Filter) (string, error) {
	request, err := e.otp.RequestOTP(ctx, client.RequestOptions{
		Reason:         action + ": " + service,
		ExpectedSender: service,
		Filter:         filter,
		PublicKey:      client.ExportPublicKey(e.publicKey),
		WaitForOTP:     true,
		Timeout:        120 * time.Second,
	})
	if err != nil {
		return "", err
	}
	if request.Status != client.StatusOTPReceived {
		return "", fmt.Errorf("OTP request failed: %s", request.Status)
	}
	res, err := e.otp.ConsumeOTP(ctx, request.ID, e.privateKey)
	if err != nil {
		return "", fmt.Errorf("failed to consume OTP: %w", err)
	}
	return res.Code, nil
}

// SecureAgentExecutor with a sender filter. A test key with a
// filter waits for a message that the same key posts, so the filter is
// tested end to end.
func Example_secureAgentExecutor() {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	publicKey, privateKey, _ := client.GenerateKeyPair(client.HPKEX25519)
	executor := &SecureAgentExecutor{otp: otp, publicKey: publicKey, privateKey: privateKey}

	// In a test, play the part of Acme's mail server.
	go func() {
		time.Sleep(200 * time.Millisecond)
		otp.SendTestMessage(ctx, client.TestMessage{Source: "email", Sender: "Acme <noreply@acme.com>",
			Subject: "Verify your email", Text: "Your Acme verification code is 482913."})
	}()
	code, err := executor.ExecuteWithOTP(ctx, "signup_verification", "Acme Inc",
		&client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Received OTP:", code)
	// Output: Received OTP: 482913
}

// pollForOTP is the polling pattern for agents that cannot
// hold a call open.
func pollForOTP(ctx context.Context, otp *client.Client, privateKey *client.PrivateKey, requestID string, maxAttempts int, interval time.Duration) (string, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		status, err := otp.GetOTPStatus(ctx, requestID)
		if err != nil {
			return "", err
		}
		switch status.Status {
		case client.StatusOTPReceived:
			res, err := otp.ConsumeOTP(ctx, requestID, privateKey)
			if err != nil {
				return "", err
			}
			return res.Code, nil
		case client.StatusDenied, client.StatusExpired, client.StatusCancelled:
			return "", nil
		case client.StatusPendingApproval, client.StatusApproved:
			time.Sleep(interval)
		default:
			return "", fmt.Errorf("unexpected status: %s", status.Status)
		}
	}
	return "", nil
}

// The polling pattern.
func Example_polling() {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	publicKey, privateKey, _ := client.GenerateKeyPair(client.HPKEMLKEM768X25519)
	request, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "Signup verification", PublicKey: client.ExportPublicKey(publicKey)})
	if err != nil {
		panic(err)
	}
	code, err := pollForOTP(ctx, otp, privateKey, request.ID, 60, 2*time.Second)
	fmt.Println(len(code), err)
	// Output: 6 <nil>
}

// Cancelling a request: from then on its status is cancelled.
func ExampleClient_CancelOTPRequest() {
	ctx := context.Background()
	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	publicKey, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	request, _ := otp.RequestOTP(ctx, client.RequestOptions{Reason: "Test cancellation", PublicKey: client.ExportPublicKey(publicKey)})
	otp.CancelOTPRequest(ctx, request.ID)
	status, _ := otp.GetOTPStatus(ctx, request.ID)
	fmt.Println(status.Status)
	// Output: cancelled
}

// Error handling: every class is an errors.Is target; details
// such as RetryAfter are on *client.Error.
func Example_errorHandling() {
	ctx := context.Background()
	describe := func(err error) string {
		var e *client.Error
		switch {
		case errors.Is(err, client.ErrAuthentication):
			return "Authentication failed"
		case errors.Is(err, client.ErrRateLimit) && errors.As(err, &e):
			return fmt.Sprintf("Rate limited; retry after %s", e.RetryAfter)
		case errors.Is(err, client.ErrValidation) && errors.As(err, &e):
			return "Validation: " + e.Fields[0].Field
		case errors.Is(err, client.ErrApprovalDenied):
			return "User denied the request"
		case errors.Is(err, client.ErrExpired):
			return "Request expired"
		case errors.Is(err, client.ErrAlreadyConsumed):
			return "OTP already consumed"
		case errors.Is(err, client.ErrDecryption):
			return "Decryption failed - check keys"
		}
		return fmt.Sprint(err)
	}
	bad := client.New("ak_live_not-a-real-key")
	_, err := bad.GetOTPStatus(ctx, "otp_x")
	fmt.Println(describe(err))

	otp := client.New(os.Getenv("AGENT_OTP_TEST_KEY"))
	_, err = otp.RequestOTP(ctx, client.RequestOptions{Reason: "x", PublicKey: "not a key"})
	fmt.Println(describe(err))

	publicKey, privateKey, _ := client.GenerateKeyPair(client.HPKEX25519)
	request, _ := otp.RequestOTP(ctx, client.RequestOptions{Reason: "x", PublicKey: client.ExportPublicKey(publicKey)})
	_, otherKey, _ := client.GenerateKeyPair(client.HPKEX25519)
	_, err = otp.ConsumeOTP(ctx, request.ID, otherKey) // refused before anything is consumed
	fmt.Println(describe(err))
	if _, err := otp.ConsumeOTP(ctx, request.ID, privateKey); err != nil {
		panic(err)
	}
	_, err = otp.ConsumeOTP(ctx, request.ID, privateKey)
	fmt.Println(describe(err))
	// Output:
	// Authentication failed
	// Validation: public_key
	// Decryption failed - check keys
	// OTP already consumed
}
