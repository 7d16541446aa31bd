package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/agentotp/agentotp"
)

// ErrStop, returned (wrapped) by a Handler, ends the Watcher: its
// settings changed or were deleted.
var ErrStop = errors.New("imap: stop reading this mailbox")

// ErrSkip, returned (wrapped) by Handler.Deliver, means the message can
// never be taken (it is not a readable email, say): the watcher moves on.
var ErrSkip = errors.New("imap: message refused")

// errConnLost is a connection the server closed (BYE, or a dead peer).
var errConnLost = errors.New("the server closed the connection")

// fetchChunk is how many new UIDs one FETCH of dates and sizes covers.
const fetchChunk = 50

// Account says how to reach and read one mailbox.
type Account struct {
	Host     string
	Port     int
	TLSMode  string // agentotp.IMAPTLS, IMAPStartTLS or IMAPPlain (loopback only)
	Username string
	Password string
	Mailbox  string
	// PollInterval is used when the server has no IDLE.
	PollInterval time.Duration
	// MarkAsRead opens the mailbox read-write and sets \Seen on each
	// message handed over; otherwise it is opened read-only (EXAMINE).
	MarkAsRead bool
}

func (a *Account) addr() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// Cursor is where a watcher stands in its mailbox: the mailbox's
// UIDVALIDITY and the highest UID it has handled.
type Cursor struct {
	UIDValidity uint32 `json:"uid_validity"`
	LastUID     uint32 `json:"last_uid"`
}

// Message is a new message of the mailbox.
type Message struct {
	UID uint32
	// Raw is the message as the server holds it (RFC 5322).
	Raw []byte
	// ReceivedAt is the latest time it certainly arrived after (see
	// receivedAt): a request made later is never fed by it.
	ReceivedAt time.Time
	// ExternalID is a de-duplication key for a message without a
	// Message-ID; "" when it has one.
	ExternalID string
}

// Handler is what a Watcher serves: the relay (Manager) or edge capture.
type Handler interface {
	// Since returns the earliest arrival time of a message that can still
	// be of use, and false when none is wanted now.
	Since() (time.Time, bool)
	// Deliver takes one message. An error wrapping ErrSkip skips it; any
	// other error ends the connection, and the message is offered again
	// on the next one.
	Deliver(ctx context.Context, m Message) error
	// SaveCursor stores the cursor, so that the next watcher of this
	// mailbox neither re-reads nor skips mail.
	SaveCursor(ctx context.Context, c Cursor) error
	// SetStatus reports a change of the watcher's status.
	SetStatus(ctx context.Context, st agentotp.IMAPStatus) error
}

// Watcher reads one mailbox for a Handler: it connects, hands over new
// mail, waits in IDLE (or polls), and reconnects with backoff.
type Watcher struct {
	acct    Account
	h       Handler
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	newMail chan struct{} // the server announced a message, or Kick
	rnd     *rand.Rand

	mu   sync.Mutex
	st   agentotp.IMAPStatus
	cur  Cursor
	mark watermark // kept across connections while UIDVALIDITY holds
}

// NewWatcher returns a watcher of acct that starts at cursor cur, with
// the status st last reported. Zero fields of cfg take their defaults.
func NewWatcher(acct Account, cur Cursor, st agentotp.IMAPStatus, h Handler, cfg Config) *Watcher {
	cfg.defaults()
	if acct.PollInterval <= 0 {
		acct.PollInterval = agentotp.DefaultIMAPPollInterval
	}
	now := cfg.Now
	if now == nil {
		now = func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
	}
	return &Watcher{
		acct: acct, h: h, cfg: cfg, now: now,
		log:     cfg.Logger.With("imap_host", acct.Host, "mailbox", acct.Mailbox),
		newMail: make(chan struct{}, 1),
		rnd:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		st:      st,
		cur:     cur,
	}
}

// Kick makes the watcher look for new mail now (demand appeared).
func (w *Watcher) Kick() {
	select {
	case w.newMail <- struct{}{}:
	default:
	}
}

// SearchedAt returns when the watcher last searched the mailbox for new
// mail: a message that arrives later feeds any request made before then.
// The zero time means not yet.
func (w *Watcher) SearchedAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mark.At
}

// State returns the watcher's current state (an agentotp.IMAPState…).
func (w *Watcher) State() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st.State
}

// report changes the status and hands it to the handler if it changed.
func (w *Watcher) report(ctx context.Context, change func(st *agentotp.IMAPStatus)) error {
	w.mu.Lock()
	before := w.st
	change(&w.st)
	if w.st == before {
		w.mu.Unlock()
		return nil
	}
	w.st.UpdatedAt = w.now()
	st := w.st
	w.mu.Unlock()
	return w.h.SetStatus(ctx, st)
}

func (w *Watcher) setState(ctx context.Context, state string) error {
	return w.report(ctx, func(st *agentotp.IMAPStatus) { st.State = state })
}

// Run reads the mailbox until ctx ends (it returns nil) or the handler
// stops it (an error wrapping ErrStop). Before it returns after ctx ended
// it reports the state "stopped".
func (w *Watcher) Run(ctx context.Context) error {
	attempt := 0
	for {
		if ctx.Err() != nil {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := w.setState(wctx, agentotp.IMAPStateStopped); err != nil {
				if errors.Is(err, ErrStop) {
					return err
				}
				w.log.WarnContext(wctx, "imap: report status", "err", err)
			}
			return nil
		}
		started := time.Now()
		selected, err := w.session(ctx)
		if errors.Is(err, ErrStop) {
			return err
		}
		if ctx.Err() != nil {
			continue
		}
		if selected && time.Since(started) >= 30*time.Second {
			attempt = 0
		}
		wait := backoff(attempt, w.cfg.MinBackoff, w.cfg.MaxBackoff, w.rnd)
		attempt++
		msg := sanitizeError(err, w.acct.Password)
		w.log.WarnContext(ctx, "imap: connection failed; retrying", "err", msg, "retry_in", wait.Round(time.Millisecond).String())
		now := w.now()
		if rerr := w.report(ctx, func(st *agentotp.IMAPStatus) {
			st.State, st.LastError, st.LastErrorAt = agentotp.IMAPStateError, msg, now
		}); errors.Is(rerr, ErrStop) {
			return rerr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// session runs one connection until it fails or ctx ends. selected
// reports whether it got as far as opening the mailbox.
func (w *Watcher) session(ctx context.Context) (selected bool, err error) {
	if err := w.setState(ctx, agentotp.IMAPStateConnecting); err != nil {
		return false, err
	}
	cl, err := w.dial(ctx)
	if err != nil {
		return false, err
	}
	defer w.hangUp(cl)
	if err := w.await(ctx, cl, "greeting", cl.WaitGreeting); err != nil {
		return false, err
	}
	if cl.Caps().Has(goimap.CapLoginDisabled) {
		return false, errors.New("the server refuses LOGIN on this connection (LOGINDISABLED): use tls or starttls")
	}
	if err := w.await(ctx, cl, "login", func() error { return cl.Login(w.acct.Username, w.acct.Password).Wait() }); err != nil {
		return false, err
	}
	var sel *goimap.SelectData
	err = w.await(ctx, cl, "select "+w.acct.Mailbox, func() (err error) {
		sel, err = cl.Select(w.acct.Mailbox, &goimap.SelectOptions{ReadOnly: !w.acct.MarkAsRead}).Wait()
		return err
	})
	if err != nil {
		return false, err
	}
	next, reset := w.cur.afterSelect(sel.UIDValidity)
	if next != w.cur {
		if reset {
			w.log.WarnContext(ctx, "imap: UIDVALIDITY changed; the mailbox is read again from the oldest live request on",
				"old", w.cur.UIDValidity, "new", sel.UIDValidity)
		}
		w.cur = next
		w.mu.Lock()
		w.mark = watermark{} // UIDs of another mailbox prove nothing here
		w.mu.Unlock()
		if err := w.h.SaveCursor(ctx, w.cur); err != nil {
			return true, err
		}
	}
	now := w.now()
	if err := w.report(ctx, func(st *agentotp.IMAPStatus) {
		st.State, st.LastConnectedAt = agentotp.IMAPStateConnected, now
	}); err != nil {
		return true, err
	}
	caps := cl.Caps()
	canIdle := caps.Has(goimap.CapIdle) || caps.Has(goimap.CapIMAP4rev2)
	w.log.InfoContext(ctx, "imap: connected", "idle", canIdle, "uid_validity", sel.UIDValidity, "last_uid", w.cur.LastUID)
	for {
		if err := w.sync(ctx, cl); err != nil {
			return true, err
		}
		if canIdle {
			err = w.idle(ctx, cl)
		} else {
			err = w.poll(ctx, cl)
		}
		if err != nil {
			return true, err
		}
	}
}

// dial opens the connection the TLS mode asks for.
func (w *Watcher) dial(ctx context.Context) (*imapclient.Client, error) {
	cfg := w.cfg
	d := &net.Dialer{
		Timeout: cfg.DialTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: cfg.KeepAlive, Interval: max(cfg.KeepAlive/3, time.Second), Count: 3,
		},
	}
	switch w.acct.TLSMode {
	case agentotp.IMAPTLS, agentotp.IMAPStartTLS:
	case agentotp.IMAPPlain:
		d.Control = loopbackOnly
	default:
		return nil, fmt.Errorf("unknown TLS mode %q", w.acct.TLSMode)
	}
	var tlsCfg *tls.Config
	if cfg.TLSConfig != nil {
		tlsCfg = cfg.TLSConfig.Clone()
	} else {
		tlsCfg = &tls.Config{}
	}
	tlsCfg.ServerName = w.acct.Host
	tlsCfg.MinVersion = max(tlsCfg.MinVersion, tls.VersionTLS12)
	opts := &imapclient.Options{
		TLSConfig: tlsCfg,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					w.Kick()
				}
			},
		},
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	raw, err := d.DialContext(dctx, "tcp", w.acct.addr())
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	switch w.acct.TLSMode {
	case agentotp.IMAPTLS:
		tc := tls.Client(raw, tlsCfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		return imapclient.New(tc, opts), nil
	case agentotp.IMAPStartTLS:
		type result struct {
			cl  *imapclient.Client
			err error
		}
		done := make(chan result, 1)
		go func() {
			cl, err := imapclient.NewStartTLS(raw, opts)
			done <- result{cl, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				return nil, fmt.Errorf("starttls: %w", r.err)
			}
			return r.cl, nil
		case <-dctx.Done():
			raw.Close()
			if r := <-done; r.cl != nil {
				r.cl.Close()
			}
			return nil, fmt.Errorf("starttls: %w", dctx.Err())
		}
	default:
		return imapclient.New(raw, opts), nil
	}
}

// loopbackOnly refuses, at connect time, any address that is not a
// loopback one: the password of a plain connection must not leave the
// machine, whatever a host name resolves to.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if net.ParseIP(host) == nil || !agentotp.LoopbackHost(host) {
		return fmt.Errorf("plain IMAP is allowed only to a loopback address, not %s", host)
	}
	return nil
}

// hangUp logs out politely, briefly, and closes the connection.
func (w *Watcher) hangUp(cl *imapclient.Client) {
	if cl.State() != goimap.ConnStateLogout {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = w.awaitFor(ctx, cl, 5*time.Second, "logout", func() error { return cl.Logout().Wait() })
		cancel()
	}
	_ = cl.Close()
}

// await runs fn, one command, within the command timeout.
func (w *Watcher) await(ctx context.Context, cl *imapclient.Client, what string, fn func() error) error {
	return w.awaitFor(ctx, cl, w.cfg.CommandTimeout, what, fn)
}

// awaitFor runs fn and closes the connection if fn takes longer than d or
// ctx ends first, which makes fn return.
func (w *Watcher) awaitFor(ctx context.Context, cl *imapclient.Client, d time.Duration, what string, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-t.C:
		cl.Close()
		<-done
		return fmt.Errorf("%s: no answer within %v; the connection is taken for dead", what, d)
	case <-ctx.Done():
		cl.Close()
		<-done
		return ctx.Err()
	}
}

// sync hands over every message above the cursor that can still be of
// use, and moves the cursor past everything it looked at.
func (w *Watcher) sync(ctx context.Context, cl *imapclient.Client) error {
	since, want := w.h.Since()
	if !want || since.IsZero() || w.cur.LastUID == math.MaxUint32 {
		return nil
	}
	if err := w.setState(ctx, agentotp.IMAPStateConnected); err != nil {
		return err
	}
	var found *goimap.SearchData
	searched := w.now() // the server answers after this
	crit := &goimap.SearchCriteria{
		UID:   []goimap.UIDSet{{goimap.UIDRange{Start: goimap.UID(w.cur.LastUID + 1), Stop: 0}}},
		Since: searchSince(since),
	}
	err := w.await(ctx, cl, "uid search", func() (err error) {
		found, err = cl.UIDSearch(crit, nil).Wait()
		return err
	})
	if err != nil {
		return err
	}
	var all []uint32
	for _, u := range found.AllUIDs() {
		all = append(all, uint32(u))
	}
	uids := newUIDs(all, w.cur.LastUID)
	high := w.cur.LastUID
	if len(uids) > 0 {
		high = uids[len(uids)-1]
	}
	w.mu.Lock()
	mark := w.mark
	w.mu.Unlock()
	for len(uids) > 0 {
		n := min(len(uids), fetchChunk)
		chunk := uids[:n]
		uids = uids[n:]
		if err := w.syncChunk(ctx, cl, chunk, since, mark); err != nil {
			return err
		}
	}
	// Whatever has a UID above high was not in the mailbox when the search
	// ran (or is older than since, and never read).
	w.mu.Lock()
	w.mark = watermark{At: searched, UID: high}
	w.mu.Unlock()
	return nil
}

func toUIDs(us []uint32) []goimap.UID {
	out := make([]goimap.UID, len(us))
	for i, u := range us {
		out[i] = goimap.UID(u)
	}
	return out
}

// syncChunk handles a sorted run of new UIDs.
func (w *Watcher) syncChunk(ctx context.Context, cl *imapclient.Client, chunk []uint32, since time.Time, mark watermark) error {
	var bufs []*imapclient.FetchMessageBuffer
	err := w.await(ctx, cl, "fetch dates", func() (err error) {
		bufs, err = cl.Fetch(goimap.UIDSetNum(toUIDs(chunk)...), &goimap.FetchOptions{UID: true, InternalDate: true, RFC822Size: true}).Collect()
		return err
	})
	if err != nil {
		return err
	}
	infos := make(map[uint32]msgInfo, len(bufs))
	for _, b := range bufs {
		infos[uint32(b.UID)] = msgInfo{UID: uint32(b.UID), Arrived: b.InternalDate, Size: b.RFC822Size}
	}
	dirty := false
	for _, uid := range chunk {
		handed := false
		if info, ok := infos[uid]; ok { // else expunged meanwhile
			switch judge(info, since, w.cfg.MaxMessageSize, mark) {
			case tooLarge:
				w.log.WarnContext(ctx, "imap: message skipped: too large", "uid", uid, "size", info.Size, "limit", w.cfg.MaxMessageSize)
			case read:
				if err := w.handOver(ctx, cl, info, mark); err != nil {
					return err
				}
				handed = true
			}
		}
		w.cur.LastUID = uid
		dirty = true
		if handed {
			// The message is with the handler: never hand it over again,
			// even if the watcher is being stopped (a hand-over may itself
			// end the demand that keeps it running).
			if err := w.h.SaveCursor(context.WithoutCancel(ctx), w.cur); err != nil {
				return err
			}
			dirty = false
		}
	}
	if dirty {
		return w.h.SaveCursor(ctx, w.cur)
	}
	return nil
}

// handOver fetches one message without changing its flags and gives it to
// the handler. A message the handler refuses for good is skipped; any
// other failure ends the session, before the cursor moves past it.
func (w *Watcher) handOver(ctx context.Context, cl *imapclient.Client, info msgInfo, mark watermark) error {
	limit := w.cfg.MaxMessageSize
	var raw []byte
	var tooBig bool
	err := w.await(ctx, cl, "fetch message", func() error {
		cmd := cl.Fetch(goimap.UIDSetNum(goimap.UID(info.UID)), &goimap.FetchOptions{
			UID: true, BodySection: []*goimap.FetchItemBodySection{{Peek: true}},
		})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			for item := msg.Next(); item != nil; item = msg.Next() {
				body, ok := item.(imapclient.FetchItemDataBodySection)
				if !ok || body.Literal == nil {
					continue
				}
				b, err := io.ReadAll(io.LimitReader(body.Literal, limit+1))
				if err != nil {
					cmd.Close()
					return err
				}
				if int64(len(b)) > limit {
					tooBig = true
					continue
				}
				raw = b
			}
		}
		return cmd.Close()
	})
	if err != nil {
		return err
	}
	if tooBig {
		w.log.WarnContext(ctx, "imap: message skipped: too large", "uid", info.UID, "limit", limit)
		return nil
	}
	if raw == nil {
		return nil // expunged meanwhile
	}
	now := w.now()
	err = w.h.Deliver(ctx, Message{
		UID: info.UID, Raw: raw, ReceivedAt: receivedAt(info, mark, now),
		ExternalID: externalID(raw, w.acct.Mailbox, w.cur.UIDValidity, info.UID),
	})
	if errors.Is(err, ErrSkip) {
		w.log.WarnContext(ctx, "imap: message refused; skipped", "uid", info.UID, "err", sanitizeError(err, w.acct.Password))
		return nil
	}
	if err != nil {
		return fmt.Errorf("hand over uid %d: %w", info.UID, err)
	}
	ctx = context.WithoutCancel(ctx) // finish what follows a hand-over
	if w.acct.MarkAsRead {
		err := w.await(ctx, cl, "mark as read", func() error {
			return cl.Store(goimap.UIDSetNum(goimap.UID(info.UID)), &goimap.StoreFlags{
				Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagSeen},
			}, nil).Close()
		})
		if err != nil {
			return err
		}
	}
	return w.report(ctx, func(st *agentotp.IMAPStatus) { st.LastMessageAt = now })
}

// idle waits in IDLE until the server announces mail, the restart
// interval passes (then NOOP checks the connection), or ctx ends.
func (w *Watcher) idle(ctx context.Context, cl *imapclient.Client) error {
	if err := w.setState(ctx, agentotp.IMAPStateIdle); err != nil {
		return err
	}
	var cmd *imapclient.IdleCommand
	err := w.await(ctx, cl, "idle", func() (err error) {
		cmd, err = cl.Idle()
		return err
	})
	if err != nil {
		return err
	}
	t := time.NewTimer(w.cfg.IdleRestart)
	defer t.Stop()
	keepalive := false
	select {
	case <-ctx.Done():
	case <-w.newMail:
	case <-t.C:
		keepalive = true
	case <-cl.Closed():
		return errConnLost
	}
	endCtx := ctx
	if ctx.Err() != nil {
		endCtx = context.WithoutCancel(ctx) // leave IDLE cleanly before logging out
	}
	if err := w.await(endCtx, cl, "end idle", func() error {
		if err := cmd.Close(); err != nil {
			return err
		}
		return cmd.Wait()
	}); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if keepalive {
		return w.await(ctx, cl, "noop", func() error { return cl.Noop().Wait() })
	}
	return nil
}

// poll waits the poll interval (or for news the server volunteers), then
// sends NOOP, which both checks the connection and lets the server report
// new mail.
func (w *Watcher) poll(ctx context.Context, cl *imapclient.Client) error {
	if err := w.setState(ctx, agentotp.IMAPStatePolling); err != nil {
		return err
	}
	t := time.NewTimer(w.acct.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-w.newMail:
	case <-t.C:
	case <-cl.Closed():
		return errConnLost
	}
	return w.await(ctx, cl, "noop", func() error { return cl.Noop().Wait() })
}
