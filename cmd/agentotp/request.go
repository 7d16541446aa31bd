package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/seal"
)

type requestOptions struct {
	server, apiKey, reason, expectedSender string
	senderPattern, contentPattern          string
	sources                                []string
	ttl                                    string
	keyFile, alg                           string
	timeout                                time.Duration
	quiet                                  bool
	enroll                                 enrollOptions // --enroll, --key-file (enroll.go)
}

func newRequestCmd(a *app) *cobra.Command {
	var o requestOptions
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Agent side for scripts: request a code, wait, consume, decrypt, print the code",
		Long: `Requests one code, shows on stderr what it waits for (approval, then the
message) with the time left, consumes and decrypts it, and prints the code
alone on stdout.

Without a key, --enroll --key-file FILE first asks the relay for one: it
prints a code and a link on stderr, waits for the owner to approve, and
stores the key in FILE (mode 0600); later runs read FILE.

Exit codes: 0 code printed, 3 denied, 4 expired, 5 cancelled, 6 timed out,
7 authentication failed, 1 any other error, 2 usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return agentRequest(cmd.Context(), a, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", client.DefaultBaseURL, "relay URL (env AGENTOTP_URL)")
	f.StringVar(&o.apiKey, "api-key", "", "agent API key ak_… (env AGENTOTP_API_KEY)")
	f.StringVar(&o.reason, "reason", "", "why the code is needed, shown to the owner (required)")
	f.StringVar(&o.expectedSender, "expected-sender", "", "who will send the code, shown to the owner")
	f.StringVar(&o.senderPattern, "sender-pattern", "", "glob over the sender address or number, e.g. *@acme.com")
	f.StringVar(&o.contentPattern, "content-pattern", "", "RE2 expression the message must match")
	f.StringSliceVar(&o.sources, "source", nil, "sms and/or email, repeat or comma-separate (default both)")
	f.StringVar(&o.ttl, "ttl", "", "request lifetime, seconds or a duration like 5m (60s–1h; default 5m)")
	f.StringVar(&o.keyFile, "key", "", "private key file made by 'agentotp keygen' (default: a new key in memory)")
	f.StringVar(&o.alg, "alg", "x25519", "algorithm of the key made when --key is not given: x25519, mlkem768x25519 or rsa")
	f.DurationVar(&o.timeout, "timeout", 0, "give up after this long (default: the request's lifetime)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	o.enroll.flags(f, defaultEnrollName("request"))
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--ttl: %q is neither seconds nor a duration", s)
	}
	return d, nil
}

func agentRequest(ctx context.Context, a *app, o requestOptions) error {
	apiKey, err := o.enroll.apiKey(ctx, a.stderr, o.server, o.apiKey)
	if err != nil {
		return err
	}
	if o.apiKey = apiKey; o.apiKey == "" {
		return &exitErr{exitUsage, errors.New("an agent API key is needed: --api-key or AGENTOTP_API_KEY, or --key-file FILE [--enroll]")}
	}
	ttl, err := parseTTL(o.ttl)
	if err != nil {
		return &exitErr{exitUsage, err}
	}
	var priv *client.PrivateKey
	if o.keyFile != "" {
		b, err := os.ReadFile(o.keyFile)
		if err != nil {
			return fmt.Errorf("read key: %w", err)
		}
		if priv, err = client.ImportPrivateKey(b); err != nil {
			return &exitErr{exitUsage, err}
		}
	} else {
		alg, err := seal.ParseAlgorithm(o.alg)
		if err != nil {
			return &exitErr{exitUsage, err}
		}
		if _, priv, err = client.GenerateKeyPair(alg); err != nil {
			return err
		}
	}
	c := client.New(o.apiKey, client.WithBaseURL(o.server))
	opts := client.RequestOptions{Reason: o.reason, ExpectedSender: o.expectedSender, PublicKey: client.ExportPublicKey(priv.Public()), TTL: ttl}
	if o.senderPattern != "" || o.contentPattern != "" || len(o.sources) > 0 {
		opts.Filter = &client.Filter{SenderPattern: o.senderPattern, ContentPattern: o.contentPattern, Sources: o.sources}
	}
	req, err := c.RequestOTP(ctx, opts)
	if err != nil {
		return err
	}
	progress := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(a.stderr, format+"\n", args...)
		}
	}
	progress("request %s created; key %s (%s)", req.ID, req.PublicKeyFingerprint, req.Encryption)
	deadline := req.ExpiresAt
	if o.timeout > 0 && time.Now().Add(o.timeout).Before(deadline) {
		deadline = time.Now().Add(o.timeout)
	}
	if req.Status.Waiting() {
		if req, err = waitForCode(ctx, c, req, deadline, progress); err != nil {
			return err
		}
	}
	switch req.Status {
	case client.StatusOTPReceived:
	case client.StatusDenied:
		reason := ""
		if req.DenyReason != nil {
			reason = ": " + *req.DenyReason
		}
		return &exitErr{exitDenied, fmt.Errorf("the owner denied request %s%s", req.ID, reason)}
	case client.StatusExpired:
		return &exitErr{exitExpired, fmt.Errorf("request %s expired", req.ID)}
	case client.StatusCancelled:
		return &exitErr{exitCancelled, fmt.Errorf("request %s was cancelled", req.ID)}
	default:
		return fmt.Errorf("request %s ended as %s", req.ID, req.Status)
	}
	res, err := c.ConsumeOTP(ctx, req.ID, priv)
	if err != nil {
		return err
	}
	if res.Metadata != nil {
		progress("code received from %s (%s)", res.Metadata.Sender, res.Metadata.Source)
	}
	fmt.Fprintln(a.stdout, res.Code)
	return nil
}

// waitForCode long-polls until the request stops waiting or deadline,
// saying on stderr what it waits for. It waits across a relay restart (the
// SDK retries a refused connection, a 502/503/504 or a cut-short answer
// until the deadline). At the deadline, or when interrupted, it cancels
// the request, so that none is left waiting for the owner.
func waitForCode(ctx context.Context, c *client.Client, req *client.OTPRequest, deadline time.Time, progress func(string, ...any)) (*client.OTPRequest, error) {
	seen, last, down := req, client.Status(""), false
	onWait := func(r *client.OTPRequest, retrying error) {
		if r != nil {
			seen = r
		}
		left := max(time.Until(deadline), 0).Round(time.Second)
		switch {
		case retrying != nil:
			if !down {
				progress("the relay is not answering (%v); still trying (%s left)", retrying, left)
				down = true
			}
			return
		case down:
			progress("the relay answers again")
			down = false
		}
		if seen.Status == last {
			progress("  still %s, %s left", seen.Status, left)
			return
		}
		switch seen.Status {
		case client.StatusPendingApproval:
			progress("waiting for the owner's approval (%s left): %s", left, seen.ApprovalURL)
		case client.StatusApproved:
			progress("approved; waiting for the message (%s left)", left)
		}
		last = seen.Status
	}
	got, err := c.WaitForOTPWith(ctx, req.ID, client.WaitOptions{Timeout: time.Until(deadline), Poll: 15 * time.Second, OnWait: onWait})
	switch {
	case err == nil:
		return got, nil
	case ctx.Err() != nil:
		// Interrupted: leave no request waiting for the owner.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, cerr := c.CancelOTPRequest(cctx, req.ID); cerr != nil {
			progress("cancel after interrupt failed: %v", cerr)
		}
		return nil, &exitErr{exitCancelled, fmt.Errorf("interrupted; request %s cancelled", req.ID)}
	case errors.Is(err, client.ErrTimeout):
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, cerr := c.CancelOTPRequest(cctx, req.ID); cerr != nil && !errors.Is(cerr, client.ErrExpired) {
			progress("cancel after timeout failed: %v", cerr)
		}
		if got != nil {
			seen = got
		}
		return nil, &exitErr{exitTimeout, fmt.Errorf("timed out; request %s was still %s", req.ID, seen.Status)}
	}
	return nil, err
}
