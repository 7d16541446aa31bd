package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/client"
)

// maxDecryptInput bounds what decrypt reads on stdin: a consume answer
// with a full message stays far below it.
const maxDecryptInput = 1 << 20

// sealed is what decrypt opens: a consume answer, or part of one.
type sealed struct {
	ID               string `json:"id"`
	EncryptedPayload string `json:"encrypted_payload"`
	EncryptedContent string `json:"encrypted_content"`
}

// parseSealed reads a consume answer ({"id", "encrypted_payload", …}),
// a bare {"encrypted_payload"} object, a JSON string, or the base64
// ciphertext alone.
func parseSealed(data []byte) (sealed, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return sealed{}, errors.New("stdin is empty: pipe in the consume answer, e.g. curl … /consume | agentotp decrypt --key agent.pem")
	}
	var s sealed
	switch data[0] {
	case '{':
		if err := json.Unmarshal(data, &s); err != nil {
			return sealed{}, fmt.Errorf("stdin is not a JSON object: %w", err)
		}
		if s.EncryptedPayload == "" {
			return sealed{}, errors.New("the JSON on stdin has no encrypted_payload (is it a consume answer? an error answer has none)")
		}
	case '"':
		if err := json.Unmarshal(data, &s.EncryptedPayload); err != nil {
			return sealed{}, fmt.Errorf("stdin is not a JSON string: %w", err)
		}
	default:
		s.EncryptedPayload = string(data)
	}
	return s, nil
}

func newDecryptCmd(a *app) *cobra.Command {
	var keyFile, id string
	var message, jsonOut bool
	cmd := &cobra.Command{
		Use:   "decrypt --key FILE [--id otp_…]",
		Short: "Open a consume answer read on stdin with the agent's private key and print the code",
		Long: `Reads the answer of POST /v1/otp/{id}/consume on stdin (or just its
encrypted_payload, as a JSON object, a JSON string or the base64 text),
opens it with the private key from ` + "`agentotp keygen`" + ` and prints the code.

The ciphertext is bound to its request: a bare encrypted_payload needs
--id with the request id; a whole consume answer carries it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pemBytes, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("read key: %w", err)
			}
			priv, err := client.ImportPrivateKey(pemBytes)
			if err != nil {
				return &exitErr{exitUsage, fmt.Errorf("--key %s: %w", keyFile, err)}
			}
			data, err := io.ReadAll(io.LimitReader(a.stdin, maxDecryptInput+1))
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			if len(data) > maxDecryptInput {
				return &exitErr{exitUsage, fmt.Errorf("stdin holds more than %d bytes; a consume answer is smaller", maxDecryptInput)}
			}
			s, err := parseSealed(data)
			if err != nil {
				return &exitErr{exitUsage, err}
			}
			switch {
			case id != "" && s.ID != "" && id != s.ID:
				return &exitErr{exitUsage, fmt.Errorf("--id %s, but the answer on stdin is request %s", id, s.ID)}
			case s.ID == "":
				s.ID = id
			}
			if s.ID == "" {
				return &exitErr{exitUsage, errors.New("the request id is needed to open a bare encrypted_payload: pass --id otp_…")}
			}
			code, err := client.DecryptOTPPayload(priv, s.ID, s.EncryptedPayload)
			if err != nil {
				return fmt.Errorf("request %s: %w (is --key the key whose public half the request was made with?)", s.ID, err)
			}
			var full string
			if message && s.EncryptedContent != "" {
				if full, err = client.DecryptOTPPayload(priv, s.ID, s.EncryptedContent); err != nil {
					return fmt.Errorf("request %s, the message: %w", s.ID, err)
				}
			}
			if jsonOut {
				out := map[string]string{"id": s.ID, "code": code}
				if full != "" {
					out["full_message"] = full
				}
				return printJSON(a.stdout, out)
			}
			fmt.Fprintln(a.stdout, code)
			if message {
				if s.EncryptedContent == "" {
					fmt.Fprintln(a.stderr, "the answer holds no message (the request did not ask for it, or the owner did not allow it)")
				} else {
					fmt.Fprintf(a.stderr, "--- message (untrusted text) ---\n%s\n", full)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", "", "private key file (PEM) the request's public key came from (required)")
	f.StringVar(&id, "id", "", "request id otp_…, needed when stdin holds only the encrypted_payload")
	f.BoolVar(&message, "message", false, "also open encrypted_content and print the message on stderr")
	f.BoolVar(&jsonOut, "json", false, `print {"id", "code", "full_message"} as JSON`)
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
