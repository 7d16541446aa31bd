package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/client"
)

// addOwnerSigning adds the owner signing key commands to `agentotp
// owner`: keygen, trust, signing-keys.
func addOwnerSigning(a *app, owner *cobra.Command) *cobra.Command {
	var out, name string
	keygen := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Make an owner signing key: the private key stays in FILE (0600), the relay gets only the public key",
		Long: "Makes an Ed25519 key for signing approvals (agentotp approve ID --sign-key FILE). " +
			"The private key is written to FILE, readable by you only, and never leaves this machine; " +
			"the public key is registered with the relay, which can then check approvals but never make one. " +
			"Renew the trust file of your edges afterwards (agentotp owner trust --out FILE).",
		Example: "  agentotp owner keygen --out ~/.config/agentotp/owner-signing.pem --name laptop",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return &exitErr{exitUsage, errors.New("--out FILE is required")}
			}
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return fmt.Errorf("make a signing key: %w", err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				return fmt.Errorf("encode the signing key: %w", err)
			}
			f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("write the signing key: %w (an existing file is never overwritten)", err)
			}
			if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
				f.Close()
				os.Remove(out)
				return fmt.Errorf("write the signing key: %w", err)
			}
			if err := f.Close(); err != nil {
				os.Remove(out)
				return fmt.Errorf("write the signing key: %w", err)
			}
			k, err := oc.AddSigningKey(cmd.Context(), name, pub)
			if err != nil {
				os.Remove(out) // a key the relay does not know signs nothing that counts
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, k)
			}
			fmt.Fprintf(a.stdout, "%s\t%s\n", k.ID, k.KeyID)
			fmt.Fprintf(a.stderr, "wrote %s (private, 0600) and registered its public key as %s; sign with: agentotp approve ID --sign-key %s\n", out, k.ID, out)
			return nil
		},
	}
	keygen.Flags().StringVar(&out, "out", "", "file for the private key (created 0600; never overwritten)")
	keygen.Flags().StringVar(&name, "name", "owner key", "a name for the key, shown in listings")
	a.ownerFlags(keygen)

	var trustOut string
	trust := &cobra.Command{
		Use:   "trust [--out FILE]",
		Short: "Fetch the owner's id and active signing keys, to pin at an edge (agentotp capture --trust FILE)",
		Example: "  agentotp owner trust --out owner-trust.json\n" +
			"  agentotp capture --trust owner-trust.json --smtp-addr 127.0.0.1:2525",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			t, err := oc.Trust(cmd.Context())
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(t, "", "  ")
			if err != nil {
				return err
			}
			b = append(b, '\n')
			if trustOut == "" {
				_, err := a.stdout.Write(b)
				return err
			}
			if err := os.WriteFile(trustOut, b, 0o644); err != nil {
				return fmt.Errorf("write the trust file: %w", err)
			}
			fmt.Fprintf(a.stderr, "wrote %s: owner %s, %d signing key(s)\n", trustOut, t.OwnerID, len(t.Keys))
			return nil
		},
	}
	trust.Flags().StringVar(&trustOut, "out", "", "write the trust file here instead of stdout")
	a.ownerFlags(trust)

	keys := &cobra.Command{
		Use:     "signing-keys",
		Short:   "List the owner's signing keys",
		Example: "  agentotp owner signing-keys\n  agentotp owner signing-keys revoke sgk_…",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			ks, err := oc.ListSigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return printJSON(a.stdout, ks)
			}
			for _, k := range ks {
				fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Status, k.KeyID, k.Name, k.CreatedAt.Local().Format(time.DateTime))
			}
			return nil
		},
	}
	a.ownerFlags(keys)
	revoke := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a signing key: approvals it signs are refused from now on",
		Example: "  agentotp owner signing-keys revoke sgk_…",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			oc, err := a.ownerClient()
			if err != nil {
				return err
			}
			if err := oc.RevokeSigningKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "signing key %s revoked; renew your edges' trust files\n", args[0])
			return nil
		},
	}
	a.ownerFlags(revoke)
	keys.AddCommand(revoke)
	owner.AddCommand(keygen, trust, keys)
	return owner
}

// readSigningKey reads an owner signing key written by owner keygen.
func readSigningKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the signing key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s is not a PEM private key (agentotp owner keygen writes one)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, not an Ed25519 key", path, k)
	}
	return priv, nil
}

// signDecision reads request id as the relay presents it to the owner and
// signs the statement of decision on it. It also says on stderr, in
// words, what the owner is signing.
func (a *app) signDecision(ctx context.Context, oc *client.OwnerClient, id, decision, keyFile string) (*client.Approval, error) {
	priv, err := readSigningKey(keyFile)
	if err != nil {
		return nil, err
	}
	r, err := oc.GetRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	req := &domain.Request{ID: r.ID, OwnerID: r.OwnerID, AgentID: r.AgentID, KeyFingerprint: r.PublicKeyFingerprint,
		Encryption: string(r.Encryption), IncludeMessage: r.IncludeMessage, ExpiresAt: r.ExpiresAt}
	if r.Filter != nil {
		req.Filter = domain.Filter{Sources: domain.Channels(r.Filter.Sources), SenderPattern: r.Filter.SenderPattern,
			ContentPattern: r.Filter.ContentPattern, ReceivedAfter: r.Filter.ReceivedAfter}
	}
	st := approval.For(req, decision, time.Now())
	b := st.Canonical()
	pub := priv.Public().(ed25519.PublicKey)
	fmt.Fprintf(a.stderr, "signing: %s request %s of agent %s, key %s (%s), sources %s, sender %s, content %s, full message %s, until %s\n",
		decision, st.RequestID, st.AgentID, st.KeyFingerprint, st.Encryption, strings.Join(st.Filter.Sources, "+"),
		orAny(st.Filter.SenderPattern), orAny(st.Filter.ContentPattern), yesNo(st.IncludeMessage), st.ExpiresAt)
	return &client.Approval{Statement: b, Method: approval.MethodEd25519, KeyID: approval.KeyID(pub), Signature: approval.SignEd25519(priv, b)}, nil
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
