package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// newAuditCmd is `agentotp audit …`: verify the keyed hash chain (also
// against a head exported earlier), print its head, export the log.
func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and export the hash-chained audit log"}
	var headArg string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit row was edited, inserted or deleted (with --head, also since that head was exported)",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			var rep *client.AuditReport
			var err error
			if headArg != "" {
				head, herr := readAuditHead(headArg)
				if herr != nil {
					return herr
				}
				rep, err = oc.VerifyAuditHead(cmd.Context(), head)
			} else {
				rep, err = oc.VerifyAudit(cmd.Context())
			}
			if err != nil {
				return err
			}
			if a.jsonOut {
				if err := printJSON(a.stdout, rep); err != nil {
					return err
				}
			} else if rep.OK {
				fmt.Fprintf(a.stdout, "audit chain intact: %d entries (%d older than the keyed chain), head %s\n", rep.Entries, rep.LegacyEntries, rep.AuditHead())
				if rep.CheckedHead != "" {
					fmt.Fprintf(a.stdout, "the exported head %s is still in it, unchanged\n", rep.CheckedHead)
				}
			}
			if !rep.OK {
				return &exitErr{exitError, fmt.Errorf("audit chain broken at seq %d (%s): %s", rep.Break.Seq, rep.Break.ID, rep.Break.Reason)}
			}
			return nil
		}),
	}
	verify.Flags().StringVar(&headArg, "head", "", "a head printed earlier by agentotp audit head (SEQ:HASH), or a file holding it (its text or --json output)")
	a.ownerFlags(verify)
	head := &cobra.Command{
		Use:   "head",
		Short: "Verify the chain and print its head (SEQ:HASH), to keep elsewhere and check later with `audit verify --head`",
		Args:  cobra.NoArgs,
		RunE: a.ownerRun(func(cmd *cobra.Command, args []string, oc *client.OwnerClient) error {
			rep, err := oc.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			if !rep.OK {
				return &exitErr{exitError, fmt.Errorf("no head printed: the audit chain is broken at seq %d (%s): %s", rep.Break.Seq, rep.Break.ID, rep.Break.Reason)}
			}
			if rep.Head == "" {
				return &exitErr{exitError, errors.New("the audit log is empty: no head yet")}
			}
			if a.jsonOut {
				return printJSON(a.stdout, map[string]any{"head": rep.AuditHead(), "seq": rep.HeadSeq, "hash": rep.Head, "entries": rep.Entries})
			}
			fmt.Fprintln(a.stdout, rep.AuditHead())
			return nil
		}),
	}
	a.ownerFlags(head)
	cmd.AddCommand(head)
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

// headRE is an exported audit head: SEQ:HASH.
var headRE = regexp.MustCompile(`^[0-9]+:[0-9a-fA-F]{64}$`)

// readAuditHead reads --head: the head itself, or a file holding it as
// text or as the JSON of `audit head --json`.
func readAuditHead(v string) (string, error) {
	v = strings.TrimSpace(v)
	if headRE.MatchString(v) {
		return v, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return "", &exitErr{exitUsage, fmt.Errorf("--head: neither SEQ:HASH nor a readable file: %w", err)}
	}
	text := strings.TrimSpace(string(b))
	if strings.HasPrefix(text, "{") {
		var j struct {
			Head string `json:"head"`
		}
		if err := json.Unmarshal([]byte(text), &j); err == nil {
			text = j.Head
		}
	}
	if !headRE.MatchString(text) {
		return "", &exitErr{exitUsage, fmt.Errorf("--head: %s does not hold a head (SEQ:HASH, as `agentotp audit head` prints it)", v)}
	}
	return text, nil
}
