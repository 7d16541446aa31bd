package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/secretbox"
)

// webhookServeOptions are serve's webhook flags.
type webhookServeOptions struct {
	allowPrivate bool
	retryBase    time.Duration
	timeout      time.Duration
}

func (o *webhookServeOptions) flags(f *pflag.FlagSet) {
	f.BoolVar(&o.allowPrivate, "allow-private-webhooks", false,
		"let webhooks reach loopback, private, link-local, unique-local and CGNAT addresses (env AGENTOTP_ALLOW_PRIVATE_WEBHOOKS)")
	f.DurationVar(&o.retryBase, "webhook-retry-base", 5*time.Second,
		"delay before a failed webhook's first retry; it doubles up to 1h, for 24h (env AGENTOTP_WEBHOOK_RETRY_BASE)")
	f.DurationVar(&o.timeout, "webhook-timeout", 10*time.Second, "timeout of one webhook attempt (env AGENTOTP_WEBHOOK_TIMEOUT)")
}

// loadSecretBox opens the box that seals the secrets kept at rest, with
// the key of $AGENTOTP_SECRET_KEY or dataDir/secret.key.
func loadSecretBox(dataDir string) (*secretbox.Box, error) {
	key, err := secretbox.LoadKey(dataDir)
	if err != nil {
		return nil, err
	}
	return secretbox.New(key)
}

func newWebhooksCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "webhooks", Short: "Agents' webhook URLs and secrets, and the deliveries of the outbox"}

	show := &cobra.Command{
		Use: "show AGENT_ID", Short: "Show an agent's default webhook URL", Args: cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			w, err := oc.GetAgentWebhook(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printAgentWebhook(w)
		}),
	}
	a.ownerFlags(show)

	setURL := &cobra.Command{
		Use: "set-url AGENT_ID URL", Short: `Set the agent's default webhook URL ("" removes it)`, Args: cobra.ExactArgs(2),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			w, err := oc.SetAgentWebhookURL(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return a.printAgentWebhook(w)
		}),
	}
	a.ownerFlags(setURL)

	rotate := &cobra.Command{
		Use: "rotate-secret AGENT_ID", Short: "Give the agent a new webhook secret (printed once); its API key stays", Args: cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			w, err := oc.RotateWebhookSecret(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, w)
			}
			fmt.Fprintf(a.stdout, "webhook secret of agent %s rotated\n", w.AgentID)
			fmt.Fprintf(a.stdout, "webhook secret: %s\n", w.WebhookSecret)
			fmt.Fprintln(a.stdout, "It is shown once; deliveries from now on are signed with it.")
			return nil
		}),
	}
	a.ownerFlags(rotate)

	var q client.WebhookQuery
	list := &cobra.Command{
		Use: "list", Short: "List webhook deliveries, newest first", Args: cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			ds, err := oc.ListWebhookDeliveries(cmd.Context(), q)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, ds)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tREQUEST\tSTATUS\tSTATE\tATTEMPTS\tLAST\tURL")
			for _, d := range ds {
				last := "-"
				if d.LastStatusCode != nil {
					last = fmt.Sprint(*d.LastStatusCode)
				}
				if d.LastError != nil && d.State != "delivered" {
					last += " " + *d.LastError
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.RequestID, d.Status, d.State, d.Attempts, last, d.URL)
			}
			return tw.Flush()
		}),
	}
	list.Flags().StringVar(&q.RequestID, "request", "", "only deliveries of this request")
	list.Flags().StringVar(&q.AgentID, "agent", "", "only deliveries of this agent's requests")
	list.Flags().StringVar(&q.State, "state", "", "pending, delivered or failed")
	list.Flags().IntVar(&q.Limit, "limit", 0, "at most this many (1–500; default 100)")
	a.ownerFlags(list)

	retry := &cobra.Command{
		Use: "retry DELIVERY_ID", Short: "Queue a failed delivery again", Args: cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			d, err := oc.RetryWebhookDelivery(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, d)
			}
			fmt.Fprintf(a.stdout, "delivery %s queued again\n", d.ID)
			return nil
		}),
	}
	a.ownerFlags(retry)

	cmd.AddCommand(show, setURL, rotate, list, retry)
	return cmd
}

func (a *app) printAgentWebhook(w *client.AgentWebhook) error {
	if a.jsonOut {
		return printJSON(a.stdout, w)
	}
	if w.URL == nil {
		fmt.Fprintf(a.stdout, "agent %s: no default webhook URL\n", w.AgentID)
		return nil
	}
	fmt.Fprintf(a.stdout, "agent %s: webhook URL %s\n", w.AgentID, *w.URL)
	return nil
}
