package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// newOwnerTokenCmd is `agentotp owner token rotate|revoke`: replace the
// owner token in use, or revoke every owner token and keep one new one.
// Either way the new token is printed once and the relay keeps only its
// hash; the data dir's owner.token is rewritten when it held a token that
// stopped working.
func newOwnerTokenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Rotate or revoke the owner token"}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Replace the owner token in use with a new one (printed once); the old one stops working at once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.replaceOwnerToken(cmd.Context(), (*client.OwnerClient).RotateToken)
		},
	}
	a.ownerFlags(rotate)
	revoke := &cobra.Command{
		Use: "revoke",
		Short: "Revoke every owner token, the one in use included, and issue one new one (printed once): " +
			"after a leak, the only owner token left is the new one",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.replaceOwnerToken(cmd.Context(), (*client.OwnerClient).RevokeTokens)
		},
	}
	a.ownerFlags(revoke)
	cmd.AddCommand(rotate, revoke)
	return cmd
}

// replaceOwnerToken runs replace with the command's owner token, prints
// the new token, then rewrites owner.token if it held a token that
// stopped working. The token is printed before the file is written, so
// that a failed write cannot lose it.
func (a *app) replaceOwnerToken(ctx context.Context, replace func(*client.OwnerClient, context.Context) (*client.NewOwnerToken, error)) error {
	old, err := a.ownerToken()
	if err != nil {
		return err
	}
	n, err := replace(client.NewOwnerClient(old, client.WithBaseURL(a.server)), ctx)
	if err != nil {
		return err
	}
	path := filepath.Join(a.dataDir, "owner.token")
	update := false
	if b, err := os.ReadFile(path); err == nil {
		held := strings.TrimSpace(string(b))
		update = held == old || (held != "" && slices.ContainsFunc(n.RevokedPrefixes, func(p string) bool {
			return p != "" && strings.HasPrefix(held, p) // a prefix is the token's first characters
		}))
	}
	out := struct {
		Token           string   `json:"token"`
		RevokedPrefixes []string `json:"revoked_prefixes"`
		UpdatedFile     string   `json:"updated_file,omitempty"`
	}{Token: n.Token, RevokedPrefixes: n.RevokedPrefixes}
	if update {
		out.UpdatedFile = path
	}
	if a.jsonOut {
		if err := printJSON(a.stdout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "owner token: %s\n", n.Token)
		fmt.Fprintf(a.stdout, "It is shown once; the relay keeps only its hash. Stopped working: %s\n", strings.Join(n.RevokedPrefixes, ", ")+"…")
	}
	if update {
		if err := writeSecretFile(path, n.Token+"\n"); err != nil {
			return fmt.Errorf("the new token is printed above, but %w", err)
		}
		if !a.jsonOut {
			fmt.Fprintf(a.stdout, "%s now holds the new token\n", path)
		}
	}
	return nil
}
