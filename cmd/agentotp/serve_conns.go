package main

import (
	"errors"
	"time"

	"github.com/spf13/pflag"
)

// connServeOptions are serve's bounds on HTTP connections.
type connServeOptions struct {
	max, perAddr int
}

func (o *connServeOptions) flags(f *pflag.FlagSet) {
	f.IntVar(&o.max, "max-conns", 4096,
		"most HTTP connections open at once; more are refused at once with 503 (0: no bound) (env AGENTOTP_MAX_CONNS)")
	f.IntVar(&o.perAddr, "max-conns-per-ip", 128,
		"most HTTP connections open at once from one client address (an IPv6 /64); loopback peers are bound only by --max-conns (0: no bound) (env AGENTOTP_MAX_CONNS_PER_IP)")
}

// check refuses a negative bound.
func (o connServeOptions) check() error {
	if o.max < 0 || o.perAddr < 0 {
		return &exitErr{exitUsage, errors.New("--max-conns and --max-conns-per-ip take 0 (no bound) or more")}
	}
	return nil
}

// The HTTP server's timeouts. A long-poll or an event stream is a request
// in progress, which neither the idle nor the header timeout touches;
// net/http lifts the read deadline once the request is read, and the
// handlers move their write deadlines.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 60 * time.Second // a whole request, 10 MiB of raw email included
	httpWriteTimeout      = 30 * time.Second
	httpIdleTimeout       = 30 * time.Second // a keep-alive connection between requests
)
