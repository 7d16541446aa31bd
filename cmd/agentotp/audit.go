package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and export the hash-chained audit log"}
	verify := &cobra.Command{
		Use: "verify", Short: "Check that no audit row was edited, inserted or deleted", Args: cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			rep, err := oc.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if err := printJSON(a.stdout, rep); err != nil {
					return err
				}
			} else if rep.OK {
				fmt.Fprintf(a.stdout, "audit chain intact: %d entries, head %s\n", rep.Entries, rep.Head)
			}
			if !rep.OK {
				return &exitErr{exitError, fmt.Errorf("audit chain broken at seq %d (%s): %s", rep.Break.Seq, rep.Break.ID, rep.Break.Reason)}
			}
			return nil
		}),
	}
	a.ownerFlags(verify)
	var format, output string
	export := &cobra.Command{
		Use: "export", Short: "Export the audit log as JSON Lines or CSV", Args: cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			w := a.stdout
			if output != "" && output != "-" {
				f, err := os.OpenFile(output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("open output: %w", err)
				}
				defer f.Close()
				w = f
			}
			return oc.ExportAudit(cmd.Context(), format, w)
		}),
	}
	export.Flags().StringVar(&format, "format", "jsonl", "jsonl or csv")
	export.Flags().StringVarP(&output, "output", "o", "-", "file to write (- for stdout)")
	a.ownerFlags(export)
	cmd.AddCommand(verify, export)
	return cmd
}
