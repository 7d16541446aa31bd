package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
	"golang.org/x/term"
)

// newOwnerCmd is `agentotp owner …`: the owner's own account on the web
// dashboard. Both subcommands talk to the running relay through the owner
// API with the owner token, like every other owner command: they work
// against a relay on another machine or on a shared database, the relay
// writes the audit entry, and only it knows its public URL for the link.
func newOwnerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "owner", Short: "The owner's own account: dashboard password, log-in links, and more"}

	passwd := &cobra.Command{
		Use:   "passwd",
		Short: "Set the dashboard password (read from the terminal, or one line of stdin); ends all dashboard sessions",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			pw, err := a.readNewPassword()
			if err != nil {
				return err
			}
			if err := oc.SetPassword(cmd.Context(), pw); err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, map[string]bool{"password_set": true})
			}
			fmt.Fprintln(a.stdout, "dashboard password set; every dashboard session was logged out")
			return nil
		}),
	}
	a.ownerFlags(passwd)

	link := &cobra.Command{
		Use:   "login-link",
		Short: "Print a one-time dashboard log-in link (valid 15 minutes)",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			l, err := oc.CreateLoginLink(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, l)
			}
			fmt.Fprintln(a.stdout, l.URL)
			fmt.Fprintf(a.stderr, "works once, until %s\n", l.ExpiresAt.Local().Format(time.DateTime))
			return nil
		}),
	}
	a.ownerFlags(link)
	cmd.AddCommand(passwd, link, newOwnerTokenCmd(a)) // owner_token.go
	return cmd
}

// readNewPassword reads the new password: from a terminal twice, without
// echo; otherwise the first line of stdin.
func (a *app) readNewPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.stderr, "New dashboard password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(a.stderr, "Repeat it: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(p1) != string(p2) {
			return "", &exitErr{exitUsage, errors.New("the two passwords differ; nothing changed")}
		}
		return string(p1), nil
	}
	line, err := bufio.NewReaderSize(a.stdin, 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", &exitErr{exitUsage, errors.New("no password on stdin (give it as the first line)")}
	}
	return pw, nil
}
