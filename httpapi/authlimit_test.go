package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/ratelimit"
)

// TestFailuresDoNotLockOutValidCredentials: once a client has spent its
// address's budget of failed authentications, valid credentials from the
// same address (an agent key, the owner token, a source token, a signed
// SMS-gateway webhook) still get through, while failures stay refused
// with 429 and Retry-After. Before the fix every one of them got 429.
func TestFailuresDoNotLockOutValidCredentials(t *testing.T) {
	h := newHarness(t, func(c *httpapi.Config) { c.FailedAuthRate = 3 })
	_, na := h.agent("a", false)
	_, srcToken := h.source("sms")
	const bad = "ak_live_0000000000000000000000000000000000000000"
	for i := range 3 {
		if status, body, _ := h.call(http.MethodGet, "/v1/otp/otp_x", bad, "", nil); status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i, status, body)
		}
	}
	refused := func(t *testing.T, status int, body []byte, hdr http.Header) {
		t.Helper()
		p := decodeProblem(t, body)
		if status != http.StatusTooManyRequests || p.Code != agentotp.ERateLimit || p.RetryAfter < 1 || hdr.Get("Retry-After") == "" {
			t.Fatalf("%d %s %v; want 429 with Retry-After", status, body, hdr)
		}
	}
	for _, tc := range []struct {
		name string
		call func() (int, []byte, http.Header)
	}{
		{"a wrong key", func() (int, []byte, http.Header) { return h.call(http.MethodGet, "/v1/otp/otp_x", bad, "", nil) }},
		{"no key", func() (int, []byte, http.Header) { return h.call(http.MethodGet, "/v1/otp/otp_x", "", "", nil) }},
		{"an owner token on an agent route", func() (int, []byte, http.Header) {
			return h.call(http.MethodGet, "/v1/otp/otp_x", h.ownerToken, "", nil)
		}},
		{"a webhook signed with no source's token", func() (int, []byte, http.Header) {
			status, body := h.postGate("", gateBody("ev-bad", "+15550001", "code 123456"), "not-a-source-token", h.unixNow())
			return status, body, http.Header{"Retry-After": {"1"}}
		}},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			status, body, hdr := tc.call()
			refused(t, status, body, hdr)
		})
	}
	for _, tc := range []struct {
		name string
		want int
		call func() (int, []byte, http.Header)
	}{
		{"a valid agent key", http.StatusNotFound, func() (int, []byte, http.Header) {
			return h.call(http.MethodGet, "/v1/otp/otp_x", na.APIKey, "", nil)
		}},
		{"the owner token", http.StatusOK, func() (int, []byte, http.Header) {
			return h.call(http.MethodGet, "/v1/owner/agents", h.ownerToken, "", nil)
		}},
		{"a source token", http.StatusOK, func() (int, []byte, http.Header) {
			return h.call(http.MethodGet, "/v1/capture/requests", srcToken, "", nil)
		}},
		{"a signed SMS-gateway webhook", http.StatusAccepted, func() (int, []byte, http.Header) {
			status, body := h.postGate("", gateBody("ev-1", "+15550001", "code 123456"), srcToken, h.unixNow())
			return status, body, nil
		}},
	} {
		t.Run("admitted/"+tc.name, func(t *testing.T) {
			if status, body, _ := tc.call(); status != tc.want {
				t.Fatalf("%d %s; want %d", status, body, tc.want)
			}
		})
	}
}

// TestFailuresCountOnlyFailures: any number of valid calls spends
// nothing of the address's budget of failures.
func TestFailuresCountOnlyFailures(t *testing.T) {
	h := newHarness(t, func(c *httpapi.Config) { c.FailedAuthRate = 2 })
	for i := range 10 {
		if status, body, _ := h.call(http.MethodGet, "/v1/owner/agents", h.ownerToken, "", nil); status != http.StatusOK {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
	}
	const bad = "ak_live_0000000000000000000000000000000000000000"
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		if status, body, _ := h.call(http.MethodGet, "/v1/otp/otp_x", bad, "", nil); status != want {
			t.Fatalf("failure %d: %d %s; want %d", i, status, body, want)
		}
	}
}

// TestTrustedProxy: behind a trusted proxy the client is the rightmost
// untrusted hop of X-Forwarded-For, so one client's failures do not
// refuse another client of the same proxy, and the access log names the
// client. From an untrusted peer the header is ignored: a client cannot
// escape its limit by inventing addresses.
func TestTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		// whether the second client (another forwarded address) is
		// refused after the first spent the budget
		sharedBudget bool
	}{
		{"trusted loopback proxy", []string{"127.0.0.0/8", "::1"}, false},
		{"untrusted peer", []string{"10.0.0.0/8"}, true},
		{"no proxies", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxies, err := ratelimit.ParseProxies(tc.trusted, "")
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, func(c *httpapi.Config) { c.FailedAuthRate = 2; c.Proxies = proxies })
			call := func(xff string) int {
				req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/otp/otp_x", nil)
				req.Header.Set("Authorization", "Bearer ak_live_0000000000000000000000000000000000000000")
				// A spoofed hop on the left, as a client may send it, then
				// the address the proxy appended.
				req.Header.Set("X-Forwarded-For", "203.0.113.99, "+xff)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for i, want := range []int{401, 401, 429} {
				if got := call("198.51.100.1"); got != want {
					t.Fatalf("first client, call %d: %d; want %d", i, got, want)
				}
			}
			want := http.StatusUnauthorized
			if tc.sharedBudget {
				want = http.StatusTooManyRequests
			}
			if got := call("198.51.100.2"); got != want {
				t.Fatalf("second client: %d; want %d", got, want)
			}
			var logged []string
			for line := range bytes.SplitSeq(h.logs.Bytes(), []byte("\n")) {
				var rec struct {
					Msg    string `json:"msg"`
					Client string `json:"remote"`
				}
				if json.Unmarshal(line, &rec) == nil && rec.Msg == "http" {
					logged = append(logged, rec.Client)
				}
			}
			wantClient := "198.51.100.2"
			if tc.sharedBudget {
				wantClient = "127.0.0.1"
			}
			if len(logged) != 4 || logged[3] != wantClient {
				t.Errorf("access log clients %v; want the last to be %s", logged, wantClient)
			}
		})
	}
}

// TestProxiesClientAddr: the rightmost untrusted hop, for both headers
// and the odd forms they take.
func TestProxiesClientAddr(t *testing.T) {
	for _, tc := range []struct {
		name, header, peer string
		values             []string
		want               string
	}{
		{"untrusted peer ignores header", "", "192.0.2.9:1", []string{"198.51.100.1"}, "192.0.2.9"},
		{"one hop", "", "10.0.0.1:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed left hops skipped", "", "10.0.0.1:1", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops skipped", "", "10.0.0.1:1", []string{"198.51.100.1, 10.0.0.7"}, "198.51.100.1"},
		{"several header lines", "", "10.0.0.1:1", []string{"198.51.100.1", "10.0.0.7"}, "198.51.100.1"},
		{"all trusted: leftmost", "", "10.0.0.1:1", []string{"10.0.0.3, 10.0.0.7"}, "10.0.0.3"},
		{"no header: the proxy", "", "10.0.0.1:1", nil, "10.0.0.1"},
		{"garbage hop: last trusted", "", "10.0.0.1:1", []string{"evil, 10.0.0.7"}, "10.0.0.7"},
		{"ipv6 with port", "", "10.0.0.1:1", []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
		{"mapped v4", "", "[::ffff:10.0.0.1]:1", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"forwarded", "Forwarded", "10.0.0.1:1", []string{`for=1.1.1.1, for="[2001:db8::2]:80";proto=https`}, "2001:db8::2"},
		{"forwarded unknown", "Forwarded", "10.0.0.1:1", []string{"for=unknown"}, "10.0.0.1"},
		{"forwarded ignores XFF", "Forwarded", "10.0.0.1:1", nil, "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ratelimit.ParseProxies([]string{"10.0.0.0/8"}, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
			r.RemoteAddr = tc.peer
			name := p.HeaderName()
			for _, v := range tc.values {
				r.Header.Add(name, v)
			}
			if tc.name == "forwarded ignores XFF" {
				r.Header.Set("X-Forwarded-For", "198.51.100.1")
			}
			got, ok := p.ClientAddr(r)
			if !ok || got.String() != tc.want {
				t.Fatalf("%v %v; want %s", got, ok, tc.want)
			}
		})
	}
	for _, bad := range []string{"10.0.0.0/33", "host.example", ""} {
		if _, err := ratelimit.ParseProxies([]string{bad}, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ratelimit.ParseProxies(nil, "X-Real-IP"); err == nil {
		t.Error("X-Real-IP accepted as a proxy header")
	}
}
