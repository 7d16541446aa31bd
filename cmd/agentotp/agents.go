package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// newAgentsCmd is `agentotp agents …`: the owner's agents and their API keys.
func newAgentsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "agents", Short: "Create, list, rotate and revoke agents and their API keys"}

	var name string
	var test bool
	create := &cobra.Command{
		Use: "create", Short: "Create an agent; its API key is printed once", Args: cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			n, err := oc.CreateAgent(cmd.Context(), name, test)
			if err != nil {
				return err
			}
			return a.printNewAgent(n, "created")
		}),
	}
	create.Flags().StringVar(&name, "name", "", "agent name (required)")
	create.Flags().BoolVar(&test, "test", false, "a test agent: ak_test_ key, auto-approved, never sees real messages")
	_ = create.MarkFlagRequired("name")
	a.ownerFlags(create)

	list := &cobra.Command{
		Use: "list", Short: "List agents", Args: cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			as, err := oc.ListAgents(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, as)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tKIND\tKEY\tSTATUS\tCREATED")
			for _, ag := range as {
				kind := "live"
				if ag.Test {
					kind = "test"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\t%s\n", ag.ID, ag.Name, kind, ag.KeyPrefix, ag.Status, fmtTime(&ag.CreatedAt))
			}
			return tw.Flush()
		}),
	}
	a.ownerFlags(list)

	var grace time.Duration
	rotate := &cobra.Command{
		Use: "rotate ID", Short: "Give an agent a new API key (the old one stops, after --grace)", Args: cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			n, err := oc.RotateAgent(cmd.Context(), args[0], grace)
			if err != nil {
				return err
			}
			return a.printNewAgent(n, "rotated")
		}),
	}
	rotate.Flags().DurationVar(&grace, "grace", 0, "how long the old key keeps working (at most 24h)")
	a.ownerFlags(rotate)

	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an agent and its keys", Args: cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			ag, err := oc.RevokeAgent(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, ag)
			}
			fmt.Fprintf(a.stdout, "agent %s (%s) revoked\n", ag.ID, ag.Name)
			return nil
		}),
	}
	a.ownerFlags(revoke)
	cmd.AddCommand(create, list, rotate, revoke)
	return cmd
}

func (a *app) printNewAgent(n *client.NewAgent, verb string) error {
	if a.jsonOut {
		return printJSON(a.stdout, n)
	}
	kind := "live"
	if n.Agent.Test {
		kind = "test"
	}
	fmt.Fprintf(a.stdout, "agent %s %s (%s, %s)\n", n.Agent.ID, verb, n.Agent.Name, kind)
	fmt.Fprintf(a.stdout, "api key:        %s\n", n.APIKey)
	fmt.Fprintf(a.stdout, "webhook secret: %s\n", n.WebhookSecret)
	fmt.Fprintln(a.stdout, "Both are shown once; the relay keeps only a hash of the key.")
	return nil
}
