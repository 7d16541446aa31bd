package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// Shell completion (cobra's `agentotp completion bash|zsh|fish|powershell`)
// completes flag values from fixed lists and, for the commands that take
// an id, the ids the relay has, asked with the command's own --server,
// --token and --data (or their environment variables).

// flagValues are the fixed values of flags, by flag name; a command's
// own entry (by command path and flag) wins.
var flagValues = map[string][]string{
	"source":     {"sms\tSMS messages", "email\tEmail"},
	"alg":        {"x25519\tHPKE X25519 (default)", "mlkem768x25519\tHPKE post-quantum hybrid", "rsa\tRSA-OAEP-256"},
	"kind":       {"sms", "email", "generic"},
	"state":      {"pending", "delivered", "failed"},
	"status":     {"pending_approval", "approved", "otp_received", "consumed", "denied", "expired", "cancelled"},
	"action":     {"auto_approve", "deny", "ask"},
	"format":     {"jsonl", "csv"},
	"log-format": {"auto", "text", "json"},
	"log-level":  {"debug", "info", "warn", "error"},
	"tls":        {"tls", "starttls", "plain"},
	"imap-tls":   {"tls", "starttls", "plain"},
}

// idKind is what the first argument of a command names.
type idKind int

const (
	noIDs idKind = iota
	agentIDs
	sourceIDs
	emailSourceIDs
	pendingRequestIDs
	policyIDs
	deliveryIDs
)

// argIDs names the commands whose first argument is an id, by path.
var argIDs = map[string]idKind{
	"agentotp agents rotate":          agentIDs,
	"agentotp agents revoke":          agentIDs,
	"agentotp sources revoke":         sourceIDs,
	"agentotp sources imap":           emailSourceIDs,
	"agentotp approve":                pendingRequestIDs,
	"agentotp deny":                   pendingRequestIDs,
	"agentotp policies update":        policyIDs,
	"agentotp policies move":          policyIDs,
	"agentotp policies delete":        policyIDs,
	"agentotp webhooks show":          agentIDs,
	"agentotp webhooks set-url":       agentIDs,
	"agentotp webhooks rotate-secret": agentIDs,
	"agentotp webhooks retry":         deliveryIDs,
	"agentotp webhooks list --agent":  agentIDs, // a flag's value, see addCompletions
	"agentotp requests list --agent":  agentIDs,
}

// addCompletions registers c's flag value and argument completions.
func addCompletions(a *app, c *cobra.Command) {
	path := c.CommandPath()
	for name, vals := range flagValues {
		if c.Flags().Lookup(name) != nil {
			_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	for key, kind := range argIDs {
		p, flag, ok := strings.Cut(key, " --")
		if ok && p == path && c.Flags().Lookup(flag) != nil {
			_ = c.RegisterFlagCompletionFunc(flag, func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				return a.completeIDs(cmd, kind, toComplete)
			})
		}
	}
	if kind, ok := argIDs[path]; ok && c.ValidArgsFunction == nil {
		c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return a.completeIDs(cmd, kind, toComplete)
		}
	}
}

// completeIDs asks the relay for the ids of kind, each with a short
// description. It fails quietly (no suggestions): completion must not
// print errors into a shell prompt.
func (a *app) completeIDs(cmd *cobra.Command, kind idKind, toComplete string) ([]string, cobra.ShellCompDirective) {
	const none = cobra.ShellCompDirectiveNoFileComp
	// Completion runs no pre-run hook: apply the environment here.
	if bindEnv(cmd) != nil || a.normalizeServer(cmd) != nil {
		return nil, none
	}
	oc, err := a.ownerClient()
	if err != nil {
		return nil, none
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
	defer cancel()
	var out []string
	add := func(id, desc string) {
		if strings.HasPrefix(id, toComplete) {
			out = append(out, id+"\t"+cleanString(desc))
		}
	}
	switch kind {
	case agentIDs:
		as, err := oc.ListAgents(ctx)
		if err != nil {
			return nil, none
		}
		for _, ag := range as {
			if ag.Status == "active" || ag.Status == "" {
				add(ag.ID, ag.Name)
			}
		}
	case sourceIDs, emailSourceIDs:
		ss, err := oc.ListSources(ctx)
		if err != nil {
			return nil, none
		}
		for _, s := range ss {
			if kind == emailSourceIDs && s.Kind != "email" {
				continue
			}
			add(s.ID, fmt.Sprintf("%s (%s)", s.Name, s.Kind))
		}
	case pendingRequestIDs:
		page, err := oc.ListRequests(ctx, client.ListQuery{Status: client.StatusPendingApproval, Limit: 50})
		if err != nil {
			return nil, none
		}
		for _, r := range page.Data {
			add(r.ID, r.Reason)
		}
	case policyIDs:
		ps, err := oc.ListPolicies(ctx)
		if err != nil {
			return nil, none
		}
		for _, p := range ps {
			add(p.ID, fmt.Sprintf("#%d %s (%s)", p.Position, p.Name, p.Action))
		}
	case deliveryIDs:
		ds, err := oc.ListWebhookDeliveries(ctx, client.WebhookQuery{})
		if err != nil {
			return nil, none
		}
		for _, d := range ds {
			add(d.ID, fmt.Sprintf("%s %s", d.RequestID, d.URL))
		}
	}
	return out, none
}
