package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentotp/agentotp/httpapi"
)

// scrape GETs /metrics from h and parses it with the Prometheus text
// parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", "/metrics", nil)
	rec := newScrapeRecorder()
	h.ServeHTTP(rec, req)
	if rec.code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.code, rec.body.String())
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.body.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, rec.body.String())
	}
	return fams
}

// value returns the value of the sample of fam with the labels, or fails.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("no %s", name)
	}
next:
	for _, m := range fam.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

// TestMetricsFamilies: the relay's own metrics, parsed by the Prometheus
// text parser, with the HTTP method as a label of its own and the
// gauges fed from outside the server.
func TestMetricsFamilies(t *testing.T) {
	m := httpapi.NewMetrics(nil)
	oldest := time.Now().Add(-90 * time.Second)
	m.WatchOutbox(func(context.Context) (int, time.Time, error) { return 3, oldest, nil })
	m.WatchIMAP(func(context.Context) (map[string]int, error) {
		return map[string]int{"idle": 2, "error": 1}, nil
	})
	state := "polling"
	m.WatchTelegram(func() string { return state })
	m.WebhookAttempt(httpapi.WebhookDelivered)
	m.WebhookAttempt(httpapi.WebhookDelivered)
	m.WebhookAttempt(httpapi.WebhookRetry)
	cfg := httpapi.DefaultConfig()
	cfg.Metrics = m
	srv, tok, _ := loggedRelay(t, cfg)
	doReq(t, "GET", srv.URL+"/v1/owner/agents", map[string]string{"Authorization": "Bearer " + tok}, "")
	doReq(t, "POST", srv.URL+"/v1/owner/agents", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, `{"name":"m"}`)
	doReq(t, "BREW", srv.URL+"/v1/owner/agents", nil, "")

	fams := scrape(t, m.Handler())
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agentotp_http_requests_total", map[string]string{"method": "GET", "route": "/v1/owner/agents", "code": "200"}, 1},
		{"agentotp_http_requests_total", map[string]string{"method": "POST", "route": "/v1/owner/agents", "code": "201"}, 1},
		{"agentotp_http_requests_total", map[string]string{"method": "other", "code": "405"}, 1},
		{"agentotp_http_request_duration_seconds", map[string]string{"method": "GET", "route": "/v1/owner/agents"}, 1},
		{"agentotp_webhook_deliveries_total", map[string]string{"outcome": "delivered"}, 2},
		{"agentotp_webhook_deliveries_total", map[string]string{"outcome": "retry"}, 1},
		{"agentotp_webhook_deliveries_total", map[string]string{"outcome": "failed"}, 0},
		{"agentotp_webhook_outbox_pending", nil, 3},
		{"agentotp_imap_connectors", map[string]string{"state": "idle"}, 2},
		{"agentotp_imap_connectors", map[string]string{"state": "error"}, 1},
		{"agentotp_imap_connectors", map[string]string{"state": "connected"}, 0},
		{"agentotp_telegram_poller_state", map[string]string{"state": "polling"}, 1},
		{"agentotp_telegram_poller_state", map[string]string{"state": "retrying"}, 0},
		{"agentotp_build_info", nil, 1},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if age := value(t, fams, "agentotp_webhook_outbox_oldest_age_seconds", nil); age < 90 {
		t.Errorf("oldest age %v, want at least 90", age)
	}
	for _, l := range fams["agentotp_build_info"].Metric[0].Label {
		if l.GetName() == "goversion" && !strings.HasPrefix(l.GetValue(), "go1.") {
			t.Errorf("build_info goversion %q", l.GetValue())
		}
	}
	state = "retrying"
	if v := value(t, scrape(t, m.Handler()), "agentotp_telegram_poller_state", map[string]string{"state": "retrying"}); v != 1 {
		t.Errorf("poller state not followed: %v", v)
	}
	// A watched function that fails leaves its gauges out, nothing else.
	m.WatchOutbox(func(context.Context) (int, time.Time, error) { return 0, time.Time{}, errors.New("store down") })
	fams = scrape(t, m.Handler())
	if _, ok := fams["agentotp_webhook_outbox_pending"]; ok {
		t.Error("outbox gauge reported despite an error")
	}
	value(t, fams, "agentotp_build_info", nil)

	// The API serves the same metrics, unless told not to.
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("API /metrics: %v %v", resp, err)
	}
	resp.Body.Close()
	cfg.NoMetricsRoute = true
	srv2, _, _ := loggedRelay(t, cfg)
	if resp := doReq(t, "GET", srv2.URL+"/metrics", nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("NoMetricsRoute: /metrics answered %d", resp.StatusCode)
	}
}

// TestMetricsOpenMetrics: a scraper that asks for OpenMetrics gets it.
func TestMetricsOpenMetrics(t *testing.T) {
	srv, _, _ := loggedRelay(t, httpapi.DefaultConfig())
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.HasSuffix(string(body), "# EOF\n") || !strings.Contains(string(body), "agentotp_build_info") {
		t.Errorf("not OpenMetrics: %.300s", body)
	}
	// Without the Accept header: the text format, which the parser reads.
	plain, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(plain.Body)
	plain.Body.Close()
	if ct := plain.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("default Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := p.TextToMetricFamilies(strings.NewReader(string(b))); err != nil {
		t.Errorf("text format does not parse: %v", err)
	}
}

// scrapeRecorder is a minimal http.ResponseWriter for in-process scrapes.
type scrapeRecorder struct {
	hdr  http.Header
	code int
	body strings.Builder
}

func newScrapeRecorder() *scrapeRecorder {
	return &scrapeRecorder{hdr: http.Header{}, code: http.StatusOK}
}

func (r *scrapeRecorder) Header() http.Header         { return r.hdr }
func (r *scrapeRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *scrapeRecorder) WriteHeader(code int)        { r.code = code }
