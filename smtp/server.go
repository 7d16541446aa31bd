// Package smtp is the relay's SMTP receiver, built on
// github.com/emersion/go-smtp.
//
// A Server speaks SMTP on a listener and hands each accepted message to a
// Handler. It enforces the limits of the protocol edge: message size (552;
// one line may be as long as the message), recipients per message (452),
// concurrent connections (421), command and data timeouts, and AUTH only
// where it is safe (TLS, or a loopback peer, unless insecure AUTH is
// allowed). A Handler that also implements
// Authenticator makes AUTH PLAIN/LOGIN mandatory before MAIL (530).
//
// NewRelay returns the Handler for the relay itself: in its default mode
// the password is an email source token and the mail goes to that source's
// owner; in MX mode there is no AUTH, recipients map to sources by domain,
// and DKIM is verified. The edge capture (package capture) uses the same
// Server with its own Handler.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/extract"
)

// Error is an SMTP reply that refuses a command: a code, an enhanced status
// code and a text. Handlers return it to choose the reply.
type Error = gosmtp.SMTPError

// EnhancedCode is an RFC 3463 enhanced status code.
type EnhancedCode = gosmtp.EnhancedCode

// Replies the server and the relay handler use.
var (
	ErrAuthRequired  = &Error{Code: 530, EnhancedCode: EnhancedCode{5, 7, 0}, Message: "Authentication required: AUTH PLAIN or LOGIN with a source token as the password"}
	ErrAuthFailed    = &Error{Code: 535, EnhancedCode: EnhancedCode{5, 7, 8}, Message: "Authentication failed: the password must be an active email source token (sk_…)"}
	ErrAuthNeedsTLS  = &Error{Code: 538, EnhancedCode: EnhancedCode{5, 7, 11}, Message: "Encryption required: issue STARTTLS before AUTH"}
	ErrAuthTooMany   = &Error{Code: 421, EnhancedCode: EnhancedCode{4, 7, 0}, Message: "Too many failed authentications; closing"}
	ErrTooLarge      = &Error{Code: 552, EnhancedCode: EnhancedCode{5, 3, 4}, Message: "Message too large"}
	ErrTooManyConns  = &Error{Code: 421, EnhancedCode: EnhancedCode{4, 3, 2}, Message: "Too many connections; try again later"}
	ErrTemporary     = &Error{Code: 451, EnhancedCode: EnhancedCode{4, 3, 0}, Message: "Temporary failure; try again later"}
	ErrShuttingDown  = &Error{Code: 421, EnhancedCode: EnhancedCode{4, 3, 2}, Message: "The relay is shutting down; try again later"}
	ErrNoSuchDomain  = &Error{Code: 550, EnhancedCode: EnhancedCode{5, 1, 2}, Message: "No mailbox here by that domain; relaying denied"}
	ErrNotReadable   = &Error{Code: 554, EnhancedCode: EnhancedCode{5, 6, 0}, Message: "The message is not a readable RFC 5322 email"}
	errUnsupportedMe = &Error{Code: 504, EnhancedCode: EnhancedCode{5, 5, 4}, Message: "Unsupported authentication mechanism; use PLAIN or LOGIN"}
)

// Handler decides what a session may do and takes its mail.
type Handler interface {
	// Rcpt is called for each RCPT TO. It returns a value kept with the
	// recipient (for Data), or an error: an *Error chooses the reply.
	Rcpt(ctx context.Context, s *Session, to string) (any, error)
	// Data takes one message (at most Config.MaxMessageBytes). An *Error
	// chooses the reply; another error is a temporary failure (451).
	Data(ctx context.Context, s *Session, raw []byte) error
}

// Authenticator is implemented by a Handler that requires AUTH. It
// returns the identity of the session, or an error (an *Error chooses the
// reply; anything else is 535).
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (any, error)
}

// Recipient is one accepted RCPT TO and what the Handler kept with it.
type Recipient struct {
	Address string
	Value   any
}

// Session is one SMTP transaction's state as a Handler sees it.
type Session struct {
	Remote     net.Addr
	TLS        bool
	Identity   any // what Authenticate returned; nil before AUTH
	From       string
	Recipients []Recipient
}

// Config tunes a Server. Zero values take the defaults.
type Config struct {
	// Domain is the host name in the greeting (default "agentotp").
	Domain string
	// MaxMessageBytes bounds a message (default extract.MaxEmailSize, 10 MiB).
	MaxMessageBytes int64
	// MaxRecipients bounds RCPT TO per message (default 10).
	MaxRecipients int
	// MaxConns bounds concurrent connections (default 100).
	MaxConns int
	// ReadTimeout bounds the wait for a command (default 5 min), and
	// WriteTimeout a reply (default 1 min); DataTimeout bounds receiving
	// one message's data (default 10 min).
	ReadTimeout, WriteTimeout, DataTimeout time.Duration
	// HandleTimeout bounds the Handler's work on one message (default 30 s).
	HandleTimeout time.Duration
	// TLSConfig, when set, offers STARTTLS.
	TLSConfig *tls.Config
	// AllowInsecureAuth allows AUTH without TLS from a peer that is not on
	// loopback. Without it such a peer gets 538 and AUTH is not offered.
	AllowInsecureAuth bool
	// MaxAuthFailures closes a session after this many failed AUTH
	// attempts (default 3).
	MaxAuthFailures int
	// Logger receives the server's logs (never a password or message
	// text); nil discards them.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Domain == "" {
		c.Domain = "agentotp"
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = extract.MaxEmailSize
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = 10
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 100
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 5 * time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = time.Minute
	}
	if c.DataTimeout <= 0 {
		c.DataTimeout = 10 * time.Minute
	}
	if c.HandleTimeout <= 0 {
		c.HandleTimeout = 30 * time.Second
	}
	if c.MaxAuthFailures <= 0 {
		c.MaxAuthFailures = 3
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server is an SMTP receiver.
type Server struct {
	cfg   Config
	h     Handler
	srv   *gosmtp.Server
	conns atomic.Int64
	ctx   context.Context
	stop  context.CancelFunc

	// open holds the connections accepted and not yet closed, so that a
	// shutdown past its deadline can close them (go-smtp's Close does
	// nothing after its Shutdown).
	openMu sync.Mutex
	open   map[*countedConn]struct{}
	// busy is held shared by each Handler call in flight; Close and
	// Shutdown take it exclusively to wait for them, then set done, after
	// which no Handler call starts.
	busy sync.RWMutex
	done bool
	// closing is set when Shutdown starts.
	closing atomic.Bool
}

// New returns a server that hands messages to h.
func New(cfg Config, h Handler) *Server {
	cfg.defaults()
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, h: h, ctx: ctx, stop: stop, open: map[*countedConn]struct{}{}}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
	srv.Domain = cfg.Domain
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	// go-smtp bounds every line it reads, commands and message data
	// alike, at 2,000 bytes by default, and a longer line in DATA became a
	// temporary 451 that senders retry for days. Mail with long lines
	// (HTML in one line) is common: let a line be as long as the whole
	// message, so that only the size limit refuses it, permanently (552).
	// A command line is then bounded by the same figure, which a message
	// already costs.
	srv.MaxLineLength = lineLimit(cfg.MaxMessageBytes)
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.TLSConfig = cfg.TLSConfig
	// go-smtp allows AUTH only over TLS unless this is set; the finer rule
	// (TLS, loopback, or allowed) is applied per session in Auth.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = slogLogger{cfg.Logger}
	s.srv = srv
	return s
}

// lineLimit is go-smtp's line length limit for a message limit of max
// bytes: a little over max, so that the size limit (552) is what refuses
// a message made of one huge line.
func lineLimit(max int64) int {
	const slack = 1024 // the line end, dot-stuffing
	if max > math.MaxInt32-slack {
		return math.MaxInt32
	}
	return int(max) + slack
}

// Serve accepts connections on ln until Close or Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(&limitListener{Listener: ln, s: s})
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close closes the listeners and every connection at once, and waits for
// the Handler calls in flight (whose contexts it cancels).
func (s *Server) Close() error {
	err := s.srv.Close()
	s.closeOpen()
	s.stopHandlers()
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown closes the listeners and the sessions that are between
// transactions, lets those in a transaction finish it (each is closed
// after the reply that follows), and waits for them until ctx is done;
// then it closes the sessions still open. It returns once no Handler call
// is in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Shutdown(ctx) }()
	s.openMu.Lock()
	var idle []*countedConn
	for c := range s.open {
		if !c.inTx.Load() {
			idle = append(idle, c)
		}
	}
	s.openMu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	err := <-errc
	if ctx.Err() != nil {
		s.closeOpen()
	}
	s.stopHandlers()
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

// closeOpen closes every connection still open.
func (s *Server) closeOpen() {
	s.openMu.Lock()
	conns := make([]*countedConn, 0, len(s.open))
	for c := range s.open {
		conns = append(conns, c)
	}
	s.openMu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// stopHandlers cancels the Handler calls in flight, waits for them, and
// lets no new one start.
func (s *Server) stopHandlers() {
	s.stop()
	s.busy.Lock()
	s.done = true
	s.busy.Unlock()
}

// enter marks the start of a Handler call; it reports false once the
// server is closing, and the caller must then not call the Handler. A
// true answer must be followed by leave.
func (s *Server) enter() bool {
	s.busy.RLock()
	if s.done {
		s.busy.RUnlock()
		return false
	}
	return true
}

func (s *Server) leave() { s.busy.RUnlock() }

// limitListener turns away connections over MaxConns with a 421 reply.
type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.s.closing.Load() { // accepted as the listener closes
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(c, "%d %d.%d.%d %s\r\n", ErrShuttingDown.Code, ErrShuttingDown.EnhancedCode[0], ErrShuttingDown.EnhancedCode[1], ErrShuttingDown.EnhancedCode[2], ErrShuttingDown.Message)
			c.Close()
			continue
		}
		if l.s.conns.Add(1) > int64(l.s.cfg.MaxConns) {
			l.s.conns.Add(-1)
			l.s.cfg.Logger.Warn("smtp: connection refused: too many connections", "remote", c.RemoteAddr().String())
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(c, "%d %d.%d.%d %s\r\n", ErrTooManyConns.Code, ErrTooManyConns.EnhancedCode[0], ErrTooManyConns.EnhancedCode[1], ErrTooManyConns.EnhancedCode[2], ErrTooManyConns.Message)
			c.Close()
			continue
		}
		cc := &countedConn{Conn: c, s: l.s}
		l.s.openMu.Lock()
		l.s.open[cc] = struct{}{}
		l.s.openMu.Unlock()
		return cc, nil
	}
}

type countedConn struct {
	net.Conn
	s    *Server
	once sync.Once
	// hangUp closes the connection after the next reply is written.
	hangUp atomic.Bool
	// inTx is set from an accepted MAIL FROM to the end of the
	// transaction (DATA's reply, RSET): a shutdown lets it finish.
	inTx atomic.Bool
}

func (c *countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if c.hangUp.Load() {
		c.Close()
	}
	return n, err
}

// countedOf finds the countedConn under a (possibly TLS) connection.
func countedOf(c net.Conn) *countedConn {
	for {
		switch v := c.(type) {
		case *countedConn:
			return v
		case *tls.Conn:
			c = v.NetConn()
		default:
			return nil
		}
	}
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.s.conns.Add(-1)
		c.s.openMu.Lock()
		delete(c.s.open, c)
		c.s.openMu.Unlock()
	})
	return c.Conn.Close()
}

// session implements go-smtp's Session and AuthSession.
type session struct {
	s        *Server
	conn     *gosmtp.Conn
	st       Session
	failures int
}

func (s *Server) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{s: s, conn: c, st: Session{Remote: c.Conn().RemoteAddr(), TLS: isTLS}}, nil
}

func (se *session) authenticator() (Authenticator, bool) {
	a, ok := se.s.h.(Authenticator)
	return a, ok
}

// authAllowed reports whether AUTH may run on this connection.
func (se *session) authAllowed() bool {
	return se.st.TLS || se.s.cfg.AllowInsecureAuth || agentotp.LoopbackAddr(se.st.Remote.String())
}

// AuthMechanisms implements gosmtp.AuthSession.
func (se *session) AuthMechanisms() []string {
	if _, ok := se.authenticator(); !ok || !se.authAllowed() {
		return nil
	}
	return []string{"PLAIN", "LOGIN"}
}

// Auth implements gosmtp.AuthSession.
func (se *session) Auth(mech string) (saslServer, error) {
	a, ok := se.authenticator()
	if !ok {
		return nil, gosmtp.ErrAuthUnsupported
	}
	if se.failures >= se.s.cfg.MaxAuthFailures {
		if cc := countedOf(se.conn.Conn()); cc != nil {
			cc.hangUp.Store(true) // after the 421 reply
		} else {
			se.conn.Close()
		}
		return nil, ErrAuthTooMany
	}
	if !se.authAllowed() {
		return nil, ErrAuthNeedsTLS
	}
	check := func(username, password string) error {
		if !se.s.enter() {
			return ErrShuttingDown
		}
		defer se.s.leave()
		ctx, cancel := context.WithTimeout(se.s.ctx, se.s.cfg.HandleTimeout)
		defer cancel()
		id, err := a.Authenticate(ctx, username, password)
		if err != nil {
			se.failures++
			se.s.cfg.Logger.Info("smtp: authentication failed", "remote", se.st.Remote.String(), "failures", se.failures)
			var e *Error
			if errors.As(err, &e) {
				return e
			}
			return ErrAuthFailed
		}
		se.st.Identity = id
		return nil
	}
	switch mech {
	case "PLAIN":
		return newPlainServer(check), nil
	case "LOGIN":
		return newLoginServer(check), nil
	}
	return nil, errUnsupportedMe
}

// Mail implements gosmtp.Session.
func (se *session) Mail(from string, opts *gosmtp.MailOptions) error {
	if _, ok := se.authenticator(); ok && se.st.Identity == nil {
		return ErrAuthRequired
	}
	if opts != nil && opts.Size > se.s.cfg.MaxMessageBytes {
		return ErrTooLarge
	}
	se.st.From = from
	if cc := countedOf(se.conn.Conn()); cc != nil {
		cc.inTx.Store(true)
	}
	return nil
}

// Rcpt implements gosmtp.Session.
func (se *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if _, ok := se.authenticator(); ok && se.st.Identity == nil {
		return ErrAuthRequired
	}
	if !se.s.enter() {
		return ErrShuttingDown
	}
	defer se.s.leave()
	ctx, cancel := context.WithTimeout(se.s.ctx, se.s.cfg.HandleTimeout)
	defer cancel()
	v, err := se.s.h.Rcpt(ctx, &se.st, to)
	if err != nil {
		return replyFor(err, se.s.cfg.Logger)
	}
	se.st.Recipients = append(se.st.Recipients, Recipient{Address: to, Value: v})
	return nil
}

// Data implements gosmtp.Session: it reads the whole message (within the
// size limit and DataTimeout) and hands it to the Handler.
func (se *session) Data(r io.Reader) error {
	_ = se.conn.Conn().SetReadDeadline(time.Now().Add(se.s.cfg.DataTimeout))
	raw, err := io.ReadAll(r)
	var smtpErr *Error
	if errors.As(err, &smtpErr) {
		se.s.cfg.Logger.Info("smtp: message refused", "remote", se.st.Remote.String(), "code", smtpErr.Code)
		return smtpErr // 552 from go-smtp's size limit
	}
	if errors.Is(err, gosmtp.ErrTooLongLine) {
		// Only a line longer than the message limit gets here: permanent.
		se.s.cfg.Logger.Info("smtp: message refused: a line over the size limit", "remote", se.st.Remote.String())
		return ErrTooLarge
	}
	if err != nil {
		return ErrTemporary
	}
	if !se.s.enter() {
		return ErrShuttingDown
	}
	defer se.s.leave()
	ctx, cancel := context.WithTimeout(se.s.ctx, se.s.cfg.HandleTimeout)
	defer cancel()
	if err := se.s.h.Data(ctx, &se.st, raw); err != nil {
		return replyFor(err, se.s.cfg.Logger)
	}
	return nil
}

// Reset implements gosmtp.Session.
func (se *session) Reset() {
	se.st.From = ""
	se.st.Recipients = nil
	if cc := countedOf(se.conn.Conn()); cc != nil {
		cc.inTx.Store(false)
		if se.s.closing.Load() {
			cc.hangUp.Store(true) // the transaction is over: close after the next reply
		}
	}
}

// Logout implements gosmtp.Session.
func (se *session) Logout() error { return nil }

// replyFor turns a Handler error into the SMTP reply.
func replyFor(err error, log *slog.Logger) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	log.Error("smtp: handler failed", "err", err)
	return ErrTemporary
}

// slogLogger adapts go-smtp's error log to slog.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) { s.l.Warn("smtp: " + fmt.Sprintf(format, v...)) }
func (s slogLogger) Println(v ...any)               { s.l.Warn("smtp: " + fmt.Sprint(v...)) }
