package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// addOwnerTelegram adds the Telegram link and time zone commands to
// `agentotp owner`.
func addOwnerTelegram(a *app, owner *cobra.Command) *cobra.Command {
	link := &cobra.Command{
		Use:   "telegram-link",
		Short: "Print a one-time code (valid 10 minutes) that links a Telegram chat: send /link CODE to the bot",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			c, err := oc.NewTelegramLinkCode(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, c)
			}
			fmt.Fprintln(a.stdout, c.Command)
			fmt.Fprintf(a.stderr, "send this to the relay's Telegram bot; the code works once, until %s\n", c.ExpiresAt.Local().Format(time.DateTime))
			return nil
		}),
	}
	a.ownerFlags(link)

	status := &cobra.Command{
		Use:   "telegram",
		Short: "Show which Telegram chat is linked",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			l, err := oc.Telegram(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, l)
			}
			if !l.Linked {
				fmt.Fprintln(a.stdout, "no Telegram chat is linked (agentotp owner telegram-link)")
				return nil
			}
			who := ""
			if l.Username != nil {
				who = " (@" + *l.Username + ")"
			}
			fmt.Fprintf(a.stdout, "linked to chat %d%s since %s\n", *l.ChatID, who, l.LinkedAt.Local().Format(time.DateTime))
			return nil
		}),
	}
	a.ownerFlags(status)

	unlink := &cobra.Command{
		Use:   "telegram-unlink",
		Short: "Unlink the Telegram chat; its buttons stop working",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			if err := oc.UnlinkTelegram(cmd.Context()); err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, map[string]bool{"linked": false})
			}
			fmt.Fprintln(a.stdout, "Telegram chat unlinked")
			return nil
		}),
	}
	a.ownerFlags(unlink)

	tz := &cobra.Command{
		Use:   "timezone [ZONE]",
		Short: "Show or set the time zone (IANA name, e.g. Europe/Berlin) in which policy hours are read",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			if len(args) == 0 {
				s, err := oc.Settings(cmd.Context())
				if err != nil {
					return err
				}
				if a.jsonOut {
					return printJSON(a.stdout, s)
				}
				fmt.Fprintln(a.stdout, s.TimeZone)
				return nil
			}
			s, err := oc.SetTimeZone(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, s)
			}
			fmt.Fprintf(a.stdout, "time zone set to %s\n", s.TimeZone)
			return nil
		}),
	}
	a.ownerFlags(tz)

	owner.AddCommand(link, status, unlink, tz)
	owner.Short += "; Telegram link; time zone"
	return owner
}
