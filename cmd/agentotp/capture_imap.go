package main

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

	"github.com/spf13/pflag"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/capture"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap"
	"github.com/agentotp/agentotp/relay"
)

// captureIMAPOptions are the flags of `agentotp capture --imap`.
type captureIMAPOptions struct {
	addr     string // host or host:port
	settings imapFlags
	state    string
	check    time.Duration
}

// imapCaptureMode is edge capture reading an IMAP mailbox on the owner's
// machine with the imap package's watcher: the relay never sees the mail
// nor the code, only ciphertext.
var imapCaptureMode = captureMode{
	flag: "--imap",
	flags: func(f *pflag.FlagSet, o *captureOptions) {
		f.StringVar(&o.imap.addr, "imap", "", "read this IMAP server's mailbox (host or host:port) while a live request wants email, and capture new mail")
		s := pflag.NewFlagSet("imap", pflag.ContinueOnError)
		o.imap.settings.register(s, "imap-")
		s.VisitAll(func(fl *pflag.Flag) {
			if fl.Name != "imap-host" && fl.Name != "imap-port" {
				fl.Usage = "with --imap: " + fl.Usage
				if fl.Name == "imap-password-stdin" {
					fl.Usage = "with --imap: read the app password from the first line of stdin (else $" + envIMAPPassword + ")"
				}
				f.AddFlag(fl)
			}
		})
		f.StringVar(&o.imap.state, "imap-state", "agentotp-imap.state", "with --imap: file that keeps the mailbox cursor, so that a restart neither re-reads nor skips mail")
		f.DurationVar(&o.imap.check, "imap-check", 5*time.Second, "with --imap: how often the live requests are fetched to start or stop reading")
	},
	enabled: func(o *captureOptions) bool { return o.imap.addr != "" },
	run:     captureIMAP,
}

// account turns the flags into an imap.Account.
func (o *captureIMAPOptions) account(stdin io.Reader) (imap.Account, error) {
	s := o.settings
	if s.tlsMode != domain.IMAPTLS && s.tlsMode != domain.IMAPStartTLS && s.tlsMode != domain.IMAPPlain {
		return imap.Account{}, &exitErr{exitUsage, fmt.Errorf("--imap-tls must be tls, starttls or plain, not %q", s.tlsMode)}
	}
	host, port := o.addr, 143
	if s.tlsMode == domain.IMAPTLS {
		port = 993
	}
	if h, p, err := net.SplitHostPort(o.addr); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return imap.Account{}, &exitErr{exitUsage, fmt.Errorf("--imap %q: bad port", o.addr)}
		}
		host, port = h, n
	}
	if host == "" {
		return imap.Account{}, &exitErr{exitUsage, errors.New("--imap needs a host")}
	}
	if s.tlsMode == domain.IMAPPlain && !relay.LoopbackHost(host) {
		return imap.Account{}, &exitErr{exitUsage, errors.New("--imap-tls plain sends the password in the clear and is allowed only to a loopback host")}
	}
	if s.user == "" {
		return imap.Account{}, &exitErr{exitUsage, errors.New("--imap-user is required")}
	}
	if s.poll < domain.MinIMAPPollInterval || s.poll > domain.MaxIMAPPollInterval {
		return imap.Account{}, &exitErr{exitUsage, errors.New("--imap-poll must be between 5s and 1h")}
	}
	pw, err := s.password(stdin)
	if err != nil {
		return imap.Account{}, err
	}
	if pw == "" {
		return imap.Account{}, &exitErr{exitUsage, fmt.Errorf("the IMAP password is needed: --imap-password-stdin or $%s", envIMAPPassword)}
	}
	return imap.Account{Host: host, Port: port, TLSMode: s.tlsMode, Username: s.user, Password: pw,
		Mailbox: s.mailbox, PollInterval: s.poll, MarkAsRead: s.markAsRead}, nil
}

// captureIMAP reads the mailbox while the relay lists a live request that
// wants email, until ctx ends.
func captureIMAP(ctx context.Context, a *app, c *capture.Capturer, o *captureOptions, log *slog.Logger) error {
	acct, err := o.imap.account(a.stdin)
	if err != nil {
		return err
	}
	// Fail early on a wrong token or an unreachable relay.
	if _, err := c.Requests(ctx); err != nil {
		return err
	}
	h := &edgeIMAP{c: c, log: log, out: a.stdout, path: o.imap.state,
		key: imapStateKey{Host: acct.Host, Port: acct.Port, Username: acct.Username, Mailbox: acct.Mailbox}}
	if err := h.load(); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "agentotp capture: reading %s on %s as %s while a live request wants email; codes are sealed here\n",
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
	t := time.NewTicker(o.imap.check)
	defer t.Stop()
	for {
		if err := h.refresh(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "capture: cannot list the live requests; keeping the current state", "err", err)
		}
		switch _, want := h.Since(); {
		case want && stopW == nil:
			w = imap.NewWatcher(acct, h.cursor(), domain.IMAPStatus{}, h, imap.Config{Logger: log})
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

// edgeIMAP is the imap.Handler of edge capture.
type edgeIMAP struct {
	c    *capture.Capturer
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

func (h *edgeIMAP) newest() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// load reads the cursor, if the state file is of this mailbox.
func (h *edgeIMAP) load() error {
	b, err := os.ReadFile(h.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--imap-state: %w", err)
	}
	var st imapState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("--imap-state %s: not a state file: %w", h.path, err)
	}
	if st.imapStateKey == h.key {
		h.cur = st.Cursor
	}
	return nil
}

func (h *edgeIMAP) cursor() imap.Cursor {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// refresh fetches the live requests and works out the demand for email.
func (h *edgeIMAP) refresh(ctx context.Context) error {
	reqs, err := h.c.Requests(ctx)
	if err != nil {
		return err
	}
	var since, latest time.Time
	want := false
	for _, r := range reqs {
		wantsEmail := len(r.Filter.Sources) == 0
		for _, s := range r.Filter.Sources {
			wantsEmail = wantsEmail || s == domain.SourceEmail
		}
		if !wantsEmail || !r.Status.Waiting() {
			continue
		}
		lb := r.CreatedAt
		if r.Filter.ReceivedAfter.After(lb) {
			lb = r.Filter.ReceivedAfter
		}
		if !want || lb.Before(since) {
			since = lb
		}
		if r.CreatedAt.After(latest) {
			latest = r.CreatedAt
		}
		want = true
	}
	h.mu.Lock()
	h.since, h.latest, h.want = since, latest, want
	h.mu.Unlock()
	return nil
}

// Since implements imap.Handler.
func (h *edgeIMAP) Since() (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.since, h.want
}

// Deliver implements imap.Handler: the message is matched, its code
// extracted and sealed here; only ciphertext goes to the relay.
func (h *edgeIMAP) Deliver(ctx context.Context, m imap.Message) error {
	msg, err := capture.FromEmail(m.Raw)
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
func (h *edgeIMAP) SaveCursor(_ context.Context, c imap.Cursor) error {
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
func (h *edgeIMAP) SetStatus(ctx context.Context, st domain.IMAPStatus) error {
	h.mu.Lock()
	changed := st.State != h.state
	h.state = st.State
	h.mu.Unlock()
	if changed {
		if st.State == domain.IMAPStateError {
			h.log.WarnContext(ctx, "capture: IMAP connection failed; retrying", "err", st.LastError)
		} else {
			h.log.InfoContext(ctx, "capture: IMAP "+st.State)
		}
	}
	return nil
}
