package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/agentotp/agentotp"
)

// problem is an RFC 9457 problem document with the members clients switch
// on: code and message.
type problem struct {
	Type       string                `json:"type"`
	Title      string                `json:"title"`
	Status     int                   `json:"status"`
	Detail     string                `json:"detail"`
	Instance   string                `json:"instance,omitempty"`
	Code       string                `json:"code"`
	Message    string                `json:"message"`
	Errors     []agentotp.FieldError `json:"errors,omitempty"`
	RetryAfter int                   `json:"retry_after,omitempty"`
	DenyReason string                `json:"deny_reason,omitempty"`
}

// statusOf maps an error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case agentotp.EAuthentication:
		return http.StatusUnauthorized
	case agentotp.EValidation:
		return http.StatusUnprocessableEntity
	case agentotp.ERateLimit:
		return http.StatusTooManyRequests
	case agentotp.ENotFound, agentotp.EOTPNotFound:
		return http.StatusNotFound
	case agentotp.EConflict, agentotp.EOTPNotReady:
		return http.StatusConflict
	case agentotp.EOTPAlreadyConsumed, agentotp.EOTPExpired, agentotp.EOTPCancelled:
		return http.StatusGone
	case agentotp.EOTPApprovalDenied, agentotp.EForbidden:
		return http.StatusForbidden
	case agentotp.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case agentotp.EUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case agentotp.EMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case agentotp.EServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers with the problem document of err. status, when not
// zero, overrides the code's usual status (a cancel of a final request is
// 409 whatever the final state). Errors that are not *agentotp.Error are
// logged and answered as a bare 500 that reveals nothing.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error, status int) {
	var e *agentotp.Error
	if !errors.As(err, &e) {
		if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
			return // the client went away
		}
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = agentotp.Errorf(agentotp.EInternal, "internal error")
	}
	if status == 0 {
		status = statusOf(e.Code)
	}
	p := problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: e.Message, Message: e.Message, Code: e.Code, Instance: r.URL.Path,
		Errors: e.Fields, RetryAfter: e.RetryAfter, DenyReason: e.DenyReason,
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentotp"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		s.log.DebugContext(r.Context(), "write problem", "err", err)
	}
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, log *slog.Logger, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Debug("write json", "err", err)
	}
}
