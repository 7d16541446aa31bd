package agentotp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Error codes that clients switch on. They appear as the `code` member of
// every problem+json error of the HTTP API.
const (
	EAuthentication     = "AUTHENTICATION_ERROR"
	EValidation         = "VALIDATION_ERROR"
	ERateLimit          = "RATE_LIMIT_ERROR"
	ENotFound           = "NOT_FOUND"
	EConflict           = "CONFLICT"
	ETooLarge           = "PAYLOAD_TOO_LARGE"
	EUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
	EInternal           = "INTERNAL_ERROR"
	EOTPNotFound        = "OTP_NOT_FOUND"
	EOTPNotReady        = "OTP_NOT_READY"
	EOTPAlreadyConsumed = "OTP_ALREADY_CONSUMED"
	EOTPExpired         = "OTP_EXPIRED"
	EOTPCancelled       = "OTP_CANCELLED"
	EOTPApprovalDenied  = "OTP_APPROVAL_DENIED"
	EForbidden          = "FORBIDDEN"
	EMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	EServiceUnavailable = "SERVICE_UNAVAILABLE"

	// The device-authorization errors of POST /v1/agents/enroll/token,
	// spelt as RFC 8628 §3.5 and RFC 6749 §5.2 spell them.
	EAuthorizationPending = "authorization_pending"
	ESlowDown             = "slow_down"
	EAccessDenied         = "access_denied"
	EExpiredToken         = "expired_token"
	EInvalidGrant         = "invalid_grant"
)

// FieldError names one invalid field of a request body.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error that carries a machine-readable code. Lower layers
// wrap it with context; the HTTP layer finds it with errors.As and turns it
// into problem+json.
type Error struct {
	Code    string
	Message string
	// Fields lists the invalid fields of a validation error.
	Fields []FieldError
	// RetryAfter is the number of seconds to wait, for rate-limit errors.
	RetryAfter int
	// DenyReason is the owner's reason for OTP_APPROVAL_DENIED, if any.
	DenyReason string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if len(e.Fields) == 0 || (len(e.Fields) == 1 && e.Message == e.Fields[0].Field+": "+e.Fields[0].Message) {
		return e.Message // the message already says it
	}
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ValidationErrors collects field errors and turns them into one *Error.
type ValidationErrors []FieldError

// Add records a field error.
func (v *ValidationErrors) Add(field, format string, args ...any) {
	*v = append(*v, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when no field error was added, and a VALIDATION_ERROR
// otherwise.
func (v ValidationErrors) Err() error {
	if len(v) == 0 {
		return nil
	}
	if len(v) == 1 {
		return &Error{Code: EValidation, Message: v[0].Field + ": " + v[0].Message, Fields: v}
	}
	names := make([]string, 0, len(v))
	for _, f := range v {
		if !slices.Contains(names, f.Field) {
			names = append(names, f.Field)
		}
	}
	if len(names) == 1 {
		return &Error{Code: EValidation, Message: names[0] + " is invalid", Fields: v}
	}
	return &Error{Code: EValidation, Message: fmt.Sprintf("%d fields are invalid: %s", len(names), strings.Join(names, ", ")), Fields: v}
}

// FieldErr returns a VALIDATION_ERROR about one field: the message is
// "field: why", and the field is listed in Fields.
func FieldErr(field, format string, args ...any) error {
	var v ValidationErrors
	v.Add(field, format, args...)
	return v.Err()
}

// ErrNotFound is returned by stores for a missing row. Services translate
// it into the code that fits the caller (OTP_NOT_FOUND, NOT_FOUND).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by stores when an optimistic update lost a race:
// the row changed since it was read.
var ErrConflict = errors.New("conflict: row changed concurrently")
