package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/client"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func newAgentsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "agents", Short: "Create, list, rotate and revoke agents and their API keys"}

	var name string
	var test bool
	create := &cobra.Command{
		Use: "create", Short: "Create an agent; its API key is printed once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			n, err := oc.CreateAgent(cmd.Context(), name, test)
			if err != nil {
				return err
			}
			return a.printNewAgent(n, "created")
		},
	}
	create.Flags().StringVar(&name, "name", "", "agent name (required)")
	create.Flags().BoolVar(&test, "test", false, "a test agent: ak_test_ key, auto-approved, never sees real messages")
	_ = create.MarkFlagRequired("name")
	a.ownerFlags(create)

	list := &cobra.Command{
		Use: "list", Short: "List agents", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
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
		},
	}
	a.ownerFlags(list)

	var grace time.Duration
	rotate := &cobra.Command{
		Use: "rotate ID", Short: "Give an agent a new API key (the old one stops, after --grace)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			n, err := oc.RotateAgent(cmd.Context(), args[0], grace)
			if err != nil {
				return err
			}
			return a.printNewAgent(n, "rotated")
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 0, "how long the old key keeps working (at most 24h)")
	a.ownerFlags(rotate)

	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an agent and its keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			ag, err := oc.RevokeAgent(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, ag)
			}
			fmt.Fprintf(a.stdout, "agent %s (%s) revoked\n", ag.ID, ag.Name)
			return nil
		},
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

func newSourcesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "sources", Short: "Create, list and revoke capture sources"}
	var name, kind string
	var createIMAP imapFlags // sources_imap.go: --imap-host and co.
	create := &cobra.Command{
		Use: "create", Short: "Create a capture source; its token is printed once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
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
		},
	}
	create.Flags().StringVar(&name, "name", "", "source name (required)")
	create.Flags().StringVar(&kind, "kind", "generic", "sms, email or generic")
	createIMAP.register(create.Flags(), "imap-")
	_ = create.MarkFlagRequired("name")
	a.ownerFlags(create)

	list := &cobra.Command{
		Use: "list", Short: "List capture sources", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
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
		},
	}
	a.ownerFlags(list)

	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a source and its token", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			s, err := oc.RevokeSource(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, s)
			}
			fmt.Fprintf(a.stdout, "source %s (%s) revoked\n", s.ID, s.Name)
			return nil
		},
	}
	a.ownerFlags(revoke)
	cmd.AddCommand(create, list, revoke, newSourcesIMAPCmd(a)) // sources_imap.go
	return cmd
}

func newRequestsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "requests", Short: "List OTP requests"}
	var status, agent string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List requests, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			page, err := oc.ListRequests(cmd.Context(), client.ListQuery{Status: client.Status(status), AgentID: agent, Limit: limit})
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, page)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tAGENT\tREASON\tSENDER\tKEY\tEXPIRES")
			for _, r := range page.Data {
				sender := "-"
				if r.ExpectedSender != nil {
					sender = *r.ExpectedSender
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.AgentID, clip(r.Reason, 40), clip(sender, 20), clip(r.PublicKeyFingerprint, 19), fmtTime(&r.ExpiresAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "only this status (pending_approval, approved, otp_received, …)")
	list.Flags().StringVar(&agent, "agent", "", "only this agent id")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many (1–100)")
	a.ownerFlags(list)
	cmd.AddCommand(list)
	return cmd
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func (a *app) printDecision(r *client.OTPRequest) error {
	if a.jsonOut {
		return printJSON(a.stdout, r)
	}
	fmt.Fprintf(a.stdout, "request %s is now %s\n", r.ID, r.Status)
	switch {
	case r.Approval == nil:
	case r.Approval.Method == approval.MethodNone:
		fmt.Fprintln(a.stderr, "unsigned: no owner key signed this decision; strict edges will not seal for it (sign with --sign-key FILE)")
	default:
		fmt.Fprintf(a.stderr, "signed with %s\n", r.Approval.KeyID)
	}
	return nil
}

func newApproveCmd(a *app) *cobra.Command {
	var signKey string
	cmd := &cobra.Command{
		Use: "approve ID", Short: "Approve a pending request", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			var r *client.OTPRequest
			if signKey != "" {
				var sig *client.Approval
				if sig, err = a.signDecision(cmd.Context(), oc, args[0], approval.Approve, signKey); err != nil {
					return err
				}
				r, err = oc.ApproveSigned(cmd.Context(), args[0], sig)
			} else {
				r, err = oc.Approve(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			return a.printDecision(r)
		},
	}
	cmd.Flags().StringVar(&signKey, "sign-key", "", "sign the approval with this owner signing key (agentotp owner keygen), so strict edges seal for it")
	a.ownerFlags(cmd)
	return cmd
}

func newDenyCmd(a *app) *cobra.Command {
	var reason, signKey string
	cmd := &cobra.Command{
		Use: "deny ID", Short: "Deny a pending request", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			var r *client.OTPRequest
			if signKey != "" {
				var sig *client.Approval
				if sig, err = a.signDecision(cmd.Context(), oc, args[0], approval.Deny, signKey); err != nil {
					return err
				}
				r, err = oc.DenySigned(cmd.Context(), args[0], reason, sig)
			} else {
				r, err = oc.Deny(cmd.Context(), args[0], reason)
			}
			if err != nil {
				return err
			}
			return a.printDecision(r)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown to the agent")
	cmd.Flags().StringVar(&signKey, "sign-key", "", "sign the denial with this owner signing key (agentotp owner keygen)")
	a.ownerFlags(cmd)
	return cmd
}

func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and export the hash-chained audit log"}
	verify := &cobra.Command{
		Use: "verify", Short: "Check that no audit row was edited, inserted or deleted", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
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
		},
	}
	a.ownerFlags(verify)
	var format, output string
	export := &cobra.Command{
		Use: "export", Short: "Export the audit log as JSON Lines or CSV", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
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
		},
	}
	export.Flags().StringVar(&format, "format", "jsonl", "jsonl or csv")
	export.Flags().StringVarP(&output, "output", "o", "-", "file to write (- for stdout)")
	a.ownerFlags(export)
	cmd.AddCommand(verify, export)
	return cmd
}
