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

// smtpPlan is the SMTP receiver as the flags describe it, checked.
type smtpPlan struct {
	o     smtpServeOptions
	tls   *tls.Config
	relay smtp.RelayOptions
}

// prepare checks the SMTP flags and loads the STARTTLS certificate. It
// returns nil without --smtp-addr.
func (o smtpServeOptions) prepare() (*smtpPlan, error) {
	if o.addr == "" {
		if o.open || len(o.mxDomains) > 0 || o.tlsCert != "" {
			return nil, &exitErr{exitUsage, errors.New("the --smtp-… options need --smtp-addr")}
		}
		return nil, nil
	}
	tlsCfg, err := smtpTLS(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, err
	}
	opts := smtp.RelayOptions{Open: o.open, Domains: map[string]string{}, DKIMOptional: map[string]bool{}}
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
	return &smtpPlan{o: o, tls: tlsCfg, relay: opts}, nil
}

// component returns the SMTP receiver as a component of the relay: it
// listens when it starts (a busy address fails the relay), serves until
// ctx ends, then lets the sessions in flight finish (within
// shutdownTimeout) and closes the rest.
func (p *smtpPlan) component(stderr io.Writer, svc *relay.Service, log *slog.Logger) (component, error) {
	opts := p.relay
	opts.Logger = log
	h, err := smtp.NewRelay(svc, opts)
	if err != nil {
		return component{}, &exitErr{exitUsage, err}
	}
	run := func(ctx context.Context) error {
		ln, err := net.Listen("tcp", p.o.addr)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		srv := smtp.New(smtp.Config{
			MaxMessageBytes: p.o.maxBytes, MaxRecipients: p.o.maxRcpts, TLSConfig: p.tls,
			AllowInsecureAuth: p.o.allowInsecure, Logger: log,
		}, h)
		mode := "AUTH with an email source token"
		if p.o.open {
			mode = fmt.Sprintf("MX mode for %d domain(s), DKIM verified", len(opts.Domains))
		}
		if p.tls != nil {
			mode += ", STARTTLS"
		}
		fmt.Fprintf(stderr, "  smtp:        %s (%s)\n", ln.Addr().String(), mode)
		log.Info("SMTP receiver started", "addr", ln.Addr().String(), "open", p.o.open, "starttls", p.tls != nil)
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
		}
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutCtx); err != nil {
			log.Warn("SMTP sessions still open at shutdown; closing them", "err", err)
		}
		srv.Close()
		return <-errc
	}
	return component{"smtp", run}, nil
}
