package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeConnectionBounds: `serve --max-conns 3` takes three TCP
// connections (loopback ones are not bound by --max-conns-per-ip, here
// 1), answers a fourth at once with 503 problem+json, and once one of the
// three closes, a long-poll gets in and answers with the request when its
// wait runs out.
func TestServeConnectionBounds(t *testing.T) {
	r := startMain(t, "--max-conns", "3", "--max-conns-per-ip", "1")
	key, id := r.agentWithRequest(t)
	host := strings.TrimPrefix(r.url, "http://")
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(30 * time.Second))
		return c
	}
	// Three connections, each shown to be taken by a request answered on it.
	// (The set-up's connections close without keep-alive; until the
	// server has counted them out, a new one may still be refused.)
	var held []net.Conn
	for deadline := time.Now().Add(10 * time.Second); len(held) < 3; {
		c := dial()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatalf("connection %d: %v %v", len(held)+1, resp, err)
			}
			c.Close()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		resp.Body.Close()
		held = append(held, c)
	}
	over := dial()
	io.WriteString(over, "GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil {
		t.Fatalf("a fourth connection: %v; want a 503", err)
	}
	body, _ := io.ReadAll(resp.Body)
	var p struct{ Code string }
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		json.Unmarshal(body, &p) != nil || p.Code != "SERVICE_UNAVAILABLE" {
		t.Fatalf("a fourth connection: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	held[0].Close()
	var poll *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; {
		req, _ := http.NewRequest(http.MethodGet, r.url+"/v1/otp/"+id+"?wait=1", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		poll, err = (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err == nil && poll.StatusCode == http.StatusOK {
			break
		}
		if err == nil {
			poll.Body.Close()
		}
		if time.Now().After(deadline) { // the server counts the close once it sees it
			t.Fatalf("long-poll after a connection closed: %v %v", poll, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer poll.Body.Close()
	var obj struct{ ID, Status string }
	if err := json.NewDecoder(poll.Body).Decode(&obj); err != nil || obj.ID != id || obj.Status != "pending_approval" {
		t.Fatalf("long-poll under the bound: %+v %v", obj, err)
	}
}
