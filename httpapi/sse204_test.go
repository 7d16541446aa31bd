package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/agentotp/agentotp/client"
)

// TestSSEFinishedRequestIs204: a client that reconnects to the stream of a
// finished request holding its last state gets 204, which stops an
// EventSource; a live stream's headers arrive before any change.
func TestSSEFinishedRequestIs204(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("watcher", false)
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Sign up", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	get := func(last string) *http.Response {
		hr, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/v1/otp/"+req.ID+"/events", nil)
		hr.Header.Set("Authorization", "Bearer "+na.APIKey)
		if last != "" {
			hr.Header.Set("Last-Event-ID", last)
		}
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Live, first contact: the headers and the current state come at once.
	res := get("")
	line, id := "", ""
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line = sc.Text()
		if strings.HasPrefix(line, "id: ") {
			id = strings.TrimPrefix(line, "id: ")
			break
		}
	}
	res.Body.Close()
	if res.StatusCode != 200 || id == "" {
		t.Fatalf("live stream: %d, id %q", res.StatusCode, id)
	}
	// Live, with the current state: Do returns (headers sent) although
	// nothing changes.
	res = get(id)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("resumed live stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res.Body.Close()

	if _, err := agent.CancelOTPRequest(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	// Finished, without a state: the final state once, 200.
	res = get("")
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	res.Body.Close()
	final := ""
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, "id: ") {
			final = strings.TrimPrefix(l, "id: ")
		}
		if strings.HasPrefix(l, "data: ") {
			var v struct{ Status string }
			_ = json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &v)
			if v.Status != "cancelled" {
				t.Errorf("final event status %q", v.Status)
			}
		}
	}
	if res.StatusCode != 200 || final == "" {
		t.Fatalf("finished stream: %d, %q", res.StatusCode, buf.String())
	}
	// Finished, and the client has that state: 204.
	res = get(final)
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("finished stream with its last state: %d, want 204", res.StatusCode)
	}
}
