package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/client"
)

// policyFlags are the flags that describe a policy, shared by create and
// update (update sends only the ones given).
type policyFlags struct {
	name, action, agent, sender, reason, hours string
	sources                                    []string
	maxPerHour, position                       int
	enabled                                    bool
}

func (pf *policyFlags) add(f *pflag.FlagSet) {
	f.StringVar(&pf.name, "name", "", "policy name")
	f.StringVar(&pf.action, "action", "", "auto_approve, deny or ask")
	f.StringVar(&pf.agent, "agent", "", "only requests of this agent (agt_…)")
	f.StringSliceVar(&pf.sources, "source", nil, "message kinds the policy trusts: sms, email (repeat or comma-separate)")
	f.StringVar(&pf.sender, "sender-pattern", "", "glob that must cover the request's sender pattern (and expected sender), e.g. '*@acme.com'")
	f.StringVar(&pf.reason, "reason-pattern", "", "RE2 expression searched in the request's reason")
	f.StringVar(&pf.hours, "hours", "", "daily window HH:MM-HH:MM in the owner's time zone (see 'owner timezone')")
	f.IntVar(&pf.maxPerHour, "max-per-hour", 0, "auto_approve only: at most N approvals per agent per hour, then ask (0: no cap)")
	f.IntVar(&pf.position, "position", 0, "place in the order, 1 first (0: at the end / unchanged)")
	f.BoolVar(&pf.enabled, "enabled", true, "whether the policy is applied")
}

// apply writes the flags given on the command line (all of them when all
// is set) over in.
func (pf *policyFlags) apply(f *pflag.FlagSet, in *client.PolicyInput, all bool) {
	set := func(name string) bool { return all || f.Changed(name) }
	if in.Conditions == nil {
		in.Conditions = &client.PolicyConditions{}
	}
	if set("name") {
		in.Name = pf.name
	}
	if set("action") {
		in.Action = pf.action
	}
	if set("agent") {
		in.Conditions.AgentID = pf.agent
	}
	if set("source") {
		in.Conditions.Sources = pf.sources
	}
	if set("sender-pattern") {
		in.Conditions.SenderPattern = pf.sender
	}
	if set("reason-pattern") {
		in.Conditions.ReasonPattern = pf.reason
	}
	if set("hours") {
		in.Conditions.Hours = pf.hours
	}
	if set("max-per-hour") {
		in.MaxPerHour = nil
		if pf.maxPerHour != 0 {
			n := pf.maxPerHour
			in.MaxPerHour = &n
		}
	}
	if set("position") {
		in.Position = pf.position
	}
	if set("enabled") {
		e := pf.enabled
		in.Enabled = &e
	}
}

func newPoliciesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "policies", Short: "Standing rules that approve, deny or ask for new requests (first match by position wins)"}

	list := &cobra.Command{
		Use:   "list",
		Short: "List the policies in evaluation order",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			ps, err := oc.ListPolicies(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if ps == nil {
					ps = []client.Policy{}
				}
				return printJSON(a.stdout, ps)
			}
			if len(ps) == 0 {
				fmt.Fprintln(a.stdout, "no policies: every request is asked")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POS\tID\tNAME\tACTION\tCAP/H\tENABLED\tCONDITIONS")
			for _, p := range ps {
				capStr := "-"
				if p.MaxPerHour != nil {
					capStr = strconv.Itoa(*p.MaxPerHour)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%v\t%s\n", p.Position, p.ID, p.Name, p.Action, capStr, p.Enabled, describeConditions(p.Conditions))
			}
			return tw.Flush()
		}),
	}
	a.ownerFlags(list)

	var cf policyFlags
	create := &cobra.Command{
		Use:   "create --name N --action auto_approve|deny|ask [conditions]",
		Short: "Add a policy",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			var in client.PolicyInput
			cf.apply(cmd.Flags(), &in, true)
			p, err := oc.CreatePolicy(cmd.Context(), in)
			if err != nil {
				return err
			}
			return a.printPolicy(p, "created")
		}),
	}
	cf.add(create.Flags())
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("action")
	a.ownerFlags(create)

	var uf policyFlags
	update := &cobra.Command{
		Use:   "update ID [flags to change]",
		Short: "Change a policy: the flags given replace those fields (an empty value clears a condition)",
		Args:  cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			cur, err := oc.GetPolicy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			in := cur.Input()
			in.Position = 0 // keep the place unless --position is given
			uf.apply(cmd.Flags(), &in, false)
			p, err := oc.UpdatePolicy(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return a.printPolicy(p, "updated")
		}),
	}
	uf.add(update.Flags())
	a.ownerFlags(update)

	move := &cobra.Command{
		Use:   "move ID POSITION",
		Short: "Move a policy to a place in the order (1 first)",
		Args:  cobra.ExactArgs(2),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			pos, err := strconv.Atoi(args[1])
			if err != nil || pos < 1 {
				return &exitErr{exitUsage, fmt.Errorf("POSITION must be a whole number from 1, not %q", args[1])}
			}
			cur, err := oc.GetPolicy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			in := cur.Input()
			in.Position = pos
			p, err := oc.UpdatePolicy(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return a.printPolicy(p, "moved")
		}),
	}
	a.ownerFlags(move)

	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a policy",
		Args:  cobra.ExactArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			p, err := oc.DeletePolicy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printPolicy(p, "deleted")
		}),
	}
	a.ownerFlags(del)

	cmd.AddCommand(list, create, update, move, del)
	return cmd
}

func (a *app) printPolicy(p *client.Policy, verb string) error {
	if a.jsonOut {
		return printJSON(a.stdout, p)
	}
	capStr := ""
	if p.MaxPerHour != nil {
		capStr = fmt.Sprintf(", at most %d per agent per hour", *p.MaxPerHour)
	}
	state := ""
	if !p.Enabled {
		state = " (disabled)"
	}
	fmt.Fprintf(a.stdout, "%s policy %s at position %d: %q %s%s%s when %s\n", verb, p.ID, p.Position, p.Name, p.Action, capStr, state, describeConditions(p.Conditions))
	return nil
}

// describeConditions renders conditions in a few words.
func describeConditions(c client.PolicyConditions) string {
	var parts []string
	if c.AgentID != "" {
		parts = append(parts, "agent "+c.AgentID)
	}
	if len(c.Sources) > 0 {
		parts = append(parts, "sources "+strings.Join(c.Sources, "+"))
	}
	if c.SenderPattern != "" {
		parts = append(parts, "sender within "+c.SenderPattern)
	}
	if c.ReasonPattern != "" {
		parts = append(parts, "reason ~ /"+c.ReasonPattern+"/")
	}
	if c.Hours != "" {
		parts = append(parts, "hours "+c.Hours)
	}
	if len(parts) == 0 {
		return "any request"
	}
	return strings.Join(parts, ", ")
}
