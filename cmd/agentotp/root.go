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
	"github.com/spf13/pflag"

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

// app holds what every command shares: streams and common flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	server         string
	dataDir        string
	token          string
	jsonOut        bool
}

// envNames maps flags whose environment variable is not simply
// AGENTOTP_<FLAG>.
var envNames = map[string]string{
	"server":  "AGENTOTP_URL",
	"token":   "AGENTOTP_OWNER_TOKEN",
	"api-key": "AGENTOTP_API_KEY",
}

// envAnnotation names, on a flag, the environment variable that sets it
// when that differs from what envName derives (a capture's --token is a
// source token, not the owner's).
const envAnnotation = "agentotp_env"

// envName returns the environment variable that sets a flag.
func envName(flag string) string {
	if n, ok := envNames[flag]; ok {
		return n
	}
	return "AGENTOTP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagEnv returns the environment variable of f: its annotation, or
// envName.
func flagEnv(f *pflag.Flag) string {
	if v := f.Annotations[envAnnotation]; len(v) == 1 {
		return v[0]
	}
	return envName(f.Name)
}

// bindEnv sets every flag not given on the command line from its
// environment variable.
func bindEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		if v, ok := os.LookupEnv(flagEnv(f)); ok && v != "" {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", flagEnv(f), err))
			}
		}
	})
	return errors.Join(errs...)
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "agentotp",
		Short:         "One verification code for an AI agent, with the owner's approval",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return bindEnv(cmd)
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
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
		addOwnerTelegram(a, newOwnerCmd(a)),
		newPoliciesCmd(a),
		newWebhooksCmd(a), // webhooks.go
		newMCPCmd(a),      // mcp.go
		newBenchCmd(a),    // bench.go
	)
	return root
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "agentotp:", strings.TrimPrefix(err.Error(), "agentotp: "))
	var ee *exitErr
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, client.ErrAuthentication) {
		return exitAuth
	}
	if strings.Contains(err.Error(), "unknown flag") || strings.Contains(err.Error(), "unknown command") ||
		strings.Contains(err.Error(), "accepts ") || strings.Contains(err.Error(), "required flag") {
		return exitUsage
	}
	return exitError
}

// ownerFlags adds --server, --token and --data to an owner command.
func (a *app) ownerFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.server, "server", client.DefaultBaseURL, "relay URL (env AGENTOTP_URL)")
	cmd.Flags().StringVar(&a.token, "token", "", "owner token (env AGENTOTP_OWNER_TOKEN; default: the data dir's owner.token)")
	cmd.Flags().StringVar(&a.dataDir, "data", defaultDataDir, "data directory holding owner.token (env AGENTOTP_DATA)")
	cmd.Flags().BoolVar(&a.jsonOut, "json", false, "print JSON")
}

const defaultDataDir = "agentotp-data"

// ownerClient returns a client for the owner API.
func (a *app) ownerClient() (*client.OwnerClient, error) {
	tok := a.token
	if tok == "" {
		b, err := os.ReadFile(filepath.Join(a.dataDir, "owner.token"))
		if err != nil {
			return nil, &exitErr{exitAuth, fmt.Errorf("no owner token: pass --token, set AGENTOTP_OWNER_TOKEN, or run where %s/owner.token exists (%w)", a.dataDir, err)}
		}
		tok = strings.TrimSpace(string(b))
	}
	return client.NewOwnerClient(tok, client.WithBaseURL(a.server)), nil
}
