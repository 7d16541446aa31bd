package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/capture"
	"github.com/agentotp/agentotp/imap"
)

// captureIMAPOptions are the flags of `agentotp capture --imap`.
type captureIMAPOptions struct {
	addr     string // host or host:port
	settings imapFlags
	state    string
	check    time.Duration
}

// imapCaptureMode is edge capture reading an IMAP mailbox on the owner's
// machine with the imap package's watcher: the relay never sees the mail
// nor the code, only ciphertext.
var imapCaptureMode = captureMode{
	flag: "--imap",
	flags: func(f *pflag.FlagSet, o *captureOptions) {
		f.StringVar(&o.imap.addr, "imap", "", "read this IMAP server's mailbox (host or host:port) while a live request wants email, and capture new mail")
		s := pflag.NewFlagSet("imap", pflag.ContinueOnError)
		o.imap.settings.register(s, "imap-")
		s.VisitAll(func(fl *pflag.Flag) {
			if fl.Name != "imap-host" && fl.Name != "imap-port" {
				fl.Usage = "with --imap: " + fl.Usage
				if fl.Name == "imap-password-stdin" {
					fl.Usage = "with --imap: read the app password from the first line of stdin (else $" + envIMAPPassword + ")"
				}
				f.AddFlag(fl)
			}
		})
		f.StringVar(&o.imap.state, "imap-state", "agentotp-imap.state", "with --imap: file that keeps the mailbox cursor, so that a restart neither re-reads nor skips mail")
		f.DurationVar(&o.imap.check, "imap-check", 5*time.Second, "with --imap: how often the live requests are fetched to start or stop reading")
	},
	enabled: func(o *captureOptions) bool { return o.imap.addr != "" },
	run:     captureIMAP,
}

// account turns the flags into an imap.Account, checked by the same
// rules as the relay's `sources imap` settings.
func (o *captureIMAPOptions) account(stdin io.Reader) (imap.Account, error) {
	s := o.settings
	in := domain.IMAPSettings{Host: o.addr, TLSMode: s.tlsMode, Username: s.user, Mailbox: s.mailbox, PollInterval: s.poll, MarkAsRead: s.markAsRead}
	if h, p, err := net.SplitHostPort(o.addr); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return imap.Account{}, &exitErr{exitUsage, fmt.Errorf("--imap %q: bad port", o.addr)}
		}
		in.Host, in.Port = h, n
	}
	pw, err := s.password(stdin)
	if err != nil {
		return imap.Account{}, err
	}
	in.Password = pw
	if err := in.Normalize(true); err != nil {
		return imap.Account{}, &exitErr{exitUsage, fmt.Errorf("--imap: %w", err)}
	}
	return imap.Account{Host: in.Host, Port: in.Port, TLSMode: in.TLSMode, Username: in.Username, Password: in.Password,
		Mailbox: in.Mailbox, PollInterval: in.PollInterval, MarkAsRead: in.MarkAsRead}, nil
}

// captureIMAP reads the mailbox while the relay lists a live request that
// wants email, until ctx ends.
func captureIMAP(ctx context.Context, a *app, c *capture.Capturer, o *captureOptions, log *slog.Logger) error {
	acct, err := o.imap.account(a.stdin)
	if err != nil {
		return err
	}
	return c.RunIMAP(ctx, capture.IMAPConfig{
		Account: acct, StatePath: o.imap.state, Check: o.imap.check,
		Out: a.stdout, Status: a.stderr, Logger: log,
	})
}
