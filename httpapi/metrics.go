package httpapi

import (
	"context"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// Metrics are the relay's Prometheus metrics, in a registry of their
// own. They count; they never label by id, key or sender. Besides what
// the HTTP server records itself, the webhook worker reports attempts
// (WebhookAttempt), and gauges read at each scrape come from the
// functions given to WatchOutbox, WatchIMAP and WatchTelegram.
type Metrics struct {
	reg          *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	events       *prometheus.CounterVec
	messages     *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
	watched      *watched
}

// Webhook attempt outcomes, the outcome label of
// agentotp_webhook_deliveries_total.
const (
	WebhookDelivered = "delivered" // a 2xx answer
	WebhookRetry     = "retry"     // failed; another attempt is due
	WebhookFailed    = "failed"    // failed for good (refused, 4xx, given up)
)

// TelegramStates are the states of the Telegram poller reported by
// agentotp_telegram_poller_state.
var TelegramStates = []string{"polling", "retrying", "conflict", "stopped"}

// imapStates are the connector states agentotp_imap_connectors always
// reports (0 when none is in it).
var imapStates = []string{agentotp.IMAPStateStopped, agentotp.IMAPStateConnecting, agentotp.IMAPStateConnected,
	agentotp.IMAPStateIdle, agentotp.IMAPStatePolling, agentotp.IMAPStateError}

// NewMetrics returns the metrics of a relay over svc (nil: without the
// service's gauges and events).
func NewMetrics(svc *relay.Service) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentotp_http_requests_total", Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "agentotp_http_request_duration_seconds", Help: "HTTP request duration by method and route pattern (long-polls included).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60},
		}, []string{"method", "route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentotp_request_events_total", Help: "Request lifecycle events by audit action.",
		}, []string{"action"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentotp_messages_ingested_total", Help: "Messages taken in by source kind and outcome.",
		}, []string{"source", "outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentotp_webhook_deliveries_total", Help: "Webhook delivery attempts by outcome: delivered, retry (another attempt is due) or failed (for good).",
		}, []string{"outcome"}),
		watched: &watched{},
	}
	for _, o := range []string{WebhookDelivered, WebhookRetry, WebhookFailed} {
		m.webhooks.WithLabelValues(o)
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.events, m.messages, m.webhooks, m.watched,
		buildInfo(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if svc != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agentotp_waiters", Help: "Callers waiting on a request (long-polls and event streams).",
		}, func() float64 { return float64(svc.Waiters()) }))
		svc.AddNotifier(relay.NotifierFunc(func(ctx context.Context, ev agentotp.RequestChange) {
			m.events.WithLabelValues(ev.Action).Inc()
		}))
	}
	return m
}

// buildInfo is agentotp_build_info: always 1, labelled with the module
// version, VCS revision and Go version the binary was built with.
func buildInfo() prometheus.Collector {
	version, revision, goVersion := "(unknown)", "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "agentotp_build_info", Help: "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion},
	})
	g.Set(1)
	return g
}

// Handler serves the metrics: the Prometheus text format, or OpenMetrics
// when the scraper's Accept header asks for it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// WebhookAttempt counts one webhook delivery attempt by outcome
// (WebhookDelivered, WebhookRetry or WebhookFailed).
func (m *Metrics) WebhookAttempt(outcome string) { m.webhooks.WithLabelValues(outcome).Inc() }

// WatchOutbox makes each scrape report the webhook outbox: the pending
// deliveries and the age of the oldest.
func (m *Metrics) WatchOutbox(f func(ctx context.Context) (pending int, oldest time.Time, err error)) {
	m.watched.mu.Lock()
	defer m.watched.mu.Unlock()
	m.watched.outbox = f
}

// WatchIMAP makes each scrape report how many IMAP connectors are in each
// state.
func (m *Metrics) WatchIMAP(f func(ctx context.Context) (map[string]int, error)) {
	m.watched.mu.Lock()
	defer m.watched.mu.Unlock()
	m.watched.imap = f
}

// WatchTelegram makes each scrape report the Telegram poller's state, one
// of TelegramStates.
func (m *Metrics) WatchTelegram(f func() string) {
	m.watched.mu.Lock()
	defer m.watched.mu.Unlock()
	m.watched.telegram = f
}

// TelegramState returns the state of the watched Telegram poller, or ""
// when none is watched (no bot runs).
func (m *Metrics) TelegramState() string {
	m.watched.mu.Lock()
	f := m.watched.telegram
	m.watched.mu.Unlock()
	if f == nil {
		return ""
	}
	return f()
}

// watched collects the gauges read from the functions given to Watch…;
// those not given are left out.
type watched struct {
	mu       sync.Mutex
	outbox   func(ctx context.Context) (int, time.Time, error)
	imap     func(ctx context.Context) (map[string]int, error)
	telegram func() string
}

var (
	outboxPendingDesc = prometheus.NewDesc("agentotp_webhook_outbox_pending", "Webhook deliveries waiting in the outbox.", nil, nil)
	outboxAgeDesc     = prometheus.NewDesc("agentotp_webhook_outbox_oldest_age_seconds", "Age of the oldest pending webhook delivery (0 when none).", nil, nil)
	imapDesc          = prometheus.NewDesc("agentotp_imap_connectors", "IMAP connectors of email sources by state.", []string{"state"}, nil)
	telegramDesc      = prometheus.NewDesc("agentotp_telegram_poller_state", "1 for the state the Telegram bot's update poller is in, 0 for the others.", []string{"state"}, nil)
)

// Describe sends nothing: the set of metrics depends on what is watched
// (an unchecked collector).
func (w *watched) Describe(chan<- *prometheus.Desc) {}

// Collect reads the watched functions, each within a second.
func (w *watched) Collect(ch chan<- prometheus.Metric) {
	w.mu.Lock()
	outbox, imap, telegram := w.outbox, w.imap, w.telegram
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if outbox != nil {
		if n, oldest, err := outbox(ctx); err == nil {
			age := 0.0
			if n > 0 && !oldest.IsZero() {
				age = max(time.Since(oldest).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(n))
			ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
		}
	}
	if imap != nil {
		if counts, err := imap(ctx); err == nil {
			seen := map[string]bool{}
			for _, st := range imapStates {
				seen[st] = true
				ch <- prometheus.MustNewConstMetric(imapDesc, prometheus.GaugeValue, float64(counts[st]), st)
			}
			for st, n := range counts {
				if !seen[st] {
					ch <- prometheus.MustNewConstMetric(imapDesc, prometheus.GaugeValue, float64(n), st)
				}
			}
		}
	}
	if telegram != nil {
		cur := telegram()
		for _, st := range TelegramStates {
			v := 0.0
			if st == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(telegramDesc, prometheus.GaugeValue, v, st)
		}
	}
}

// routeOf is the route label of r: its mux pattern without the method
// ("/v1/otp/{id}"), never the concrete path; "unmatched" when none.
func routeOf(r *http.Request) string {
	p := r.Pattern
	if _, path, ok := strings.Cut(p, " "); ok {
		p = path
	}
	if p == "" {
		return "unmatched"
	}
	return p
}

// methodOf is the method label: the standard methods, else "other", so
// that a client cannot grow the label set.
func methodOf(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return r.Method
	}
	return "other"
}

// observe records one finished HTTP request.
func (m *Metrics) observe(r *http.Request, status int, d time.Duration) {
	method, route := methodOf(r), routeOf(r)
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *Metrics) ingested(source agentotp.Channel, matched, duplicate bool) {
	outcome := "unmatched"
	switch {
	case duplicate:
		outcome = "duplicate"
	case matched:
		outcome = "matched"
	}
	if source == "" {
		source = "email"
	}
	m.messages.WithLabelValues(string(source), outcome).Inc()
}
