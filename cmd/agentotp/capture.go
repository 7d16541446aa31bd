package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/capture"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/smtp"
)

// captureOptions are the flags of `agentotp capture`.
type captureOptions struct {
	server      string
	token       string
	sourceToken string
	logLevel    string
	trust       string // the owner's pinned keys (agentotp owner trust)
	permissive  bool   // seal without a signed approval

	// --stdin
	stdin   bool
	source  string
	sender  string
	subject string

	// --smtp-addr
	smtpAddr          string
	smtpTLSCert       string
	smtpTLSKey        string
	smtpAllowInsecure bool

	imap captureIMAPOptions // --imap (capture_imap.go)
}

// captureMode is one way messages reach the edge capture. Exactly one mode
// is chosen per run; a new feeder (IMAP) adds its flags and an entry to
// captureModes.
type captureMode struct {
	flag    string // the flag that selects it, for messages
	flags   func(f *pflag.FlagSet, o *captureOptions)
	enabled func(o *captureOptions) bool
	run     func(ctx context.Context, a *app, c *capture.Capturer, o *captureOptions, log *slog.Logger) error
}

var captureModes = []captureMode{
	{
		flag: "--stdin",
		flags: func(f *pflag.FlagSet, o *captureOptions) {
			f.BoolVar(&o.stdin, "stdin", false, "capture one message read on stdin and exit")
			f.StringVar(&o.source, "source", "email", "with --stdin: email (raw RFC 5322 on stdin) or sms (text on stdin)")
			f.StringVar(&o.sender, "sender", "", "with --stdin --source sms: the SMS sender")
			f.StringVar(&o.subject, "subject", "", "with --stdin --source sms: a subject, for gateways that have one")
		},
		enabled: func(o *captureOptions) bool { return o.stdin },
		run:     captureStdin,
	},
	{
		flag: "--smtp-addr",
		flags: func(f *pflag.FlagSet, o *captureOptions) {
			f.StringVar(&o.smtpAddr, "smtp-addr", "", "run a local SMTP receiver on this address (AUTH with the source token as password) and capture what it gets")
			f.StringVar(&o.smtpTLSCert, "smtp-tls-cert", "", "with --smtp-addr: PEM certificate for STARTTLS")
			f.StringVar(&o.smtpTLSKey, "smtp-tls-key", "", "with --smtp-addr: PEM private key for STARTTLS")
			f.BoolVar(&o.smtpAllowInsecure, "smtp-allow-insecure-auth", false, "with --smtp-addr: allow AUTH without TLS from non-loopback peers")
		},
		enabled: func(o *captureOptions) bool { return o.smtpAddr != "" },
		run:     captureSMTP,
	},
	imapCaptureMode, // capture_imap.go
}

func newCaptureCmd(a *app) *cobra.Command {
	o := &captureOptions{}
	var names []string
	for _, m := range captureModes {
		names = append(names, m.flag)
	}
	cmd := &cobra.Command{
		Use:   "capture",
		Short: "Edge capture: match, extract and seal on this machine; the relay gets ciphertext only",
		Long: "capture runs where the messages are (the owner's machine, beside the phone gateway). For each message it\n" +
			"fetches the live requests of the source's owner, matches and extracts the code here, seals it here to the\n" +
			"request's public key, and posts only the ciphertext and metadata. The relay never sees the code.\n\n" +
			"Choose one way in: " + strings.Join(names, ", ") + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok := o.sourceToken
			if tok == "" {
				tok = o.token
			}
			if !strings.HasPrefix(tok, domain.PrefixSourceToken) {
				return &exitErr{exitUsage, errors.New("a source token sk_… is needed: --token or AGENTOTP_SOURCE_TOKEN")}
			}
			var chosen []captureMode
			for _, m := range captureModes {
				if m.enabled(o) {
					chosen = append(chosen, m)
				}
			}
			if len(chosen) != 1 {
				return &exitErr{exitUsage, fmt.Errorf("choose exactly one of %s", strings.Join(names, ", "))}
			}
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(o.logLevel)); err != nil {
				return &exitErr{exitUsage, fmt.Errorf("--log-level: %w", err)}
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lv}))
			cfg := capture.Config{Server: o.server, Token: tok, Logger: log, Strict: !o.permissive}
			switch {
			case o.trust != "":
				b, err := os.ReadFile(o.trust)
				if err != nil {
					return &exitErr{exitUsage, fmt.Errorf("--trust: %w", err)}
				}
				if cfg.Trust, err = approval.ParseTrust(b); err != nil {
					return &exitErr{exitUsage, fmt.Errorf("--trust %s: %w", o.trust, err)}
				}
			case !o.permissive:
				return &exitErr{exitUsage, errors.New("edge capture is strict: it seals only for approvals the owner signed, checked against the owner's pinned keys; " +
					"pass --trust FILE (make it with agentotp owner trust --out FILE), or --permissive to trust the relay's word")}
			}
			if o.permissive {
				log.Warn("capture: permissive mode: sealing for any live request the relay lists, signed or not")
			}
			c := capture.New(cfg)
			return chosen[0].run(cmd.Context(), a, c, o, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", client.DefaultBaseURL, "relay URL (env AGENTOTP_URL)")
	f.StringVar(&o.token, "token", "", "source token sk_… (env AGENTOTP_SOURCE_TOKEN)")
	_ = f.SetAnnotation("token", envAnnotation, []string{"AGENTOTP_SOURCE_TOKEN"})
	f.StringVar(&o.sourceToken, "source-token", "", "source token sk_… (env AGENTOTP_SOURCE_TOKEN; wins over --token)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.trust, "trust", "", "the owner's pinned signing keys (agentotp owner trust --out FILE): seal only for approvals they signed")
	f.BoolVar(&o.permissive, "permissive", false, "also seal for unsigned approvals and pending requests (trusts the relay)")
	f.BoolVar(&a.jsonOut, "json", false, "with --stdin: print the result as JSON")
	for _, m := range captureModes {
		m.flags(f, o)
	}
	return cmd
}

// captureStdin captures one message read on stdin.
func captureStdin(ctx context.Context, a *app, c *capture.Capturer, o *captureOptions, _ *slog.Logger) error {
	data, err := io.ReadAll(io.LimitReader(a.stdin, maxStdinMessage+1))
	if err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	if len(data) > maxStdinMessage {
		return &exitErr{exitUsage, fmt.Errorf("the message on stdin is over %d bytes", maxStdinMessage)}
	}
	var m capture.Message
	switch domain.Channel(o.source) {
	case domain.ChannelEmail:
		if m, err = capture.FromEmail(data); err != nil {
			return &exitErr{exitUsage, fmt.Errorf("stdin: %w", err)}
		}
	case domain.ChannelSMS:
		if o.sender == "" {
			return &exitErr{exitUsage, errors.New("--sender is required for SMS")}
		}
		m = capture.Message{Source: domain.ChannelSMS, Sender: o.sender, Subject: o.subject, Text: strings.TrimRight(string(data), "\r\n")}
	default:
		return &exitErr{exitUsage, fmt.Errorf("--source must be email or sms, not %q", o.source)}
	}
	res, err := c.Capture(ctx, m)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return printJSON(a.stdout, map[string]any{"matched": res.Matched, "request_id": res.RequestID, "status": res.Status, "duplicate": res.Duplicate, "reason": res.Reason})
	}
	switch {
	case res.Duplicate:
		fmt.Fprintf(a.stdout, "already delivered to %s; ignored\n", res.RequestID)
	case res.Matched:
		fmt.Fprintf(a.stdout, "sealed here and delivered to %s (%s)\n", res.RequestID, res.Status)
	default:
		fmt.Fprintf(a.stdout, "not delivered: %s\n", res.Reason)
	}
	return nil
}

// captureSMTP runs a local SMTP receiver until the context ends.
func captureSMTP(ctx context.Context, a *app, c *capture.Capturer, o *captureOptions, log *slog.Logger) error {
	tlsCfg, err := smtpTLS(o.smtpTLSCert, o.smtpTLSKey)
	if err != nil {
		return err
	}
	tok := o.sourceToken
	if tok == "" {
		tok = o.token
	}
	// Fail early on a wrong token or an unreachable relay.
	if _, err := c.Requests(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.smtpAddr)
	if err != nil {
		return fmt.Errorf("SMTP listen: %w", err)
	}
	srv := smtp.New(smtp.Config{TLSConfig: tlsCfg, AllowInsecureAuth: o.smtpAllowInsecure, Logger: log}, capture.NewSMTPHandler(c, tok))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(a.stderr, "agentotp capture: SMTP on %s (AUTH: any user, the source token as password); codes are sealed here\n", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("SMTP: %w", err)
	case <-ctx.Done():
	}
	srv.Close()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}
