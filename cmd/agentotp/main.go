// Command agentotp is the agentotp relay and its command-line tools: the
// server (serve), the owner's commands (agents, sources, requests,
// approve, deny, audit), a capture helper (ingest), and the agent side for
// shell scripts (keygen, request).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
