package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap"
)

// IMAPConfig configures RunIMAP.
type IMAPConfig struct {
	// Account is the mailbox, with its (already checked) settings.
	Account imap.Account
	// StatePath is the file that keeps the mailbox cursor, so that a
	// restart neither re-reads nor skips mail.
	StatePath string
	// Check is how often the live requests are fetched to start or stop
	// reading (0: five seconds).
	Check time.Duration
	// Out receives one line per message read; Status one line when
	// reading starts. Nil discards them.
	Out, Status io.Writer
	// Logger receives the reader's logs; nil: the capturer's.
	Logger *slog.Logger
}

// RunIMAP reads an IMAP mailbox at the edge while the relay lists a live
// request that wants email, and captures its new mail, until ctx ends. It
// is the IMAP twin of NewSMTPHandler: the mail and the code stay here.
func (c *Capturer) RunIMAP(ctx context.Context, cfg IMAPConfig) error {
	acct, log := cfg.Account, cfg.Logger
	if log == nil {
		log = c.log
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Status == nil {
		cfg.Status = io.Discard
	}
	if cfg.Check <= 0 {
		cfg.Check = 5 * time.Second
	}
	// Fail early on a wrong token or an unreachable relay.
	if _, err := c.Requests(ctx); err != nil {
		return err
	}
	h := &imapReader{c: c, log: log, out: cfg.Out, path: cfg.StatePath,
		key: imapStateKey{Host: acct.Host, Port: acct.Port, Username: acct.Username, Mailbox: acct.Mailbox}}
	if err := h.load(); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Status, "agentotp capture: reading %s on %s as %s while a live request wants email; codes are sealed here\n",
		acct.Mailbox, net.JoinHostPort(acct.Host, strconv.Itoa(acct.Port)), acct.Username)
	var (
		stopW func() // stops the running watcher, nil when none runs
		w     *imap.Watcher
	)
	defer func() {
		if stopW != nil {
			stopW()
		}
	}()
	t := time.NewTicker(cfg.Check)
	defer t.Stop()
	for {
		if err := h.refresh(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "capture: cannot list the live requests; keeping the current state", "err", err)
		}
		switch _, want := h.Since(); {
		case want && stopW == nil:
			w = imap.NewWatcher(acct, h.cursor(), agentotp.IMAPStatus{}, h, imap.Config{Logger: log})
			stopW = runWatcher(ctx, w)
		case want && w.SearchedAt().Before(h.newest()):
			// A request newer than the last search: search again now, so
			// that mail arriving from here on is known to be newer.
			w.Kick()
		case !want && stopW != nil:
			stopW()
			stopW, w = nil, nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// runWatcher runs w until the returned function stops it and waits.
func runWatcher(ctx context.Context, w *imap.Watcher) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// imapStateKey names the mailbox a cursor counts in.
type imapStateKey struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username"`
	Mailbox  string `json:"mailbox"`
}

// imapState is the state file.
type imapState struct {
	imapStateKey
	imap.Cursor
}

// imapReader is the imap.Handler of edge capture.
type imapReader struct {
	c    *Capturer
	log  *slog.Logger
	out  io.Writer
	path string
	key  imapStateKey

	mu     sync.Mutex
	since  time.Time
	latest time.Time // the newest live request's creation
	want   bool
	cur    imap.Cursor
	state  string
}

func (h *imapReader) newest() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// load reads the cursor, if the state file is of this mailbox.
func (h *imapReader) load() error {
	b, err := os.ReadFile(h.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	var st imapState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("state file %s: not a state file: %w", h.path, err)
	}
	if st.imapStateKey == h.key {
		h.cur = st.Cursor
	}
	return nil
}

func (h *imapReader) cursor() imap.Cursor {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// refresh fetches the live requests and works out the demand for email.
func (h *imapReader) refresh(ctx context.Context) error {
	reqs, err := h.c.Requests(ctx)
	if err != nil {
		return err
	}
	var d agentotp.EmailDemand
	for _, r := range reqs {
		wantsEmail := len(r.Filter.Sources) == 0
		for _, s := range r.Filter.Sources {
			wantsEmail = wantsEmail || s == string(agentotp.ChannelEmail)
		}
		if wantsEmail && r.Status.Waiting() {
			d.Add(r.CreatedAt, r.Filter.ReceivedAfter)
		}
	}
	h.mu.Lock()
	h.since, h.latest, h.want = d.Since, d.Latest, d.Want
	h.mu.Unlock()
	return nil
}

// Since implements imap.Handler.
func (h *imapReader) Since() (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.since, h.want
}

// Deliver implements imap.Handler: the message is matched, its code
// extracted and sealed here; only ciphertext goes to the relay.
func (h *imapReader) Deliver(ctx context.Context, m imap.Message) error {
	msg, err := FromEmail(m.Raw)
	if err != nil {
		return fmt.Errorf("%w: %v", imap.ErrSkip, err)
	}
	msg.ReceivedAt = m.ReceivedAt
	if msg.ExternalID == "" {
		msg.ExternalID = m.ExternalID
	}
	// A delivery that has started is finished even when capture is being
	// stopped: otherwise the relay may take the code while this side sees
	// an error and keeps its cursor behind (harmless, since the relay
	// ignores the resend, but the message would be read twice).
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	res, err := h.c.Capture(dctx, msg)
	if err != nil {
		for _, retry := range []error{client.ErrNetwork, client.ErrServer, client.ErrRateLimit, client.ErrAuthentication, client.ErrUnexpected, context.Canceled, context.DeadlineExceeded} {
			if errors.Is(err, retry) {
				return err // offered again on the next connection
			}
		}
		return fmt.Errorf("%w: %v", imap.ErrSkip, err)
	}
	switch {
	case res.Duplicate:
		fmt.Fprintf(h.out, "uid %d: already delivered to %s; ignored\n", m.UID, res.RequestID)
	case res.Matched:
		fmt.Fprintf(h.out, "uid %d: sealed here and delivered to %s (%s)\n", m.UID, res.RequestID, res.Status)
	default:
		fmt.Fprintf(h.out, "uid %d: not delivered: %s\n", m.UID, res.Reason)
	}
	return nil
}

// SaveCursor implements imap.Handler: the state file is replaced
// atomically.
func (h *imapReader) SaveCursor(_ context.Context, c imap.Cursor) error {
	h.mu.Lock()
	h.cur = c
	h.mu.Unlock()
	b, err := json.Marshal(imapState{imapStateKey: h.key, Cursor: c})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(h.path), ".agentotp-imap-*")
	if err != nil {
		return fmt.Errorf("save the IMAP cursor: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("save the IMAP cursor: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save the IMAP cursor: %w", err)
	}
	if err := os.Rename(tmp.Name(), h.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save the IMAP cursor: %w", err)
	}
	return nil
}

// SetStatus implements imap.Handler: state changes are logged.
func (h *imapReader) SetStatus(ctx context.Context, st agentotp.IMAPStatus) error {
	h.mu.Lock()
	changed := st.State != h.state
	h.state = st.State
	h.mu.Unlock()
	if changed {
		if st.State == agentotp.IMAPStateError {
			h.log.WarnContext(ctx, "capture: IMAP connection failed; retrying", "err", st.LastError)
		} else {
			h.log.InfoContext(ctx, "capture: IMAP "+st.State)
		}
	}
	return nil
}
