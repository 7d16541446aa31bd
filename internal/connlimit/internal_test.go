package connlimit

import (
	"net"
	"testing"
)

// TestAddrKey: IPv4 addresses count one by one, IPv6 ones by their /64,
// IPv4-mapped IPv6 as IPv4, and exempt or non-IP addresses are spared.
func TestAddrKey(t *testing.T) {
	l := New(nil, Config{Exempt: Loopback()})
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 4242} }
	for _, tc := range []struct {
		addr   net.Addr
		key    string
		exempt bool
	}{
		{tcp("203.0.113.7"), "203.0.113.7/32", false},
		{tcp("::ffff:203.0.113.7"), "203.0.113.7/32", false},
		{tcp("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64", false},
		{tcp("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64", false},
		{tcp("2001:db8:1:3::1"), "2001:db8:1:3::/64", false},
		{tcp("127.0.0.1"), "127.0.0.1/32", true},
		{tcp("127.8.9.10"), "127.8.9.10/32", true},
		{tcp("::1"), "::1/128", true},
		{&net.UnixAddr{Name: "/run/agentotp.sock", Net: "unix"}, "invalid Prefix", true},
	} {
		key, exempt := l.addrKey(tc.addr)
		if key.String() != tc.key || exempt != tc.exempt {
			t.Errorf("%v: %s %v; want %s %v", tc.addr, key, exempt, tc.key, tc.exempt)
		}
	}
}
