package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// newSourcesCmd is `agentotp sources …`: the owner's capture sources and their tokens.
func newSourcesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "sources", Short: "Create, list and revoke capture sources"}
	var name, kind string
	var createIMAP imapFlags // sources_imap.go: --imap-host and co.
	create := &cobra.Command{
		Use: "create", Short: "Create a capture source; its token is printed once", Args: cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			n, err := oc.CreateSource(cmd.Context(), name, kind)
			if err != nil {
				return err
			}
			if err := createIMAP.apply(cmd.Context(), a, oc, n); err != nil { // sources_imap.go
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, n)
			}
			fmt.Fprintf(a.stdout, "source %s created (%s, %s)\n", n.Source.ID, n.Source.Name, n.Source.Kind)
			fmt.Fprintf(a.stdout, "token: %s\n", n.Token)
			if n.Source.Kind == "email" {
				fmt.Fprintln(a.stdout, "It is shown once; the relay keeps only a hash.")
			} else {
				// SMS gateways sign their webhooks with the token itself, so the
				// relay must be able to read it back (relay/sourcekeys.go).
				fmt.Fprintln(a.stdout, "It is shown once. The relay keeps a hash of it, and a copy sealed with the data directory's secret key to check SMS-gateway webhook signatures.")
			}
			return nil
		}),
	}
	create.Flags().StringVar(&name, "name", "", "source name (required)")
	create.Flags().StringVar(&kind, "kind", "generic", "sms, email or generic")
	createIMAP.register(create.Flags(), "imap-")
	_ = create.MarkFlagRequired("name")
	a.ownerFlags(create)

	list := &cobra.Command{
		Use: "list", Short: "List capture sources", Args: cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			ss, err := oc.ListSources(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, ss)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tKIND\tTOKEN\tSTATUS\tCREATED\tIMAP")
			for _, s := range ss {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\t%s\t%s\n", s.ID, s.Name, s.Kind, s.TokenPrefix, s.Status, fmtTime(&s.CreatedAt), imapSummary(s))
			}
			return tw.Flush()
		}),
	}
	a.ownerFlags(list)

	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a source and its token", Args: cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			s, err := oc.RevokeSource(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, s)
			}
			fmt.Fprintf(a.stdout, "source %s (%s) revoked\n", s.ID, s.Name)
			return nil
		}),
	}
	a.ownerFlags(revoke)
	cmd.AddCommand(create, list, revoke, newSourcesIMAPCmd(a)) // sources_imap.go
	return cmd
}
