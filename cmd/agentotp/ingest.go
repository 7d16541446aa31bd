package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// maxStdinMessage bounds what ingest reads from stdin.
const maxStdinMessage = 10 << 20

func newIngestCmd(a *app) *cobra.Command {
	var source, sender, subject, token, server, externalID string
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Post one message read on stdin (raw RFC 5322 email, or SMS text) with a source token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				return &exitErr{exitUsage, errors.New("a source token is needed: --source-token or AGENTOTP_SOURCE_TOKEN")}
			}
			data, err := io.ReadAll(io.LimitReader(a.stdin, maxStdinMessage+1))
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			if len(data) > maxStdinMessage {
				return &exitErr{exitUsage, fmt.Errorf("the message on stdin is over %d bytes", maxStdinMessage)}
			}
			sc := client.NewSourceClient(token, client.WithBaseURL(server))
			var res *client.IngestResult
			switch source {
			case "email":
				res, err = sc.SendRaw(cmd.Context(), data)
			case "sms":
				if sender == "" {
					return &exitErr{exitUsage, errors.New("--sender is required for SMS")}
				}
				res, err = sc.Send(cmd.Context(), client.Message{Source: "sms", Sender: sender, Subject: subject,
					Text: strings.TrimRight(string(data), "\r\n"), ExternalID: externalID})
			default:
				return &exitErr{exitUsage, fmt.Errorf("--source must be email or sms, not %q", source)}
			}
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, res)
			}
			switch {
			case res.Duplicate:
				fmt.Fprintf(a.stdout, "message %s was already delivered; ignored\n", res.MessageID)
			case res.Matched:
				fmt.Fprintf(a.stdout, "message %s matched a request\n", res.MessageID)
			default:
				fmt.Fprintf(a.stdout, "message %s matched no request\n", res.MessageID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "email", "email (raw RFC 5322 on stdin) or sms (text on stdin)")
	f.StringVar(&sender, "sender", "", "SMS sender number or id")
	f.StringVar(&subject, "subject", "", "subject, for SMS gateways that have one")
	f.StringVar(&externalID, "external-id", "", "the message's id at its origin, so a second delivery is ignored")
	f.StringVar(&token, "source-token", "", "source token sk_… (env AGENTOTP_SOURCE_TOKEN)")
	f.StringVar(&server, "server", client.DefaultBaseURL, "relay URL (env AGENTOTP_URL)")
	f.BoolVar(&a.jsonOut, "json", false, "print JSON")
	return cmd
}
