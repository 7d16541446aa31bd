package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/agentotp/agentotp/httpapi"
)

func withCORS(origins ...string) harnessOption {
	return func(c *httpapi.Config) { c.CORSOrigins = origins }
}

func TestCORS(t *testing.T) {
	const page = "http://127.0.0.1:5173"
	type want struct {
		status      int
		allowOrigin string // "" means the header must be absent
		code        string // problem code, when the answer is a problem
	}
	cases := []struct {
		name    string
		origins []string
		method  string
		path    string
		origin  string
		reqMeth string // Access-Control-Request-Method: makes OPTIONS a preflight
		agent   bool   // send the agent's key
		want    want
	}{
		{"preflight allowed", []string{page}, http.MethodOptions, "/v1/otp/request", page, "POST", false, want{204, page, ""}},
		{"preflight allowed, consume", []string{page}, http.MethodOptions, "/v1/otp/otp_x/consume", page, "POST", false, want{204, page, ""}},
		{"preflight origin case-insensitive", []string{page}, http.MethodOptions, "/v1/otp/otp_x", "HTTP://127.0.0.1:5173", "GET", false, want{204, "HTTP://127.0.0.1:5173", ""}},
		{"preflight other origin", []string{page}, http.MethodOptions, "/v1/otp/request", "https://evil.example", "POST", false, want{403, "", "FORBIDDEN"}},
		{"preflight without origin", []string{page}, http.MethodOptions, "/v1/otp/request", "", "POST", false, want{403, "", "FORBIDDEN"}},
		{"preflight any origin", []string{"*"}, http.MethodOptions, "/v1/test/messages", "https://any.example", "POST", false, want{204, "*", ""}},
		{"preflight owner API never", []string{"*"}, http.MethodOptions, "/v1/owner/agents", page, "POST", false, want{405, "", "METHOD_NOT_ALLOWED"}},
		{"preflight with CORS off", nil, http.MethodOptions, "/v1/otp/request", page, "POST", false, want{405, "", "METHOD_NOT_ALLOWED"}},
		{"call allowed", []string{page}, http.MethodGet, "/v1/otp/otp_missing", page, "", true, want{404, page, "OTP_NOT_FOUND"}},
		{"call allowed, bad key", []string{page}, http.MethodGet, "/v1/otp/otp_missing", page, "", false, want{401, page, "AUTHENTICATION_ERROR"}},
		{"call other origin", []string{page}, http.MethodGet, "/v1/otp/otp_missing", "https://evil.example", "", true, want{404, "", "OTP_NOT_FOUND"}},
		{"call without origin", []string{page}, http.MethodGet, "/v1/otp/otp_missing", "", "", true, want{404, "", "OTP_NOT_FOUND"}},
		{"call with CORS off", nil, http.MethodGet, "/v1/otp/otp_missing", page, "", true, want{404, "", "OTP_NOT_FOUND"}},
		{"owner API gets no CORS", []string{"*"}, http.MethodGet, "/v1/owner/agents", page, "", false, want{401, "", "AUTHENTICATION_ERROR"}},
		{"health gets no CORS", []string{"*"}, http.MethodGet, "/healthz", page, "", false, want{200, "", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, withCORS(tc.origins...))
			ag, _ := h.agent("cors", true)
			req, err := http.NewRequestWithContext(ctxT(t), tc.method, h.srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.reqMeth != "" {
				req.Header.Set("Access-Control-Request-Method", tc.reqMeth)
				req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			}
			if tc.agent {
				req.Header.Set("Authorization", "Bearer "+h.keys[ag])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want.status)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want.allowOrigin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.want.allowOrigin)
			}
			if v, ok := resp.Header["Access-Control-Allow-Credentials"]; ok {
				t.Errorf("Access-Control-Allow-Credentials sent: %q", v)
			}
			if tc.want.allowOrigin != "" && tc.reqMeth != "" {
				for _, hdr := range []string{"Authorization", "Content-Type", "X-API-Key", "Last-Event-ID"} {
					if !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), hdr) {
						t.Errorf("Access-Control-Allow-Headers %q lacks %s", resp.Header.Get("Access-Control-Allow-Headers"), hdr)
					}
				}
				for _, m := range []string{"GET", "POST", "DELETE"} {
					if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), m) {
						t.Errorf("Access-Control-Allow-Methods %q lacks %s", resp.Header.Get("Access-Control-Allow-Methods"), m)
					}
				}
			}
			if tc.want.allowOrigin != "" && tc.reqMeth == "" && !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
				t.Errorf("Access-Control-Expose-Headers %q lacks Retry-After", resp.Header.Get("Access-Control-Expose-Headers"))
			}
			if len(tc.origins) > 0 && strings.HasPrefix(tc.path, "/v1/otp/") && !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary %q lacks Origin", resp.Header.Values("Vary"))
			}
			if tc.want.code != "" {
				var p struct{ Code string }
				if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
					t.Fatal(err)
				}
				if p.Code != tc.want.code {
					t.Errorf("code %q, want %q", p.Code, tc.want.code)
				}
			}
		})
	}
}

func TestParseCORSOrigin(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"*", "*", true},
		{"https://agent.example", "https://agent.example", true},
		{"HTTPS://Agent.Example:8443/", "https://agent.example:8443", true},
		{"http://127.0.0.1:5173", "http://127.0.0.1:5173", true},
		{"chrome-extension://abcdefghijklmnop", "chrome-extension://abcdefghijklmnop", true},
		{"agent.example", "", false},
		{"https://agent.example/app", "", false},
		{"https://user@agent.example", "", false},
		{"https://agent.example?x=1", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		got, err := httpapi.ParseCORSOrigin(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCORSOrigin(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
