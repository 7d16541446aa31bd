package imap

import (
	"context"
	"errors"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/agentotp/agentotp"
)

// Check connects to acct's server as a Watcher would (the TLS mode, the
// loopback rule of plain connections), logs in and selects the mailbox
// (read-only unless MarkAsRead), then logs out. It reads no message and
// changes nothing. Its error says which step failed and never holds the
// password.
func Check(ctx context.Context, acct Account, cfg Config) error {
	w := NewWatcher(acct, Cursor{}, agentotp.IMAPStatus{}, checkHandler{}, cfg)
	cl, err := w.dial(ctx)
	if err != nil {
		return err
	}
	defer w.hangUp(cl)
	if err := w.await(ctx, cl, "greeting", cl.WaitGreeting); err != nil {
		return err
	}
	if cl.Caps().Has(goimap.CapLoginDisabled) {
		return errors.New("the server refuses LOGIN on this connection (LOGINDISABLED): use tls or starttls")
	}
	if err := w.await(ctx, cl, "login", func() error { return cl.Login(acct.Username, acct.Password).Wait() }); err != nil {
		return err
	}
	return w.await(ctx, cl, "select "+acct.Mailbox, func() error {
		_, err := cl.Select(acct.Mailbox, &goimap.SelectOptions{ReadOnly: !acct.MarkAsRead}).Wait()
		return err
	})
}

// checkHandler is the Handler of a Watcher that only checks: it never
// runs, so nothing is wanted or kept.
type checkHandler struct{}

func (checkHandler) Since() (time.Time, bool)                             { return time.Time{}, false }
func (checkHandler) Deliver(context.Context, Message) error               { return ErrStop }
func (checkHandler) SaveCursor(context.Context, Cursor) error             { return nil }
func (checkHandler) SetStatus(context.Context, agentotp.IMAPStatus) error { return nil }
