package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// Exit codes. The agent-side `request` command uses the specific ones so
// that shell scripts can tell outcomes apart.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitDenied    = 3
	exitExpired   = 4
	exitCancelled = 5
	exitTimeout   = 6
	exitAuth      = 7
)

// exitError carries an exit code out of a command.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

// usageError is a command line the command cannot run: an unknown
// command or flag, a bad flag value, a wrong number of arguments, a
// missing required flag. It exits 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usage wraps err as a usage error (nil stays nil).
func usage(err error) error {
	if err == nil {
		return nil
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	return &usageError{err}
}

// app holds what every command shares: streams and common flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	server         string
	dataDir        string
	token          string
	jsonOut        bool
	// relayURL is the relay URL the command talks to, once known: the
	// errors about an unreachable or foreign relay name it.
	relayURL string
	// stderrTerminal is whether stderr is a terminal (logs are then text).
	stderrTerminal bool
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "agentotp",
		Short:         "One verification code for an AI agent, with the owner's approval",
		Version:       buildVersion().short(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return usage(err)
			}
			if err := a.normalizeServer(cmd); err != nil {
				return usage(err)
			}
			// Checked here rather than left to cobra, whose errors carry
			// no type: a missing required flag is a usage error.
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return usage(err)
			}
			return usage(cmd.ValidateFlagGroups())
		},
	}
	root.SetVersionTemplate("agentotp {{.Version}}\n")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })
	root.AddCommand(
		newServeCmd(a),
		newAgentsCmd(a),
		newSourcesCmd(a),
		newRequestsCmd(a),
		newApproveCmd(a),
		newDenyCmd(a),
		newAuditCmd(a),
		newIngestCmd(a),
		newCaptureCmd(a),
		newKeygenCmd(a),
		newExtractCmd(a),
		newRequestCmd(a),
		addOwnerSigning(a, addOwnerTelegram(a, newOwnerCmd(a))),
		newPoliciesCmd(a),
		newWebhooksCmd(a), // webhooks.go
		newMCPCmd(a),      // mcp.go
		newVersionCmd(a),  // version.go
		newDecryptCmd(a),  // decrypt.go
		newBenchCmd(a),    // bench.go
		newMigrateCmd(a),  // migrate.go
	)
	// Add cobra's help and completion commands now, not at Execute, so
	// that finishTree reaches them too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	finishTree(a, root)
	return root
}

// finishTree gives every command of the tree what the CLI promises of
// each: argument errors typed as usage errors, an Examples section
// (examples.go), and completion of ids and flag values (completion.go).
func finishTree(a *app, root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		typeArgs(c)
		documentAliases(c) // env.go
		if c.Example == "" {
			c.Example = examples[c.CommandPath()]
		}
		addCompletions(a, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// typeArgs makes c's argument errors usage errors. A command that only
// groups others answers an unknown subcommand with a usage error (cobra
// would print the help and exit 0) and shows its help when given none.
func typeArgs(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		c.SuggestionsMinimumDistance = 2
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				hint := ""
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					hint = " (did you mean " + strings.Join(s, " or ") + "?)"
				}
				return usage(fmt.Errorf("unknown command %q for %q%s; see %s --help", args[0], cmd.CommandPath(), hint, cmd.CommandPath()))
			}
			return cmd.Help()
		}
		return
	}
	if c.Args == nil {
		return
	}
	check := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error { return usage(check(cmd, args)) }
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// What reaches the terminal is cleaned of control characters: much of
	// it (names, reasons, senders, the relay's messages) came from others.
	a := &app{stdin: stdin, stdout: newCleanWriter(stdout), stderr: newCleanWriter(stderr), stderrTerminal: isTerminal(stderr)}
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(a.stderr, "agentotp:", strings.TrimPrefix(a.describe(err), "agentotp: "))
	return exitCode(err)
}

// exitCode maps a command's error to the process exit code.
func exitCode(err error) int {
	var ee *exitErr
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if errors.Is(err, client.ErrAuthentication) {
		return exitAuth
	}
	return exitError
}

// describe explains err for a person: an unreachable relay names the URL
// tried and what to do; an answer that is not an agentotp relay's says so
// rather than what the client made of it.
func (a *app) describe(err error) string {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return err.Error()
	}
	where := a.relayURL
	if where == "" {
		where = "the relay"
	}
	switch {
	case errors.Is(err, client.ErrNetwork) && ce.StatusCode == 0 && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("relay not reachable at %s (%v); start one with `agentotp serve`, or point --server (or AGENTOTP_URL) at yours", where, ce.Err)
	case ce.StatusCode != 0 && ce.Code == "":
		// Every answer of an agentotp relay, errors included, is JSON
		// with a code; this one was not.
		return fmt.Sprintf("%s answered %d %s, which is not an agentotp relay's answer; is --server (or AGENTOTP_URL) pointing at an agentotp relay?", where, ce.StatusCode, strings.ToLower(httpStatusText(ce.StatusCode)))
	}
	return err.Error()
}

// ownerFlags adds --server, --token and --data to an owner command.
func (a *app) ownerFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.server, "server", client.DefaultBaseURL, "relay URL (env AGENTOTP_URL or AGENT_OTP_BASE_URL)")
	cmd.Flags().StringVar(&a.token, "token", "", "owner token (env AGENTOTP_OWNER_TOKEN; default: the data dir's owner.token)")
	cmd.Flags().StringVar(&a.dataDir, "data", defaultDataDir, "data directory holding owner.token (env AGENTOTP_DATA)")
	cmd.Flags().BoolVar(&a.jsonOut, "json", false, "print JSON")
}

const defaultDataDir = "agentotp-data"

// ownerClient returns a client for the owner API.
func (a *app) ownerClient() (*client.OwnerClient, error) {
	tok, err := a.ownerToken()
	if err != nil {
		return nil, err
	}
	return client.NewOwnerClient(tok, client.WithBaseURL(a.server)), nil
}

// ownerToken returns the owner token of the command: --token (or
// AGENTOTP_OWNER_TOKEN), else the data dir's owner.token.
func (a *app) ownerToken() (string, error) {
	if a.token != "" {
		return a.token, nil
	}
	b, err := os.ReadFile(filepath.Join(a.dataDir, "owner.token"))
	if err != nil {
		return "", &exitErr{exitAuth, fmt.Errorf("no owner token: pass --token, set AGENTOTP_OWNER_TOKEN, or run where %s/owner.token exists (%w)", a.dataDir, err)}
	}
	return strings.TrimSpace(string(b)), nil
}

// ownerRun is the RunE of an owner command: it makes the owner client
// from the command's --server, --token and --data, then runs fn with it.
func (a *app) ownerRun(fn func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		oc, err := a.ownerClient()
		if err != nil {
			return err
		}
		return fn(cmd, args, oc)
	}
}

// normalizeServer completes a --server given without a scheme
// ("127.0.0.1:8787" means http://127.0.0.1:8787) and remembers the URL
// for error messages.
func (a *app) normalizeServer(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("server")
	if f == nil || (f.Value.String() == "" && f.DefValue == "") {
		return nil // a command whose --server is optional (bench) and not given
	}
	u, err := relayURL(f.Value.String())
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	if u != f.Value.String() {
		if err := f.Value.Set(u); err != nil {
			return fmt.Errorf("--server: %w", err)
		}
	}
	a.relayURL = u
	return nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
