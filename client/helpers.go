package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Executor runs actions that need a verification code (SecureAgentExecutor
// in the TypeScript and Python naming): it holds the client and the session's key
// pair, requests a code, waits, consumes and decrypts it.
type Executor struct {
	otp  *Client
	priv *PrivateKey
	// Timeout bounds each wait for a code (0: 120 s).
	Timeout time.Duration
}

// NewExecutor returns an executor for otp with the session's private key
// (GenerateKeyPair, once per agent session).
func NewExecutor(otp *Client, priv *PrivateKey) *Executor {
	return &Executor{otp: otp, priv: priv}
}

// Need says what code an action needs: the request's reason, sender hint
// and filter.
type Need struct {
	Reason         string
	ExpectedSender string
	Filter         *Filter
	// TTL of the request (0: the relay's default).
	TTL time.Duration
}

// statusError classes a request that ended without a code.
func statusError(r *OTPRequest) error {
	class := ErrUnexpected
	switch r.Status {
	case StatusDenied:
		class = ErrApprovalDenied
	case StatusExpired:
		class = ErrExpired
	case StatusCancelled:
		class = ErrCancelled
	case StatusConsumed:
		class = ErrAlreadyConsumed
	case StatusPendingApproval, StatusApproved:
		class = ErrTimeout
	}
	e := &Error{Class: class, Message: fmt.Sprintf("OTP request failed: %s", r.Status)}
	if r.DenyReason != nil {
		e.DenyReason = *r.DenyReason
		e.Message += ": " + *r.DenyReason
	}
	return e
}

// ExecuteWithOTP requests a code for need, waits for it, consumes it and
// returns it (executeWithOTP). A request that ends without a
// code is an error of its class (ErrApprovalDenied, ErrExpired,
// ErrCancelled, ErrTimeout); a failed decryption is ErrDecryption.
func (e *Executor) ExecuteWithOTP(ctx context.Context, need Need) (string, error) {
	if e.priv == nil {
		return "", decryptionError(errors.New("the executor has no private key"))
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 120 * time.Second
	}
	req, err := e.otp.RequestOTP(ctx, RequestOptions{
		Reason: need.Reason, ExpectedSender: need.ExpectedSender, Filter: need.Filter,
		PublicKey: ExportPublicKey(e.priv.Public()), TTL: need.TTL, WaitForOTP: true, Timeout: timeout,
	})
	if err != nil {
		return "", err
	}
	if req.Status != StatusOTPReceived {
		if req.Status.Waiting() {
			// Do not leave a request open that nobody waits for.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, _ = e.otp.CancelOTPRequest(cctx, req.ID)
			cancel()
		}
		return "", statusError(req)
	}
	res, err := e.otp.ConsumeOTP(ctx, req.ID, e.priv)
	if err != nil {
		return "", err
	}
	return res.Code, nil
}

// PollForOTP polls the request every interval, up to maxAttempts times,
// and returns its code once received (pollForOTP), for agents that
// cannot hold a call open. When no code comes — denied, expired,
// cancelled, or out of attempts — it returns "" and an error of that
// class (ErrApprovalDenied, ErrExpired, ErrCancelled, ErrTimeout).
func (e *Executor) PollForOTP(ctx context.Context, id string, maxAttempts int, interval time.Duration) (string, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		status, err := e.otp.GetOTPStatus(ctx, id)
		if err != nil {
			return "", err
		}
		switch status.Status {
		case StatusOTPReceived:
			res, err := e.otp.ConsumeOTP(ctx, id, e.priv)
			if err != nil {
				return "", err
			}
			return res.Code, nil
		case StatusDenied, StatusExpired, StatusCancelled, StatusConsumed:
			return "", statusError(status)
		case StatusPendingApproval, StatusApproved:
			if attempt == maxAttempts-1 {
				break
			}
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return "", networkError(ctx.Err())
			case <-t.C:
			}
		default:
			return "", &Error{Class: ErrUnexpected, Message: fmt.Sprintf("unexpected status: %s", status.Status)}
		}
	}
	return "", timeoutError(id, "waiting after all attempts")
}

// Action is a step of an agent, as the middleware sees it.
type Action struct {
	Type        string
	RequiresOTP bool
	// OTPReason is shown to the owner (default: Type).
	OTPReason      string
	ExpectedSender string
	Filter         *Filter
	Params         map[string]any
}

// Next runs an action, with the code when the action required one ("" if
// not).
type Next func(ctx context.Context, code string) error

// Middleware (otpMiddleware) runs next, with a code first
// when the action requires one.
type Middleware func(ctx context.Context, action Action, next Next) error

// Middleware returns the executor's middleware (createOTPMiddleware).
func (e *Executor) Middleware() Middleware {
	return func(ctx context.Context, action Action, next Next) error {
		return WithOTP(ctx, e, action, next)
	}
}

// WithOTP runs next for action: at once when it needs no code, else with
// the code the executor obtained. An action whose code could not be had
// is not run; the error says why, with its class.
func WithOTP(ctx context.Context, e *Executor, action Action, next Next) error {
	if !action.RequiresOTP {
		return next(ctx, "")
	}
	reason := action.OTPReason
	if reason == "" {
		reason = action.Type
	}
	code, err := e.ExecuteWithOTP(ctx, Need{Reason: reason, ExpectedSender: action.ExpectedSender, Filter: action.Filter})
	if err != nil {
		return err
	}
	return next(ctx, code)
}

// Outcome is the result object of the error-handling pattern
// ({success, code, error, retryAfter}): success and the code, or a
// message for the user and, when rate limited, how long to wait.
type Outcome struct {
	Success    bool
	Code       string
	Error      string
	RetryAfter time.Duration
}

// OutcomeOf maps a code and an error to an Outcome with a fixed message
// for each error class. Errors of no known class come back as the second
// value, for the caller to raise.
func OutcomeOf(code string, err error) (Outcome, error) {
	if err == nil {
		return Outcome{Success: true, Code: code}, nil
	}
	var e *Error
	errors.As(err, &e)
	switch {
	case errors.Is(err, ErrAuthentication):
		return Outcome{Error: "Authentication failed"}, nil
	case errors.Is(err, ErrRateLimit):
		o := Outcome{Error: "Rate limited"}
		if e != nil {
			o.RetryAfter = e.RetryAfter
		}
		return o, nil
	case errors.Is(err, ErrValidation):
		msg := err.Error()
		if e != nil {
			msg = e.Message
		}
		return Outcome{Error: "Validation: " + msg}, nil
	case errors.Is(err, ErrApprovalDenied):
		return Outcome{Error: "User denied the request"}, nil
	case errors.Is(err, ErrExpired):
		return Outcome{Error: "Request expired"}, nil
	case errors.Is(err, ErrAlreadyConsumed):
		return Outcome{Error: "OTP already consumed"}, nil
	case errors.Is(err, ErrDecryption):
		return Outcome{Error: "Decryption failed - check keys"}, nil
	case errors.Is(err, ErrCancelled):
		return Outcome{Error: "Status: cancelled"}, nil
	case errors.Is(err, ErrTimeout):
		return Outcome{Error: "Timed out waiting for the code"}, nil
	}
	return Outcome{}, err
}
