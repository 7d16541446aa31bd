package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/sqlite"
)

// loggedRelay is a relay whose service and server log, as serve wires
// them, through RequestIDHandler into logs.
func loggedRelay(t *testing.T, cfg httpapi.Config) (srv *httptest.Server, ownerToken string, logs *relaytest.Buffer) {
	t.Helper()
	logs = &relaytest.Buffer{}
	log := slog.New(httpapi.RequestIDHandler(slog.NewJSONHandler(logs, nil)))
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "agentotp.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewUnstartedServer(nil)
	srv.Start()
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: srv.URL, Logger: log})
	srv.Config.Handler = httpapi.New(svc, log, cfg).Handler()
	_, tok, err := svc.EnsureOwner(ctx, "owner", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); store.Close() })
	return srv, tok, logs
}

func doReq(t *testing.T, method, url string, hdr map[string]string, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

var madeID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID: every response carries X-Request-Id: the caller's when
// sane, else the trace id of its traceparent, else a new one.
func TestRequestID(t *testing.T) {
	srv, tok, _ := loggedRelay(t, httpapi.DefaultConfig())
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		want               string // "" means a made id
	}{
		{"made on success", "GET", "/healthz", nil, ""},
		{"made on 404", "GET", "/v1/nothing", nil, ""},
		{"made on 405", "PATCH", "/v1/otp/request", nil, ""},
		{"made on 401", "GET", "/v1/owner/agents", nil, ""},
		{"made on metrics", "GET", "/metrics", nil, ""},
		{"kept", "GET", "/healthz", map[string]string{"X-Request-Id": "req-42.abc:7"}, "req-42.abc:7"},
		{"kept on an error", "GET", "/v1/owner/agents", map[string]string{"X-Request-Id": "err-1"}, "err-1"},
		{"too long", "GET", "/healthz", map[string]string{"X-Request-Id": strings.Repeat("a", 129)}, ""},
		{"space", "GET", "/healthz", map[string]string{"X-Request-Id": "a b"}, ""},
		{"quote", "GET", "/healthz", map[string]string{"X-Request-Id": `a"b`}, ""},
		{"non-ascii", "GET", "/healthz", map[string]string{"X-Request-Id": "idé"}, ""},
		{"traceparent", "GET", "/healthz", map[string]string{"Traceparent": "00-" + trace + "-00f067aa0ba902b7-01"}, trace},
		{"header wins over traceparent", "GET", "/healthz", map[string]string{"X-Request-Id": "mine", "Traceparent": "00-" + trace + "-00f067aa0ba902b7-01"}, "mine"},
		{"future traceparent version", "GET", "/healthz", map[string]string{"Traceparent": "01-" + trace + "-00f067aa0ba902b7-01-extra"}, trace},
		{"zero trace id", "GET", "/healthz", map[string]string{"Traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, ""},
		{"upper-case hex", "GET", "/healthz", map[string]string{"Traceparent": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}, ""},
		{"version ff", "GET", "/healthz", map[string]string{"Traceparent": "ff-" + trace + "-00f067aa0ba902b7-01"}, ""},
		{"v00 with extra", "GET", "/healthz", map[string]string{"Traceparent": "00-" + trace + "-00f067aa0ba902b7-01-x"}, ""},
		{"short", "GET", "/healthz", map[string]string{"Traceparent": "00-abc-01"}, ""},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.path, "/v1/owner") && tt.name == "kept on an error" {
				tt.hdr["Authorization"] = "Bearer wrong"
			}
			resp := doReq(t, tt.method, srv.URL+tt.path, tt.hdr, "")
			got := resp.Header.Get("X-Request-Id")
			switch {
			case tt.want != "" && got != tt.want:
				t.Errorf("X-Request-Id %q, want %q", got, tt.want)
			case tt.want == "" && !madeID.MatchString(got):
				t.Errorf("X-Request-Id %q, want a made id", got)
			case tt.want == "" && seen[got]:
				t.Errorf("id %q made twice", got)
			}
			seen[got] = true
		})
	}
	_ = tok
}

// TestRequestIDInLogs: the access log line has the request id, the
// client's address, its user agent and the route; a line the service logs
// while handling the request carries the same id.
func TestRequestIDInLogs(t *testing.T) {
	srv, tok, logs := loggedRelay(t, httpapi.DefaultConfig())
	resp := doReq(t, "POST", srv.URL+"/v1/owner/agents", map[string]string{
		"Authorization": "Bearer " + tok, "Content-Type": "application/json",
		"X-Request-Id": "trace-me-1", "User-Agent": "probe/1.0",
	}, `{"name":"logged"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create agent: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	var access, created map[string]any
	for access == nil && time.Now().Before(deadline) {
		sc := bufio.NewScanner(bytes.NewReader(logs.Bytes()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line["msg"] {
			case "http":
				if line["path"] == "/v1/owner/agents" {
					access = line
				}
			case "agent created":
				created = line
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if access == nil || created == nil {
		t.Fatalf("log lines missing:\n%s", logs.Bytes())
	}
	for k, want := range map[string]any{"request_id": "trace-me-1", "remote": "127.0.0.1", "user_agent": "probe/1.0",
		"route": "/v1/owner/agents", "method": "POST", "status": float64(201)} {
		if access[k] != want {
			t.Errorf("access log %s = %v, want %v (%v)", k, access[k], want, access)
		}
	}
	if created["request_id"] != "trace-me-1" {
		t.Errorf("the service's line lacks the request id: %v", created)
	}
	if bytes.Contains(logs.Bytes(), []byte(tok)) {
		t.Error("the owner token reached the log")
	}
}

func FuzzRequestIDHeader(f *testing.F) {
	for _, s := range []string{"abc", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "\x00", strings.Repeat("z", 200)} {
		f.Add(s, s)
	}
	h := httpapi.New(nil, nil, httpapi.DefaultConfig()).Handler()
	f.Fuzz(func(t *testing.T, id, tp string) {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header["X-Request-Id"] = []string{id}
		req.Header["Traceparent"] = []string{tp}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-Id")
		if got == "" || len(got) > 128 || strings.ContainsAny(got, " \r\n\"\x00") {
			t.Fatalf("X-Request-Id %q from %q / %q", got, id, tp)
		}
	})
}
