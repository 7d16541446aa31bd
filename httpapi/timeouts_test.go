package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/internal/connlimit"
)

// TestWaitsOutliveServerTimeouts: on a server whose read, write, header
// and idle timeouts are all shorter than a long-poll's wait and an event
// stream's life, behind a connection bound that they fit under, the
// long-poll answers with the request object when its wait runs out and
// the stream keeps sending heartbeats: the idle and header timeouts do
// not touch a request in progress, net/http lifts the read deadline while
// a handler runs, and the handlers move their write deadlines.
func TestWaitsOutliveServerTimeouts(t *testing.T) {
	h := newHarness(t) // SSE heartbeat every 200 ms
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const short = 300 * time.Millisecond
	srv := &http.Server{Handler: h.api.Handler(), ReadTimeout: short, ReadHeaderTimeout: short, WriteTimeout: short, IdleTimeout: short}
	go srv.Serve(connlimit.New(tcp, connlimit.Config{Max: 3, MaxPerAddr: 3, HTTP503: true}))
	t.Cleanup(func() { srv.Close() })
	url := "http://" + tcp.Addr().String()

	_, na := h.agent("a", false)
	agent := client.New(na.APIKey, client.WithBaseURL(url), client.WithMaxRetries(0))
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(ctxT(t), client.RequestOptions{Reason: "Sign in", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *http.Response {
		r, _ := http.NewRequest(http.MethodGet, url+path, nil)
		r.Header.Set("Authorization", "Bearer "+na.APIKey)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	poll := make(chan string, 1)
	go func() {
		r, _ := http.NewRequest(http.MethodGet, url+"/v1/otp/"+req.ID+"?wait=2", nil)
		r.Header.Set("Authorization", "Bearer "+na.APIKey)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			poll <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var obj struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &obj) != nil || obj.ID != req.ID {
			poll <- resp.Status + " " + string(b)
			return
		}
		poll <- obj.Status
	}()

	stream := get("/v1/otp/" + req.ID + "/events")
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("events: %d", stream.StatusCode)
	}
	sc := bufio.NewScanner(stream.Body)
	beats := 0
	for beats < 12 && sc.Scan() { // 12 × 200 ms: 8 read timeouts over
		if strings.HasPrefix(sc.Text(), ": heartbeat") {
			beats++
		}
	}
	if beats < 12 {
		t.Fatalf("the event stream ended after %d heartbeats: %v", beats, sc.Err())
	}
	if got := <-poll; got != "pending_approval" {
		t.Fatalf("long-poll past the read timeout: %s; want the request object", got)
	}
}
