package capture

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/agentotp/agentotp/extract"
	"github.com/agentotp/agentotp/smtp"
)

// SMTPHandler is the smtp.Handler of `agentotp capture --smtp-addr`: a
// local SMTP receiver that captures each message at the edge. AUTH is
// required, with the capture's own source token as the password (any user
// name), so that only whoever holds the token can feed it.
type SMTPHandler struct {
	c     *Capturer
	token [32]byte
}

// NewSMTPHandler returns the handler; token is the source token the
// capturer uses.
func NewSMTPHandler(c *Capturer, token string) *SMTPHandler {
	return &SMTPHandler{c: c, token: sha256.Sum256([]byte(token))}
}

// Authenticate implements smtp.Authenticator: the password must be the
// capture's source token (compared in constant time).
func (h *SMTPHandler) Authenticate(_ context.Context, _, password string) (any, error) {
	sum := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(sum[:], h.token[:]) != 1 {
		return nil, smtp.ErrAuthFailed
	}
	return true, nil
}

// Rcpt implements smtp.Handler: any recipient.
func (h *SMTPHandler) Rcpt(context.Context, *smtp.Session, string) (any, error) { return nil, nil }

// Data implements smtp.Handler: the message is captured; a relay that
// cannot be reached is a temporary failure (451), so the sender retries.
func (h *SMTPHandler) Data(ctx context.Context, _ *smtp.Session, raw []byte) error {
	m, err := FromEmail(raw)
	switch {
	case errors.Is(err, extract.ErrTooLarge):
		return smtp.ErrTooLarge
	case err != nil:
		return &smtp.Error{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "The message is not a readable RFC 5322 email"}
	case strings.TrimSpace(m.Sender) == "":
		return &smtp.Error{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "The message has no From header"}
	}
	if _, err := h.c.Capture(ctx, m); err != nil {
		return err // logged by the server; 451
	}
	return nil
}
