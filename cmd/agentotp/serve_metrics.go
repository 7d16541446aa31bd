package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"
)

// metricsServeOptions are serve's metrics flags.
type metricsServeOptions struct {
	addr string
}

func (o *metricsServeOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.addr, "metrics-addr", "", "serve /metrics on this address (e.g. 127.0.0.1:9187) instead of the API's port (env AGENTOTP_METRICS_ADDR)")
}

// start serves h at /metrics on --metrics-addr until ctx ends; without
// the flag it does nothing (the API serves /metrics). The returned
// function stops the listener.
func (o *metricsServeOptions) start(ctx context.Context, banner io.Writer, h http.Handler, log *slog.Logger) (func(), error) {
	if o.addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	fmt.Fprintf(banner, "  metrics:     http://%s/metrics\n", ln.Addr())
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}, nil
}
