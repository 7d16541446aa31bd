package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// AddressError is a refused target address.
type AddressError struct {
	Addr   netip.Addr
	Reason string // "loopback", "private", "cloud metadata", …
	// Allowable reports whether serve --allow-private-webhooks would let
	// the address through.
	Allowable bool
}

// Error implements error.
func (e *AddressError) Error() string {
	s := fmt.Sprintf("webhook target %s is a %s address and is refused", e.Addr, e.Reason)
	if e.Allowable {
		s += " (serve --allow-private-webhooks allows it)"
	}
	return s
}

// ErrRefusedAddress is the class of every AddressError, for errors.Is.
var ErrRefusedAddress = errors.New("webhook: refused target address")

// Is makes errors.Is(err, ErrRefusedAddress) hold.
func (e *AddressError) Is(target error) bool { return target == ErrRefusedAddress }

type prefixClass struct {
	p         netip.Prefix
	reason    string
	allowable bool // with --allow-private-webhooks
}

// metadataAddrs are the cloud providers' instance-metadata endpoints: never
// a webhook receiver, refused even where private targets are allowed.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, DigitalOcean, …
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("169.254.170.23"),  // AWS EKS pod identity
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
	netip.MustParseAddr("fd00:ec2::23"),    // AWS EKS pod identity over IPv6
}

// classes lists the refused ranges, most specific reason first.
var classes = func() []prefixClass {
	mk := func(reason string, allowable bool, cidrs ...string) []prefixClass {
		var out []prefixClass
		for _, c := range cidrs {
			out = append(out, prefixClass{netip.MustParsePrefix(c), reason, allowable})
		}
		return out
	}
	var cs []prefixClass
	cs = append(cs, mk("unspecified", false, "0.0.0.0/8", "::/128")...)
	cs = append(cs, mk("multicast", false, "224.0.0.0/4", "ff00::/8")...)
	cs = append(cs, mk("broadcast or reserved", false, "240.0.0.0/4")...)
	cs = append(cs, mk("loopback", true, "127.0.0.0/8", "::1/128")...)
	cs = append(cs, mk("private", true, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")...)
	cs = append(cs, mk("link-local", true, "169.254.0.0/16", "fe80::/10")...)
	cs = append(cs, mk("unique-local", true, "fc00::/7")...)
	cs = append(cs, mk("shared (CGNAT)", true, "100.64.0.0/10")...)
	cs = append(cs, mk("special-purpose", true, "192.0.0.0/24", "198.18.0.0/15", "192.0.2.0/24",
		"198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "2001::/32", "100::/64")...)
	return cs
}()

// CheckAddr returns an *AddressError when ip may not receive webhooks, or
// nil. IPv4 addresses inside IPv6 (mapped, NAT64, 6to4) are judged by the
// IPv4 address they carry.
func CheckAddr(ip netip.Addr, allowPrivate bool) error {
	ip = ip.WithZone("").Unmap()
	for _, m := range metadataAddrs {
		if ip == m {
			return &AddressError{Addr: ip, Reason: "cloud metadata"}
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(ip): // NAT64
			if err := CheckAddr(netip.AddrFrom4([4]byte(b[12:16])), allowPrivate); err != nil {
				return err
			}
		case netip.MustParsePrefix("2002::/16").Contains(ip): // 6to4
			if err := CheckAddr(netip.AddrFrom4([4]byte(b[2:6])), allowPrivate); err != nil {
				return err
			}
		}
	}
	for _, c := range classes {
		if c.p.Contains(ip) {
			if c.allowable && allowPrivate {
				return nil
			}
			return &AddressError{Addr: ip, Reason: c.reason, Allowable: c.allowable}
		}
	}
	return nil
}

// control is the dialer's Control function: it runs after DNS, on the
// address about to be connected, so what is checked is what is used.
func control(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook: unexpected dial address %q: %w", address, err)
		}
		return CheckAddr(ap.Addr(), allowPrivate)
	}
}

// NewHTTPClient returns the client that delivers webhooks: every
// connection goes through the address guard, no proxy from the
// environment is used (it would connect on the relay's behalf, past the
// guard), redirects are returned rather than followed, and each request
// is bounded by timeout.
func NewHTTPClient(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: control(allowPrivate)}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
