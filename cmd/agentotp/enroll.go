package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/client"
)

// enrollOptions are the flags with which `mcp` and `request` get their
// API key from a file, and fill the file by enrolling (RFC 8628 style:
// the owner approves, the relay hands the key over once).
type enrollOptions struct {
	enroll      bool
	keyFile     string
	name        string
	description string
	test        bool
}

func (o *enrollOptions) flags(f *pflag.FlagSet, defaultName string) {
	f.BoolVar(&o.enroll, "enroll", false, "no key yet? ask the relay for one: print a code for the owner to approve, wait, and store the key in --key-file")
	f.StringVar(&o.keyFile, "key-file", "", "file holding the agent's API key (written 0600 by --enroll; read on later runs)")
	f.StringVar(&o.name, "enroll-name", defaultName, "with --enroll: the agent's name, shown to the owner")
	f.StringVar(&o.description, "enroll-description", "", "with --enroll: what this agent is, shown to the owner")
	f.BoolVar(&o.test, "enroll-test", false, "with --enroll: ask for a test key (ak_test_…)")
}

// keyFileJSON is what --enroll writes.
type keyFileJSON struct {
	AgentID       string `json:"agent_id"`
	APIKey        string `json:"api_key"`
	WebhookSecret string `json:"webhook_secret"`
	Server        string `json:"server"`
	CreatedAt     string `json:"created_at"`
}

// maxKeyFile bounds what is read from a key file.
const maxKeyFile = 64 << 10

// apiKey returns the key to use: --api-key, else the key in --key-file,
// else (with --enroll) a key just enrolled for and stored there.
func (o *enrollOptions) apiKey(ctx context.Context, stderr io.Writer, server, apiKey string) (string, error) {
	if o.keyFile == "" {
		if o.enroll {
			return "", &exitErr{exitUsage, errors.New("--enroll needs --key-file FILE: where to keep the key the owner approves")}
		}
		return apiKey, nil
	}
	if apiKey != "" {
		return "", &exitErr{exitUsage, errors.New("give --api-key (AGENTOTP_API_KEY) or --key-file, not both")}
	}
	key, err := readKeyFile(stderr, o.keyFile)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if !o.enroll {
		return "", &exitErr{exitUsage, fmt.Errorf("no key file at %s: add --enroll to ask the relay for a key", o.keyFile)}
	}
	return o.enrollNow(ctx, stderr, server)
}

// readKeyFile returns the API key in path: the JSON --enroll writes, or a
// line holding only the key.
func readKeyFile(stderr io.Writer, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "agentotp: warning: %s can be read by others (mode %04o); chmod 600 it\n", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return "", fmt.Errorf("read key file %s: %w", path, err)
	}
	text := strings.TrimSpace(string(b))
	key := text
	if strings.HasPrefix(text, "{") {
		var kf keyFileJSON
		if err := json.Unmarshal(b, &kf); err != nil {
			return "", &exitErr{exitUsage, fmt.Errorf("key file %s is not valid JSON: %w", path, err)}
		}
		key = kf.APIKey
	}
	if !strings.HasPrefix(key, "ak_live_") && !strings.HasPrefix(key, "ak_test_") || strings.ContainsAny(key, " \t\r\n") {
		return "", &exitErr{exitUsage, fmt.Errorf("key file %s holds no agent API key (ak_live_… or ak_test_…)", path)}
	}
	return key, nil
}

// enrollNow enrolls, waits for the owner, and stores the key in the key
// file, created 0600 and never overwritten. The key is written to a
// temporary file beside it first (made before the owner is asked, so a
// directory that cannot take the key fails early) and then linked into
// place, so the key file is either whole or absent.
func (o *enrollOptions) enrollNow(ctx context.Context, stderr io.Writer, server string) (string, error) {
	dir := filepath.Dir(o.keyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("key file directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(o.keyFile)+".*.tmp") // mode 0600
	if err != nil {
		return "", fmt.Errorf("key file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	c := client.New("", client.WithBaseURL(server))
	e, err := c.Enroll(ctx, client.EnrollOptions{Name: o.name, Description: o.description, Test: o.test})
	if err != nil {
		return "", fmt.Errorf("enroll at %s: %w", server, err)
	}
	fmt.Fprintf(stderr, "agentotp: asking the relay at %s for an API key for %q.\n", server, o.name)
	fmt.Fprintf(stderr, "  code:     %s\n", e.UserCode)
	fmt.Fprintf(stderr, "  approve:  %s  (or with the relay's Telegram bot)\n", e.VerificationURIComplete)
	fmt.Fprintf(stderr, "  waiting up to %s for the owner…\n", time.Duration(e.ExpiresIn)*time.Second)
	n, err := c.WaitEnrollment(ctx, e)
	switch {
	case errors.Is(err, client.ErrApprovalDenied):
		return "", &exitErr{exitDenied, errors.New("the owner denied the enrollment")}
	case errors.Is(err, client.ErrExpired):
		return "", &exitErr{exitExpired, errors.New("the enrollment expired before the owner approved it")}
	case err != nil:
		if ctx.Err() != nil {
			return "", &exitErr{exitCancelled, errors.New("interrupted while waiting for the owner")}
		}
		return "", fmt.Errorf("enroll: %w", err)
	}
	lost := func(err error) error {
		return fmt.Errorf("store the key in %s: %w (the key was issued to agent %s: revoke it and enroll again)", o.keyFile, err, n.Agent.ID)
	}
	b, _ := json.MarshalIndent(keyFileJSON{AgentID: n.Agent.ID, APIKey: n.APIKey, WebhookSecret: n.WebhookSecret, Server: server,
		CreatedAt: time.Now().UTC().Format(time.RFC3339)}, "", "  ")
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return "", lost(err)
	}
	if err := tmp.Sync(); err != nil {
		return "", lost(err)
	}
	if err := os.Link(tmp.Name(), o.keyFile); err != nil {
		return "", lost(err)
	}
	fmt.Fprintf(stderr, "agentotp: approved: agent %s; key stored in %s (mode 0600)\n", n.Agent.ID, o.keyFile)
	return n.APIKey, nil
}

// defaultEnrollName names an enrolling agent after what runs it and where.
func defaultEnrollName(what string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "agentotp " + what
	}
	return "agentotp " + what + " on " + host
}
