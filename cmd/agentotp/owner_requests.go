package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/client"
)

func newRequestsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "requests", Short: "List OTP requests"}
	var status, agent string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List requests, newest first", Args: cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
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
		}),
	}
	list.Flags().StringVar(&status, "status", "", "only this status (pending_approval, approved, otp_received, …)")
	list.Flags().StringVar(&agent, "agent", "", "only this agent id")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many (1–100)")
	a.ownerFlags(list)
	cmd.AddCommand(list)
	return cmd
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
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			var r *client.OTPRequest
			var err error
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
		}),
	}
	cmd.Flags().StringVar(&signKey, "sign-key", "", "sign the approval with this owner signing key (agentotp owner keygen), so strict edges seal for it")
	a.ownerFlags(cmd)
	return cmd
}

func newDenyCmd(a *app) *cobra.Command {
	var reason, signKey string
	cmd := &cobra.Command{
		Use: "deny ID", Short: "Deny a pending request", Args: cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			var r *client.OTPRequest
			var err error
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
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown to the agent")
	cmd.Flags().StringVar(&signKey, "sign-key", "", "sign the denial with this owner signing key (agentotp owner keygen)")
	a.ownerFlags(cmd)
	return cmd
}
