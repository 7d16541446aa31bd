package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/ratelimit"
)

// limitServeOptions are serve's flags for rate limits: calls per minute
// per credential, and per-address limits behind a reverse proxy
// (ratelimit/proxy.go).
type limitServeOptions struct {
	trustedProxies []string
	proxyHeader    string
	rate           optRate // every kind of credential
	agent          optRate
	owner          optRate
	source         optRate
}

// optRate is a calls-per-minute flag that knows whether it was given.
type optRate struct {
	set bool
	n   int
}

func (r *optRate) String() string {
	if !r.set {
		return ""
	}
	return strconv.Itoa(r.n)
}

func (r *optRate) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("want a number of calls a minute, 0 for no limit; not %q", v)
	}
	r.set, r.n = true, n
	return nil
}

func (r *optRate) Type() string { return "N" }

// resolve returns the rate and burst of one kind: its own flag, else
// --rate-limit, else the default. A rate from a flag has a burst of
// 1/burstDiv of it (today's ratio for the kind), at least 1.
func resolve(own, all optRate, rate, burst, burstDiv int) (int, int) {
	for _, r := range []optRate{own, all} {
		if r.set {
			return r.n, max(1, r.n/burstDiv)
		}
	}
	return rate, burst
}

func (o *limitServeOptions) flags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.trustedProxies, "trusted-proxy", nil,
		"CIDR or address of a reverse proxy whose forwarding header names the client, for per-address limits and the access log; repeatable (env AGENTOTP_TRUSTED_PROXY, comma-separated)")
	f.Var(&o.rate, "rate-limit",
		"calls a minute per credential, for every kind (0: no limit); default agents 120 (burst 60), owner and sources 600 (burst 200) (env AGENTOTP_RATE_LIMIT)")
	f.Var(&o.agent, "rate-limit-agent", "calls a minute per agent key (burst half of it; 0: no limit), over --rate-limit (env AGENTOTP_RATE_LIMIT_AGENT)")
	f.Var(&o.owner, "rate-limit-owner", "calls a minute per owner token (burst a third; 0: no limit), over --rate-limit (env AGENTOTP_RATE_LIMIT_OWNER)")
	f.Var(&o.source, "rate-limit-source", "calls a minute per source token (burst a third; 0: no limit), over --rate-limit (env AGENTOTP_RATE_LIMIT_SOURCE)")
	f.StringVar(&o.proxyHeader, "trusted-proxy-header", ratelimit.HeaderXForwardedFor,
		"the header trusted proxies write the client into: X-Forwarded-For or Forwarded (env AGENTOTP_TRUSTED_PROXY_HEADER)")
}

// apply sets the limits of cfg from the flags.
func (o limitServeOptions) apply(cfg *httpapi.Config) error {
	cfg.AgentRate, cfg.AgentBurst = resolve(o.agent, o.rate, cfg.AgentRate, cfg.AgentBurst, 2)
	cfg.OwnerRate, cfg.OwnerBurst = resolve(o.owner, o.rate, cfg.OwnerRate, cfg.OwnerBurst, 3)
	cfg.SourceRate, cfg.SourceBurst = resolve(o.source, o.rate, cfg.SourceRate, cfg.SourceBurst, 3)
	if cidrs := splitList(o.trustedProxies); len(cidrs) > 0 {
		p, err := ratelimit.ParseProxies(cidrs, o.proxyHeader)
		if err != nil {
			return &exitErr{exitUsage, err}
		}
		cfg.Proxies = p
	}
	return nil
}
