package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/smtp"
)

// smtpServeOptions are serve's flags for the built-in SMTP receiver.
type smtpServeOptions struct {
	addr          string
	tlsCert       string
	tlsKey        string
	allowInsecure bool
	open          bool
	mxDomains     []string // DOMAIN=SOURCE_ID
	dkimOptional  []string // SOURCE_ID
	maxBytes      int64
	maxRcpts      int
}

func (o *smtpServeOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.addr, "smtp-addr", "", "run the SMTP receiver on this address, e.g. 127.0.0.1:2525 (off when empty) (env AGENTOTP_SMTP_ADDR)")
	f.StringVar(&o.tlsCert, "smtp-tls-cert", "", "PEM certificate for SMTP STARTTLS (env AGENTOTP_SMTP_TLS_CERT)")
	f.StringVar(&o.tlsKey, "smtp-tls-key", "", "PEM private key for SMTP STARTTLS (env AGENTOTP_SMTP_TLS_KEY)")
	f.BoolVar(&o.allowInsecure, "smtp-allow-insecure-auth", false, "allow SMTP AUTH without TLS from non-loopback peers (env AGENTOTP_SMTP_ALLOW_INSECURE_AUTH)")
	f.BoolVar(&o.open, "smtp-open", false, "MX mode: no AUTH; recipients map to sources by --smtp-mx-domain; DKIM verified (env AGENTOTP_SMTP_OPEN)")
	f.StringArrayVar(&o.mxDomains, "smtp-mx-domain", nil, "MX mode: DOMAIN=SOURCE_ID, mail to any address at DOMAIN goes to that email source's owner; repeatable (env AGENTOTP_SMTP_MX_DOMAIN, comma-separated)")
	f.StringArrayVar(&o.dkimOptional, "smtp-dkim-optional", nil, "MX mode: SOURCE_ID whose sender patterns may match mail without a DKIM signature of the From domain; repeatable (env AGENTOTP_SMTP_DKIM_OPTIONAL)")
	f.Int64Var(&o.maxBytes, "smtp-max-message-bytes", 10<<20, "largest message the SMTP receiver takes (env AGENTOTP_SMTP_MAX_MESSAGE_BYTES)")
	f.IntVar(&o.maxRcpts, "smtp-max-recipients", 10, "most recipients per SMTP message (env AGENTOTP_SMTP_MAX_RECIPIENTS)")
}

// smtpTLS loads the STARTTLS certificate, if one is configured.
func smtpTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, &exitErr{exitUsage, errors.New("--smtp-tls-cert and --smtp-tls-key go together")}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("SMTP TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// splitList flattens repeated and comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// startSMTP starts the SMTP receiver when --smtp-addr is set. It returns
// a function that stops it.
func startSMTP(ctx context.Context, stderr io.Writer, svc *relay.Service, log *slog.Logger, o smtpServeOptions) (func(), error) {
	if o.addr == "" {
		if o.open || len(o.mxDomains) > 0 || o.tlsCert != "" {
			return nil, &exitErr{exitUsage, errors.New("the --smtp-… options need --smtp-addr")}
		}
		return func() {}, nil
	}
	tlsCfg, err := smtpTLS(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, err
	}
	opts := smtp.RelayOptions{Open: o.open, Domains: map[string]string{}, DKIMOptional: map[string]bool{}, Logger: log}
	for _, m := range splitList(o.mxDomains) {
		domain, src, ok := strings.Cut(m, "=")
		if !ok || domain == "" || src == "" {
			return nil, &exitErr{exitUsage, fmt.Errorf("--smtp-mx-domain %q: want DOMAIN=SOURCE_ID", m)}
		}
		opts.Domains[strings.ToLower(domain)] = src
	}
	for _, id := range splitList(o.dkimOptional) {
		opts.DKIMOptional[id] = true
	}
	if !o.open && len(opts.Domains) > 0 {
		return nil, &exitErr{exitUsage, errors.New("--smtp-mx-domain needs --smtp-open (MX mode)")}
	}
	h, err := smtp.NewRelay(svc, opts)
	if err != nil {
		return nil, &exitErr{exitUsage, err}
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP listen: %w", err)
	}
	srv := smtp.New(smtp.Config{
		MaxMessageBytes: o.maxBytes, MaxRecipients: o.maxRcpts, TLSConfig: tlsCfg,
		AllowInsecureAuth: o.allowInsecure, Logger: log,
	}, h)
	go func() {
		if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
			log.Error("SMTP receiver stopped", "err", err)
		}
	}()
	mode := "AUTH with an email source token"
	if o.open {
		mode = fmt.Sprintf("MX mode for %d domain(s), DKIM verified", len(opts.Domains))
	}
	if tlsCfg != nil {
		mode += ", STARTTLS"
	}
	fmt.Fprintf(stderr, "  smtp:        %s (%s)\n", ln.Addr().String(), mode)
	log.Info("SMTP receiver started", "addr", ln.Addr().String(), "open", o.open, "starttls", tlsCfg != nil)
	return func() { srv.Close() }, nil
}
