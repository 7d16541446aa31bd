package main

import (
	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/httpapi"
)

// corsServeOptions are serve's CORS flags: which browser origins may call
// the agent API (httpapi/cors.go).
type corsServeOptions struct {
	origins []string
}

func (o *corsServeOptions) flags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.origins, "cors-origin", nil,
		"let pages of this origin (scheme://host[:port], or *) call the agent API from a browser; repeatable; off by default, never with cookies (env AGENTOTP_CORS_ORIGIN, comma-separated)")
}

// parse returns the configured origins, each checked.
func (o corsServeOptions) parse() ([]string, error) {
	var out []string
	for _, v := range splitList(o.origins) {
		origin, err := httpapi.ParseCORSOrigin(v)
		if err != nil {
			return nil, &exitErr{exitUsage, err}
		}
		out = append(out, origin)
	}
	return out, nil
}
