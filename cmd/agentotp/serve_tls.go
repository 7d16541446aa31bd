package main

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// tlsServeOptions are serve's flags for HTTPS without a reverse proxy.
type tlsServeOptions struct {
	cert, key string
}

func (o *tlsServeOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.cert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS on --addr; with --tls-key (env AGENTOTP_TLS_CERT)")
	f.StringVar(&o.key, "tls-key", "", "PEM private key of --tls-cert (env AGENTOTP_TLS_KEY)")
}

// config loads the certificate; nil without --tls-cert and --tls-key.
// The server then speaks HTTPS only (HTTP/2 and HTTP/1.1, TLS 1.2 or
// later), the default public URL is https://, and the dashboard's cookies
// are Secure with the __Host- prefix.
func (o tlsServeOptions) config() (*tls.Config, error) {
	if o.cert == "" && o.key == "" {
		return nil, nil
	}
	if o.cert == "" || o.key == "" {
		return nil, &exitErr{exitUsage, errors.New("--tls-cert and --tls-key go together")}
	}
	pair, err := tls.LoadX509KeyPair(o.cert, o.key)
	if err != nil {
		return nil, &exitErr{exitUsage, fmt.Errorf("--tls-cert/--tls-key: %w", err)}
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}
