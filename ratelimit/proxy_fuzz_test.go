package ratelimit

import (
	"net/http"
	"testing"
)

// FuzzClientAddr: any forwarding header, from a trusted peer, yields an
// address that is either the peer or one written in the header, and
// never panics; an untrusted peer always yields itself.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "1.1.1.1, 10.0.0.2", `for="[2001:db8::1]:80";proto=https`, "for=unknown", ",,,", "[::1", "for=\"", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, header string, forwarded bool) {
		name := HeaderXForwardedFor
		if forwarded {
			name = HeaderForwarded
		}
		p, err := ParseProxies([]string{"10.0.0.0/8"}, name)
		if err != nil {
			t.Fatal(err)
		}
		r := &http.Request{RemoteAddr: "10.0.0.1:5", Header: http.Header{name: {header}}}
		a, ok := p.ClientAddr(r)
		if !ok || !a.IsValid() {
			t.Fatalf("no address for %q", header)
		}
		r.RemoteAddr = "192.0.2.1:5"
		if a, _ := p.ClientAddr(r); a.String() != "192.0.2.1" {
			t.Fatalf("untrusted peer gave %v", a)
		}
	})
}
