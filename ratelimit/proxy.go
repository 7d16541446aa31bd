package ratelimit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Forwarding headers a trusted proxy may write.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// Proxies are the reverse proxies whose word on the client's address is
// believed: a request whose peer is one of them is from the rightmost
// address of the forwarding header that is not itself one of them. Any
// other request is from its peer, whatever headers it carries. A nil
// Proxies trusts nobody.
type Proxies struct {
	nets   []netip.Prefix
	header string // HeaderXForwardedFor or HeaderForwarded
}

// MaxForwardHops bounds the hops of a forwarding header that are read.
// A longer chain is read from its right end only.
const MaxForwardHops = 32

// ParseProxies returns the proxies of cidrs (each a CIDR such as
// "10.0.0.0/8", or one address), whose client address is read from
// header: "X-Forwarded-For" (the default when empty) or "Forwarded"
// (RFC 7239). Only the header the proxy writes may be read: a client
// can send the other one, and a proxy passes it on unchanged.
func ParseProxies(cidrs []string, header string) (*Proxies, error) {
	switch {
	case header == "" || strings.EqualFold(header, HeaderXForwardedFor):
		header = HeaderXForwardedFor
	case strings.EqualFold(header, HeaderForwarded):
		header = HeaderForwarded
	default:
		return nil, fmt.Errorf("proxy header must be %s or %s, not %q", HeaderXForwardedFor, HeaderForwarded, header)
	}
	p := &Proxies{header: header}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		var pre netip.Prefix
		var err error
		if strings.Contains(c, "/") {
			pre, err = netip.ParsePrefix(c)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(c); err == nil {
				pre = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not a CIDR or an IP address", c)
		}
		if pre.Addr().Is4In6() {
			pre = netip.PrefixFrom(pre.Addr().Unmap(), max(0, pre.Bits()-96))
		}
		p.nets = append(p.nets, pre.Masked())
	}
	return p, nil
}

// trusted reports whether a is one of the proxies.
func (p *Proxies) trusted(a netip.Addr) bool {
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the address r came from: its peer, or, when the peer
// is a trusted proxy, the rightmost hop of the forwarding header that is
// not. When every hop is trusted it is the leftmost; when the hop it would
// be cannot be read (absent, "unknown", an obfuscated name), it is the
// last trusted hop before it, so that a proxy that forwards no address
// puts its clients under its own address rather than under one they
// choose. ok is false when the peer is not an IP address.
func (p *Proxies) ClientAddr(r *http.Request) (addr netip.Addr, ok bool) {
	peer, ok := peerAddr(r.RemoteAddr)
	if !ok || p == nil || len(p.nets) == 0 || !p.trusted(peer) {
		return peer, ok
	}
	hops := forwardHops(r.Header.Values(p.header), p.header == HeaderForwarded)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client, true
		}
		client = a
		if !p.trusted(a) {
			return a, true
		}
	}
	return client, true
}

// peerAddr parses r.RemoteAddr (host:port, or a bare host).
func peerAddr(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// forwardHops lists the hops of the header's values, leftmost first, at
// most MaxForwardHops of them (the rightmost). For Forwarded, a hop is
// the for= parameter of an element ("" when it has none).
func forwardHops(values []string, forwarded bool) []string {
	var hops []string
	for _, v := range values {
		for el := range strings.SplitSeq(v, ",") {
			el = strings.TrimSpace(el)
			if forwarded {
				el = forwardedFor(el)
			}
			hops = append(hops, el)
		}
	}
	if len(hops) > MaxForwardHops {
		hops = hops[len(hops)-MaxForwardHops:]
	}
	return hops
}

// forwardedFor returns the for= parameter of one Forwarded element
// (`for=192.0.2.1;proto=https`), unquoted, or "".
func forwardedFor(el string) string {
	for pair := range strings.SplitSeq(el, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// parseHop reads one hop: an address, with or without a port, IPv6
// bracketed or not.
func parseHop(h string) (netip.Addr, bool) {
	h = strings.TrimSpace(h)
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	a, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

type clientKey struct{}

// Middleware resolves each request's client address once (ClientAddr)
// and keeps it on the request's context, where [ClientIP] finds it: every
// per-address limit and the access log behind it then agree.
func (p *Proxies) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := p.ClientAddr(r); ok {
			r = r.WithContext(context.WithValue(r.Context(), clientKey{}, a))
		}
		next.ServeHTTP(w, r)
	})
}

// clientFromContext is the address Middleware resolved, if it ran.
func clientFromContext(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(clientKey{}).(netip.Addr)
	return a, ok
}

// HeaderName is the forwarding header the proxies are read from.
func (p *Proxies) HeaderName() string {
	if p == nil || p.header == "" {
		return HeaderXForwardedFor
	}
	return p.header
}
