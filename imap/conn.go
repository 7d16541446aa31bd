package imap

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agentotp/agentotp"
)

// connector is the Manager's watcher of one source: the Handler that
// hands messages to the relay's ingestion and keeps the cursor and status
// in the store, guarded by the settings' version.
type connector struct {
	m       *Manager
	src     *agentotp.IMAPSource // the settings it runs; not changed
	version int64
	cancel  context.CancelFunc
	done    chan struct{} // closed when run has returned

	mu    sync.Mutex
	since time.Time
	ended bool // run returned by itself (settings changed, or no password)
	w     *Watcher
}

func newConnector(m *Manager, src *agentotp.IMAPSource, since time.Time, cancel context.CancelFunc) *connector {
	return &connector{m: m, src: src, version: src.Version, cancel: cancel, done: make(chan struct{}), since: since}
}

// stop asks the connector to end; done is closed when it has.
func (c *connector) stop() { c.cancel() }

func (c *connector) exited() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

func (c *connector) setSince(t time.Time) {
	c.mu.Lock()
	c.since = t
	c.mu.Unlock()
}

// searchIfBefore wakes the watcher to search the mailbox if it last did
// so before t.
func (c *connector) searchIfBefore(t time.Time) {
	c.mu.Lock()
	w := c.w
	c.mu.Unlock()
	if w != nil && w.SearchedAt().Before(t) {
		w.Kick()
	}
}

// run opens the password and runs the watcher until ctx ends or the
// settings change.
func (c *connector) run(ctx context.Context) {
	log := c.m.log.With("source_id", c.src.SourceID)
	pw, err := c.m.svc.IMAPPassword(c.src)
	if err != nil {
		// Retrying cannot help; the status says why until the owner sets
		// the password again (a new version starts a new connector).
		log.ErrorContext(ctx, "imap: cannot open the stored password", "err", err)
		st := c.src.Status
		st.State, st.UpdatedAt = agentotp.IMAPStateError, c.m.svc.Now()
		st.LastError, st.LastErrorAt = "the stored password cannot be opened (was the relay's secret key changed?); set it again", st.UpdatedAt
		_ = c.SetStatus(ctx, st)
		<-ctx.Done()
		return
	}
	acct := Account{
		Host: c.src.Host, Port: c.src.Port, TLSMode: c.src.TLSMode, Username: c.src.Username, Password: pw,
		Mailbox: c.src.Mailbox, PollInterval: c.src.PollInterval, MarkAsRead: c.src.MarkAsRead,
	}
	cfg := c.m.cfg
	cfg.Logger = log
	w := NewWatcher(acct, Cursor{UIDValidity: c.src.UIDValidity, LastUID: c.src.LastUID}, c.src.Status, c, cfg)
	c.mu.Lock()
	c.w = w
	c.mu.Unlock()
	if err := w.Run(ctx); err != nil {
		c.mu.Lock()
		c.ended = true
		c.mu.Unlock()
		log.InfoContext(ctx, "imap: connector ended", "err", err)
	}
}

// Since implements Handler: the oldest live request's lower bound.
func (c *connector) Since() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.since, !c.since.IsZero()
}

// Deliver implements Handler: the message goes to the relay's ingestion
// as if the source had posted it raw. A message the relay refuses as
// unreadable is skipped.
//
// A panic while the relay reads the message (a crafted mail that trips a
// bug) is caught: the message is skipped and logged, and the connector,
// like the HTTP, SMTP and Telegram paths, keeps running.
func (c *connector) Deliver(ctx context.Context, m Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.m.log.ErrorContext(ctx, "imap: panic while handing a message over; skipped", "source_id", c.src.SourceID, "uid", m.UID, "panic", fmt.Sprint(v))
			err = fmt.Errorf("%w: the relay failed on this message", ErrSkip)
		}
	}()
	res, err := c.m.svc.IngestSourceMail(ctx, c.src.OwnerID, c.src.SourceID, agentotp.Mail{Raw: m.Raw, ReceivedAt: m.ReceivedAt, FeederID: m.ExternalID})
	switch code := agentotp.ErrorCode(err); {
	case err == nil:
	case code == agentotp.EValidation || code == agentotp.ETooLarge || code == agentotp.EUnsupportedMedia:
		return fmt.Errorf("%w: %s", ErrSkip, code)
	default:
		return err
	}
	c.m.log.InfoContext(ctx, "imap: message handed over", "source_id", c.src.SourceID, "uid", m.UID,
		"message_id", res.MessageID, "matched", res.Matched, "reason", res.Reason, "duplicate", res.Duplicate)
	return nil
}

// SaveCursor implements Handler.
func (c *connector) SaveCursor(ctx context.Context, cur Cursor) error {
	err := c.m.store.SaveIMAPCursor(ctx, c.src.SourceID, c.version, cur.UIDValidity, cur.LastUID)
	if errors.Is(err, agentotp.ErrConflict) || errors.Is(err, agentotp.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrStop, err)
	}
	return err
}

// SetStatus implements Handler.
func (c *connector) SetStatus(ctx context.Context, st agentotp.IMAPStatus) error {
	err := c.m.store.SetIMAPStatus(ctx, c.src.SourceID, c.version, st)
	if errors.Is(err, agentotp.ErrConflict) || errors.Is(err, agentotp.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrStop, err)
	}
	return err
}
