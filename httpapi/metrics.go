package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// metrics are the relay's Prometheus metrics, in a registry of the
// server's own. They count; they never label by id, key or sender.
type metrics struct {
	reg          *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	events       *prometheus.CounterVec
	messages     *prometheus.CounterVec
}

func newMetrics(svc *relay.Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentotp_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "agentotp_http_request_duration_seconds", Help: "HTTP request duration by route pattern (long-polls included).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60},
		}, []string{"route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentotp_request_events_total", Help: "Request lifecycle events by audit action.",
		}, []string{"action"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentotp_messages_ingested_total", Help: "Messages taken in by source kind and outcome.",
		}, []string{"source", "outcome"}),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.events, m.messages,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe records one finished HTTP request. The route is the mux pattern
// (for example "GET /v1/otp/{id}"), never the concrete path.
func (m *metrics) observe(r *http.Request, status int, d time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) ingested(source string, matched, duplicate bool) {
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
	m.messages.WithLabelValues(source, outcome).Inc()
}
