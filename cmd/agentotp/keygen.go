package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/seal"
)

func newKeygenCmd(a *app) *cobra.Command {
	var alg, out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Write an agent key pair: private key PEM (0600) and its public key (.pub)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			al, err := seal.ParseAlgorithm(alg)
			if err != nil {
				return &exitErr{exitUsage, err}
			}
			pub, priv, err := client.GenerateKeyPair(al)
			if err != nil {
				return err
			}
			pemBytes, err := client.ExportPrivateKey(priv)
			if err != nil {
				return err
			}
			if force {
				// Remove rather than truncate: a truncated file keeps its
				// old mode, and a link would be followed.
				if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("replace %s: %w", out, err)
				}
			}
			f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
			if errors.Is(err, os.ErrExist) {
				return &exitErr{exitUsage, fmt.Errorf("%s exists; pass --force to replace it", out)}
			}
			if err != nil {
				return fmt.Errorf("write private key: %w", err)
			}
			if _, err := f.Write(pemBytes); err != nil {
				f.Close()
				return fmt.Errorf("write private key: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write private key: %w", err)
			}
			if err := os.WriteFile(out+".pub", []byte(client.ExportPublicKey(pub)+"\n"), 0o644); err != nil {
				return fmt.Errorf("write public key: %w", err)
			}
			fmt.Fprintf(a.stderr, "wrote %s (private, 0600) and %s.pub\nalgorithm:   %s\nfingerprint: %s\n", out, out, pub.Algorithm(), pub.Fingerprint())
			fmt.Fprintln(a.stdout, client.ExportPublicKey(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&alg, "alg", "x25519", "rsa, x25519 or mlkem768x25519")
	cmd.Flags().StringVarP(&out, "out", "o", "agentotp-key.pem", "private key file")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file")
	return cmd
}
