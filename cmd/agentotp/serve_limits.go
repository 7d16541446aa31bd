package main

import (
	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/ratelimit"
)

// limitServeOptions are serve's flags for per-address limits behind a
// reverse proxy (ratelimit/proxy.go).
type limitServeOptions struct {
	trustedProxies []string
	proxyHeader    string
}

func (o *limitServeOptions) flags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.trustedProxies, "trusted-proxy", nil,
		"CIDR or address of a reverse proxy whose forwarding header names the client, for per-address limits and the access log; repeatable (env AGENTOTP_TRUSTED_PROXY, comma-separated)")
	f.StringVar(&o.proxyHeader, "trusted-proxy-header", ratelimit.HeaderXForwardedFor,
		"the header trusted proxies write the client into: X-Forwarded-For or Forwarded (env AGENTOTP_TRUSTED_PROXY_HEADER)")
}

// apply sets the limits of cfg from the flags.
func (o limitServeOptions) apply(cfg *httpapi.Config) error {
	if cidrs := splitList(o.trustedProxies); len(cidrs) > 0 {
		p, err := ratelimit.ParseProxies(cidrs, o.proxyHeader)
		if err != nil {
			return &exitErr{exitUsage, err}
		}
		cfg.Proxies = p
	}
	return nil
}
