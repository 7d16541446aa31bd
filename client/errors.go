package client

import (
	"errors"
	"fmt"
	"time"
)

// Error classes, one for each error class of the SDKs in other languages
// (named in the comments: AuthenticationError, …). Test with
// errors.Is; get details with errors.As(err, &*client.Error).
var (
	ErrAuthentication  = errors.New("agentotp: authentication failed")      // AuthenticationError
	ErrValidation      = errors.New("agentotp: invalid request")            // ValidationError
	ErrRateLimit       = errors.New("agentotp: rate limited")               // RateLimitError
	ErrNotFound        = errors.New("agentotp: OTP request not found")      // OTPNotFoundError
	ErrExpired         = errors.New("agentotp: OTP request expired")        // OTPExpiredError
	ErrAlreadyConsumed = errors.New("agentotp: OTP already consumed")       // OTPAlreadyConsumedError
	ErrApprovalDenied  = errors.New("agentotp: OTP approval denied")        // OTPApprovalDeniedError
	ErrCancelled       = errors.New("agentotp: OTP request cancelled")      // OTPCancelledError
	ErrNotReady        = errors.New("agentotp: OTP not received yet")       // OTPNotReadyError
	ErrDecryption      = errors.New("agentotp: decryption failed")          // DecryptionError
	ErrTimeout         = errors.New("agentotp: timed out waiting")          // TimeoutError
	ErrNetwork         = errors.New("agentotp: network error")              // NetworkError
	ErrServer          = errors.New("agentotp: server error")               // AgentOTPError (5xx)
	ErrUnexpected      = errors.New("agentotp: unexpected response status") // any other problem
)

// FieldError names one invalid field of a rejected request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error answered by the relay (a problem+json document), or a
// network, decryption or timeout failure. errors.Is matches it against its
// class (ErrRateLimit, …).
type Error struct {
	// Class is one of the Err… values above.
	Class error
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Code is the relay's error code (OTP_EXPIRED, …), "" for local errors.
	Code    string
	Message string
	// Fields lists invalid fields of a validation error.
	Fields []FieldError
	// RetryAfter is how long to wait before retrying a rate-limited call.
	RetryAfter time.Duration
	// DenyReason is the owner's reason, for ErrApprovalDenied.
	DenyReason string
	// Err is the underlying error of a network or decryption failure.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Code != "" && e.Message != "" {
		// The relay's own message is the specific one (the class of
		// NOT_FOUND, say, names an OTP request whatever was not found).
		return "agentotp: " + e.Message + " (" + e.Code + ")"
	}
	s := e.Class.Error()
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is e's class.
func (e *Error) Is(target error) bool { return target == e.Class }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// classOf maps a relay error code and status to an error class.
func classOf(status int, code string) error {
	switch code {
	case "AUTHENTICATION_ERROR":
		return ErrAuthentication
	case "VALIDATION_ERROR", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE":
		return ErrValidation
	case "RATE_LIMIT_ERROR":
		return ErrRateLimit
	case "OTP_NOT_FOUND", "NOT_FOUND":
		return ErrNotFound
	case "OTP_EXPIRED":
		return ErrExpired
	case "OTP_ALREADY_CONSUMED":
		return ErrAlreadyConsumed
	case "OTP_APPROVAL_DENIED":
		return ErrApprovalDenied
	case "OTP_CANCELLED":
		return ErrCancelled
	case "OTP_NOT_READY":
		return ErrNotReady
	}
	switch {
	case status == 401:
		return ErrAuthentication
	case status == 429:
		return ErrRateLimit
	case status == 404:
		return ErrNotFound
	case status == 400 || status == 422:
		return ErrValidation
	case status >= 500:
		return ErrServer
	}
	return ErrUnexpected
}

func networkError(err error) error {
	return &Error{Class: ErrNetwork, Err: err}
}

func decryptionError(err error) error {
	return &Error{Class: ErrDecryption, Message: "check that the private key matches the public key of the request", Err: err}
}

func timeoutError(id string, last string) error {
	return &Error{Class: ErrTimeout, Message: fmt.Sprintf("request %s still %s", id, last)}
}
