// Package connlimit bounds the connections a listener hands out: in all,
// and per client address (an IPv6 client by its /64, which one host
// usually holds whole). A connection over a bound is refused at once, so
// that file descriptors cannot run out: it gets a short plain-HTTP 503
// when the listener serves plain HTTP, and is closed otherwise.
package connlimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config sets the bounds. A bound of 0 or less is no bound.
type Config struct {
	// Max bounds the open connections in all.
	Max int
	// MaxPerAddr bounds the open connections of one client address.
	MaxPerAddr int
	// Exempt are the client addresses MaxPerAddr does not bind (only
	// Max does): serve passes loopback, where a reverse proxy or the
	// agents on the same host connect from.
	Exempt []netip.Prefix
	// HTTP503 answers a refused connection with a plain-HTTP 503 before
	// closing it; leave it off when the listener's connections carry TLS.
	HTTP503 bool
	// Logger receives a warning for each refusal; nil discards them.
	Logger *slog.Logger
}

// lingers bounds the refused connections being answered at once; beyond
// it a refused connection is closed without an answer. Each lingers for
// at most lingerTime, reading what the client sent, so that closing does
// not reset the connection before the client read the 503.
const (
	lingers    = 64
	lingerTime = time.Second
	lingerMax  = 64 << 10
)

// Listener is a net.Listener that enforces Config.
type Listener struct {
	net.Listener
	cfg   Config
	log   *slog.Logger
	slots chan struct{} // refusals being answered

	mu      sync.Mutex
	open    int
	byAddr  map[netip.Prefix]int
	refused int       // refusals not yet logged
	logged  time.Time // when a refusal was last logged
}

// logRefusal logs a refusal, at most one a second (a flood of refused
// connections must not become a flood of log lines), with the number of
// refusals since the last line.
func (l *Listener) logRefusal(why string, key netip.Prefix) {
	l.mu.Lock()
	l.refused++
	now := time.Now()
	if now.Sub(l.logged) < time.Second {
		l.mu.Unlock()
		return
	}
	n := l.refused
	l.refused, l.logged = 0, now
	l.mu.Unlock()
	l.log.Warn("connection refused: "+why, "remote", key.String(), "refused", n)
}

// New returns ln with the bounds of cfg.
func New(ln net.Listener, cfg Config) *Listener {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, cfg: cfg, log: log, slots: make(chan struct{}, lingers), byAddr: map[netip.Prefix]int{}}
}

// Open returns the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Accept returns the next connection within the bounds; connections over
// them are refused and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, exempt := l.addrKey(c.RemoteAddr())
		why := l.take(key, exempt)
		if why == "" {
			return &conn{Conn: c, l: l, key: key, exempt: exempt}, nil
		}
		l.logRefusal(why, key)
		l.refuse(c, why)
	}
}

// take counts a new connection of key in, or says which bound it is over.
func (l *Listener) take(key netip.Prefix, exempt bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Max > 0 && l.open >= l.cfg.Max {
		return "too many connections"
	}
	if !exempt && l.cfg.MaxPerAddr > 0 && l.byAddr[key] >= l.cfg.MaxPerAddr {
		return "too many connections from this address"
	}
	l.open++
	if !exempt {
		l.byAddr[key]++
	}
	return ""
}

func (l *Listener) release(key netip.Prefix, exempt bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if !exempt {
		if l.byAddr[key]--; l.byAddr[key] <= 0 {
			delete(l.byAddr, key)
		}
	}
}

// refuse answers c with a 503 (when HTTP503 and a lingering slot is free)
// and closes it.
func (l *Listener) refuse(c net.Conn, why string) {
	if !l.cfg.HTTP503 {
		c.Close()
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.slots }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(lingerTime))
		body := fmt.Sprintf(`{"type":"about:blank","title":"Service Unavailable","status":503,"code":"SERVICE_UNAVAILABLE","message":"%s; retry later","detail":"%s; retry later","retry_after":1}`+"\n", why, why)
		fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		// Half-close, then drain what the client sent, so that the close
		// is a FIN the client reads after the answer, not a reset.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		buf := make([]byte, 4096)
		for n := 0; n < lingerMax; {
			m, err := c.Read(buf)
			n += m
			if err != nil {
				return
			}
		}
	}()
}

// addrKey is the key a client address is counted under: the IPv4
// address, or the /64 of an IPv6 one; and whether MaxPerAddr spares it
// (an exempt address, or one that is not IP, such as a Unix socket's).
func (l *Listener) addrKey(a net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}, true
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.cfg.Exempt {
		if p.Contains(ip) {
			return netip.PrefixFrom(ip, ip.BitLen()), true
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p, false
	}
	return netip.PrefixFrom(ip, 32), false
}

// Loopback is the loopback range, IPv4 and IPv6, for Config.Exempt.
func Loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// conn counts itself out when closed.
type conn struct {
	net.Conn
	l      *Listener
	key    netip.Prefix
	exempt bool
	once   sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key, c.exempt) })
	return err
}

// CloseWrite half-closes the connection when the one underneath can, as
// net/http does before closing a connection whose request it did not
// read whole.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
