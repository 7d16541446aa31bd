package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap"
)

// envIMAPPassword can hold the IMAP app password instead of stdin.
const envIMAPPassword = "AGENTOTP_IMAP_PASSWORD"

// imapFlags are the IMAP settings flags of `sources imap` and, with the
// prefix "imap-", of `sources create`.
type imapFlags struct {
	host          string
	port          int
	tlsMode       string
	user          string
	passwordStdin bool
	mailbox       string
	poll          time.Duration
	markAsRead    bool
	noCheck       bool
}

func (f *imapFlags) register(fs *pflag.FlagSet, prefix string) {
	fs.StringVar(&f.host, prefix+"host", "", "IMAP server host name or address")
	fs.IntVar(&f.port, prefix+"port", 0, "IMAP port (default 993 for tls, 143 otherwise)")
	fs.StringVar(&f.tlsMode, prefix+"tls", "tls", "tls, starttls, or plain (loopback hosts only)")
	fs.StringVar(&f.user, prefix+"user", "", "IMAP username")
	fs.BoolVar(&f.passwordStdin, prefix+"password-stdin", false, "read the app password from the first line of stdin (else $"+envIMAPPassword+"; without either, an update keeps the stored one)")
	fs.StringVar(&f.mailbox, prefix+"mailbox", "INBOX", "mailbox to read")
	fs.DurationVar(&f.poll, prefix+"poll", time.Minute, "poll interval for servers without IDLE (5s–1h)")
	fs.BoolVar(&f.markAsRead, prefix+"mark-as-read", false, "set \\Seen on the mail read (otherwise the mailbox is never changed)")
	fs.BoolVar(&f.noCheck, prefix+"no-check", false, "save the settings without first logging in and selecting the mailbox from this machine")
}

// check logs in to the mailbox and selects it, from this machine, before
// the settings are saved: a wrong password or mailbox is reported now,
// not later as the connector's error. Without a password (an update that
// keeps the stored one) there is nothing to check with.
func (f *imapFlags) check(ctx context.Context, a *app, in client.IMAPSettings) error {
	if f.noCheck {
		return nil
	}
	if in.Password == "" {
		fmt.Fprintln(a.stderr, "the connection is not checked: no password given (the stored one is kept)")
		return nil
	}
	if in.TLSMode == "plain" && !domain.LoopbackHost(in.Host) {
		return nil // refused by the relay, which says why
	}
	port := in.Port
	if port == 0 {
		port = 143
		if in.TLSMode == "tls" {
			port = 993
		}
	}
	acct := imap.Account{Host: in.Host, Port: port, TLSMode: in.TLSMode, Username: in.Username, Password: in.Password,
		Mailbox: in.Mailbox, MarkAsRead: in.MarkAsRead}
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	where := fmt.Sprintf("%s on %s:%d as %s", in.Mailbox, in.Host, port, in.Username)
	if err := imap.Check(ctx, acct, imap.Config{DialTimeout: 15 * time.Second, CommandTimeout: 15 * time.Second}); err != nil {
		return fmt.Errorf("IMAP check of %s failed; nothing was saved: %w (fix the settings, or pass --no-check to save them untested)", where, err)
	}
	fmt.Fprintf(a.stderr, "IMAP check: logged in and selected %s\n", where)
	return nil
}

// password returns the app password from stdin or the environment, or ""
// when neither was asked for.
func (f *imapFlags) password(stdin io.Reader) (string, error) {
	if f.passwordStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", &exitErr{exitUsage, errors.New("--password-stdin: stdin holds no password")}
		}
		return pw, nil
	}
	return os.Getenv(envIMAPPassword), nil
}

// settings returns the settings to PUT.
func (f *imapFlags) settings(stdin io.Reader) (client.IMAPSettings, error) {
	if f.user == "" {
		return client.IMAPSettings{}, &exitErr{exitUsage, errors.New("an IMAP username is required (--user)")}
	}
	pw, err := f.password(stdin)
	if err != nil {
		return client.IMAPSettings{}, err
	}
	return client.IMAPSettings{
		Host: f.host, Port: f.port, TLSMode: f.tlsMode, Username: f.user, Password: pw,
		Mailbox: f.mailbox, PollIntervalSeconds: int(f.poll / time.Second), MarkAsRead: f.markAsRead,
	}, nil
}

// newSourcesIMAPCmd is `agentotp sources imap ID …`.
func newSourcesIMAPCmd(a *app) *cobra.Command {
	var f imapFlags
	var clear bool
	cmd := &cobra.Command{
		Use:   "imap ID",
		Short: "Make an email source read an IMAP mailbox, show its connector, or --clear it",
		Long: "With --host and --user, the relay reads that mailbox for the source whenever a live request wants email:\n" +
			"it waits in IDLE (or polls), hands each new message to the relay, and never changes the mailbox unless\n" +
			"--mark-as-read. The app password (from --password-stdin or $" + envIMAPPassword + ") is kept sealed.\n" +
			"Without --host it shows the settings and the connector's status; --clear removes them.",
		Example: "  printf '%s\\n' \"$APP_PASSWORD\" | agentotp sources imap src_… --host imap.gmail.com --user me@gmail.com --password-stdin",
		Args:    cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			var src *client.Source
			var err error
			switch {
			case clear:
				src, err = oc.ClearSourceIMAP(cmd.Context(), args[0])
			case f.host != "":
				var in client.IMAPSettings
				if in, err = f.settings(a.stdin); err != nil {
					return err
				}
				if err := f.check(cmd.Context(), a, in); err != nil {
					return err
				}
				src, err = oc.SetSourceIMAP(cmd.Context(), args[0], in)
			default:
				src, err = oc.GetSource(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, src)
			}
			printSourceIMAP(a.stdout, src)
			return nil
		}),
	}
	f.register(cmd.Flags(), "")
	cmd.Flags().Lookup("user").Usage = "IMAP username (required with --host)"
	cmd.Flags().BoolVar(&clear, "clear", false, "stop reading the mailbox and forget its settings")
	a.ownerFlags(cmd)
	return cmd
}

func printSourceIMAP(w io.Writer, src *client.Source) {
	im := src.IMAP
	if im == nil {
		fmt.Fprintf(w, "source %s (%s) reads no IMAP mailbox\n", src.ID, src.Name)
		return
	}
	mode := im.TLSMode
	if im.MarkAsRead {
		mode += ", marks read"
	}
	fmt.Fprintf(w, "source %s (%s) reads %s on %s:%d as %s (%s)\n", src.ID, src.Name, im.Mailbox, im.Host, im.Port, im.Username, mode)
	st := im.Status
	fmt.Fprintf(w, "connector:    %s\n", st.State)
	fmt.Fprintf(w, "connected:    %s\n", fmtTime(st.LastConnectedAt))
	fmt.Fprintf(w, "last message: %s\n", fmtTime(st.LastMessageAt))
	if st.LastError != nil {
		fmt.Fprintf(w, "last error:   %s (%s)\n", *st.LastError, fmtTime(st.LastErrorAt))
	}
	fmt.Fprintf(w, "cursor:       UIDVALIDITY %d, last UID %d\n", st.UIDValidity, st.LastUID)
}

// imapSummary is the IMAP column of `sources list`.
func imapSummary(s client.Source) string {
	if s.IMAP == nil {
		return "-"
	}
	// The last error shows whatever the state: a connector that failed
	// and then stopped (no request wants email) still has it to tell.
	out := s.IMAP.Status.State
	if st := s.IMAP.Status; st.LastError != nil && *st.LastError != "" {
		out += "; last error " + fmtTime(st.LastErrorAt) + ": " + clip(*st.LastError, 60)
	}
	if s.IMAP.Status.LastMessageAt != nil {
		out += " (last mail " + fmtTime(s.IMAP.Status.LastMessageAt) + ")"
	}
	return out
}

// apply sets the IMAP settings of a source just created, when
// --imap-host was given to `sources create`.
func (f *imapFlags) apply(ctx context.Context, a *app, oc *client.OwnerClient, n *client.NewSource) error {
	if f.host == "" {
		return nil
	}
	in, err := f.settings(a.stdin)
	if err == nil {
		err = f.check(ctx, a, in)
	}
	if err == nil {
		var src *client.Source
		if src, err = oc.SetSourceIMAP(ctx, n.Source.ID, in); err == nil {
			n.Source = *src
			return nil
		}
	}
	fmt.Fprintf(a.stderr, "source %s was created (token: %s), but its IMAP settings were refused; fix them with `agentotp sources imap %s …`\n",
		n.Source.ID, n.Token, n.Source.ID)
	return err
}
