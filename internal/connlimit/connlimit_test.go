package connlimit_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/connlimit"
)

// server accepts on a limited loopback listener and holds every
// connection it gets until the test ends, or answers HTTP when h is set.
func server(t *testing.T, cfg connlimit.Config, h http.Handler) (*connlimit.Listener, string) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := connlimit.New(tcp, cfg)
	if h != nil {
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return ln, tcp.Addr().String()
	}
	held := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(held)
		for c := range held {
			c.Close()
		}
	})
	return ln, tcp.Addr().String()
}

// dialFrom connects to addr from the local address from ("" for any).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether c gets the 503 and its end: the refusal.
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /v1/otp/otp_x?wait=55 HTTP/1.1\r\nHost: relay\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false // a timeout: the connection was taken
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(body), `"code":"SERVICE_UNAVAILABLE"`) {
		t.Fatalf("refusal: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	return true
}

// waitOpen waits until ln counts n connections open.
func waitOpen(t *testing.T, ln *connlimit.Listener, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ln.Open() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open; want %d", ln.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMax: past Max open connections a new one gets a 503 at once.
func TestMax(t *testing.T) {
	ln, addr := server(t, connlimit.Config{Max: 2, HTTP503: true}, nil)
	dialFrom(t, "", addr)
	dialFrom(t, "", addr)
	waitOpen(t, ln, 2)
	if !refused(t, dialFrom(t, "", addr)) {
		t.Fatal("a third connection was taken with Max 2")
	}
	if ln.Open() != 2 {
		t.Fatalf("%d open after a refusal; want 2", ln.Open())
	}
}

// TestMaxReleasesOnClose: a connection the server closes frees its
// place.
func TestMaxReleasesOnClose(t *testing.T) {
	ln, addr := server(t, connlimit.Config{Max: 1, HTTP503: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "ok")
	}))
	for i := range 3 { // one after another, each within the bound
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		waitOpen(t, ln, 0)
	}
}

// TestMaxPerAddr: one address may hold MaxPerAddr connections; another
// address still gets in; an exempt address is bound only by Max.
func TestMaxPerAddr(t *testing.T) {
	ln, addr := server(t, connlimit.Config{Max: 10, MaxPerAddr: 2, HTTP503: true,
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}}, nil)
	dialFrom(t, "127.0.0.1", addr)
	dialFrom(t, "127.0.0.1", addr)
	waitOpen(t, ln, 2)
	if !refused(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("a third connection from one address was taken with MaxPerAddr 2")
	}
	dialFrom(t, "127.0.0.2", addr)
	for range 4 {
		dialFrom(t, "127.0.0.3", addr)
	}
	waitOpen(t, ln, 7)
}

// TestNoHTTP503: without HTTP503 (a TLS listener) a refused connection is
// closed without a byte.
func TestNoHTTP503(t *testing.T) {
	ln, addr := server(t, connlimit.Config{Max: 1}, nil)
	dialFrom(t, "", addr)
	waitOpen(t, ln, 1)
	c := dialFrom(t, "", addr)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("refused TLS-side connection: read %d, %v; want it closed", n, err)
	}
}
