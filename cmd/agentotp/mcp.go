package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/mcp"
)

type mcpOptions struct {
	server    string
	apiKey    string
	httpAddr  string
	httpToken string
	timeout   time.Duration
	logLevel  string
	enroll    enrollOptions // --enroll, --key-file (enroll.go)
}

func newMCPCmd(a *app) *cobra.Command {
	var o mcpOptions
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Run the MCP server: get_verification_code and friends for any MCP client (stdio, or --http)",
		Long: `Run a Model Context Protocol server that gives an AI agent the tools
get_verification_code, request_verification_code, check_verification_code
and cancel_verification_code. It speaks MCP over stdin/stdout (what MCP
clients launch), or streamable HTTP with --http ADDR.

It is an agent of the relay: AGENTOTP_URL (or AGENT_OTP_BASE_URL) names
the relay and AGENTOTP_API_KEY (or AGENT_OTP_API_KEY) holds the agent's
key. Logs go to stderr, as JSON unless stderr is a terminal. Each request gets a fresh key pair
in memory; the tools return the code only, never the message.

Without a key, --enroll --key-file FILE asks the relay for one: it prints
a code and a link on stderr, waits for the owner to approve, stores the key
in FILE (mode 0600) and serves; later runs read FILE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMCP(cmd.Context(), a, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", client.DefaultBaseURL, "relay URL (env AGENTOTP_URL)")
	f.StringVar(&o.apiKey, "api-key", "", "the agent's API key, ak_live_… or ak_test_… (env AGENTOTP_API_KEY)")
	f.StringVar(&o.httpAddr, "http", "", "serve streamable HTTP on this address (e.g. 127.0.0.1:8788) instead of stdio (env AGENTOTP_HTTP)")
	f.StringVar(&o.httpToken, "http-token", "", "bearer token HTTP clients must send; required unless --http is a loopback address (env AGENTOTP_HTTP_TOKEN)")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long get_verification_code waits by default (env AGENTOTP_TIMEOUT)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level on stderr: debug, info, warn, error (env AGENTOTP_LOG_LEVEL)")
	o.enroll.flags(f, defaultEnrollName("mcp"))
	return cmd
}

func runMCP(ctx context.Context, a *app, o mcpOptions) error {
	apiKey, err := o.enroll.apiKey(ctx, a.stderr, o.server, o.apiKey)
	if err != nil {
		return err
	}
	if o.apiKey = apiKey; o.apiKey == "" {
		return &exitErr{exitUsage, errors.New("no API key: set AGENTOTP_API_KEY (or --api-key) to the agent's ak_live_… or ak_test_… key, or use --key-file FILE --enroll")}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(o.logLevel)); err != nil {
		return &exitErr{exitUsage, fmt.Errorf("--log-level: %w", err)}
	}
	// Logs go to stderr: stdout carries the protocol. Text for a person
	// at a terminal; JSON for the MCP client or a log collector.
	hopts := &slog.HandlerOptions{Level: lv}
	var log *slog.Logger
	if a.stderrTerminal {
		log = slog.New(slog.NewTextHandler(a.stderr, hopts))
	} else {
		log = slog.New(slog.NewJSONHandler(a.stderr, hopts))
	}
	srv := mcp.New(mcp.Config{
		Client:         client.New(o.apiKey, client.WithBaseURL(o.server)),
		Version:        "v1",
		DefaultTimeout: o.timeout,
		Logger:         log,
	})
	if o.httpAddr == "" {
		if err := srv.RunStdio(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("mcp: %w", err)
		}
		return nil
	}
	host, _, err := net.SplitHostPort(o.httpAddr)
	if err != nil {
		return &exitErr{exitUsage, fmt.Errorf("--http: %w", err)}
	}
	if o.httpToken == "" && !domain.LoopbackHost(host) {
		return &exitErr{exitUsage, errors.New("--http on a non-loopback address needs --http-token: the server acts with the agent's API key")}
	}
	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.HTTPHandler(o.httpToken),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The banner is for a person: stdout (free with --http), not the log.
	fmt.Fprintf(a.stdout, "agentotp MCP server listening on http://%s (streamable HTTP)\n", ln.Addr())
	log.Info("mcp http listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("mcp http: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shut)
	return nil
}
