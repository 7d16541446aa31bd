package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
)

// faultProxy stands in front of the real relay and answers the first
// long-polls with the faults a restarting relay (or a proxy before it)
// produces; then it passes calls through.
type faultProxy struct {
	mu     sync.Mutex
	faults []func(w http.ResponseWriter, r *http.Request)
	served chan struct{} // closed once every fault was served
	proxy  *httputil.ReverseProxy
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("wait") {
		p.mu.Lock()
		var f func(http.ResponseWriter, *http.Request)
		if len(p.faults) > 0 {
			f, p.faults = p.faults[0], p.faults[1:]
			if len(p.faults) == 0 {
				defer close(p.served)
			}
		}
		p.mu.Unlock()
		if f != nil {
			f(w, r)
			return
		}
	}
	p.proxy.ServeHTTP(w, r)
}

func problem(status int, retryAfter string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":%d,"message":"restarting"}`, status)
	}
}

func bare(status int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }
}

func body200(s string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(s))
	}
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestWaitRidesOutTransientFaults: a wait (the long-poll one and the
// event-stream one) goes on through a reset connection, 503 with
// Retry-After, 502, 504 without it, a truncated and an empty 200, and a
// request object still pending, and returns the code's status; an error
// that is not transient ends the wait at once.
func TestWaitRidesOutTransientFaults(t *testing.T) {
	ctx := context.Background()
	relayURL, _ := url.Parse(os.Getenv("AGENTOTP_URL"))
	faults := func() []func(http.ResponseWriter, *http.Request) {
		return []func(http.ResponseWriter, *http.Request){
			reset,
			problem(http.StatusServiceUnavailable, "1"),
			bare(http.StatusBadGateway),
			problem(http.StatusGatewayTimeout, ""),
			body200(`{"id":"otp_x","status":"pend`),
			body200(``),
			body200(`{}`),
		}
	}
	p := &faultProxy{faults: faults(), served: make(chan struct{}), proxy: httputil.NewSingleHostReverseProxy(relayURL)}
	srv := httptest.NewServer(p)
	defer srv.Close()

	key := ownTestKey(t)
	otp := client.New(key, client.WithBaseURL(srv.URL), client.WithBackoff(10*time.Millisecond))
	direct := client.New(key)
	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "faults", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{SenderPattern: "FAULTS"}})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-p.served
		direct.SendTestMessage(ctx, client.TestMessage{Source: "sms", Sender: "FAULTS", Text: "Your code is 771203"})
	}()
	var mu sync.Mutex
	var retried []string
	got, err := otp.WaitForOTPWith(ctx, req.ID, client.WaitOptions{Timeout: time.Minute, Poll: 2 * time.Second,
		OnWait: func(_ *client.OTPRequest, retrying error) {
			if retrying != nil {
				mu.Lock()
				retried = append(retried, retrying.Error())
				mu.Unlock()
			}
		}})
	if err != nil || got.Status != client.StatusOTPReceived {
		t.Fatalf("WaitForOTPWith = %v, %v; want otp_received", got, err)
	}
	// Once per fault; net/http itself re-sends a GET whose reused
	// connection closed before any answer, so the reset may not show.
	if n := len(retried); n < len(faults())-1 || n > len(faults()) {
		t.Fatalf("retried %d times (%q); want once per fault (%d)", n, retried, len(faults()))
	}
	res, err := otp.ConsumeOTP(ctx, req.ID, priv)
	if err != nil || res.Code != "771203" {
		t.Fatalf("consume: %v, %v", res, err)
	}

	// The event-stream wait through the same faults on its stream.
	req, err = otp.RequestOTP(ctx, client.RequestOptions{Reason: "faults events", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{SenderPattern: "FAULTS2"}})
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") && served < 4 {
			served++
			[]func(http.ResponseWriter, *http.Request){reset, problem(503, "1"), bare(502), problem(504, "")}[served-1](w, r)
			if served == 4 {
				go direct.SendTestMessage(ctx, client.TestMessage{Source: "sms", Sender: "FAULTS2", Text: "Your code is 771204"})
			}
			return
		}
		p.proxy.ServeHTTP(w, r)
	}))
	defer sse.Close()
	otp2 := client.New(key, client.WithBaseURL(sse.URL), client.WithBackoff(10*time.Millisecond), client.WithMaxRetries(1))
	got, err = otp2.WaitForOTPEvents(ctx, req.ID, time.Minute)
	if err != nil || got.Status != client.StatusOTPReceived {
		t.Fatalf("WaitForOTPEvents = %v, %v; want otp_received", got, err)
	}

	// Not transient: the wait ends at once with the error's class.
	gone := httptest.NewServer(http.HandlerFunc(problem(http.StatusUnauthorized, "")))
	defer gone.Close()
	_, err = client.New("ak_test_x", client.WithBaseURL(gone.URL)).WaitForOTP(ctx, req.ID, time.Minute)
	if !errors.Is(err, client.ErrAuthentication) || client.Transient(err) {
		t.Fatalf("a 401 during a wait: %v; want ErrAuthentication at once", err)
	}
}
