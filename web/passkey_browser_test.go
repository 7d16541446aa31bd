package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/capture"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/web"
)

// TestPasskeyBrowser: in a real Chromium with the DevTools virtual
// authenticator, the owner registers a passkey, signs in with it, and
// approves a request with it; a strict edge that pins the owner's keys
// then seals the code for that request, and the agent reads it.
func TestPasskeyBrowser(t *testing.T) {
	ctx := browserCtx(t)
	var base string // http://localhost:PORT: a passkey needs a host name, not an address
	r := relaytest.New(t, relaytest.Options{
		RelayConfig: func(c *relay.Config) {
			c.PublicURL = strings.Replace(c.PublicURL, "127.0.0.1", "localhost", 1)
			base = c.PublicURL
		},
		Handler: func(svc *relay.Service, log *slog.Logger, _ string) (http.Handler, error) {
			dash, err := web.New(svc, web.Config{PublicURL: base, Logger: log})
			if err != nil {
				return nil, err
			}
			cfg := httpapi.DefaultConfig()
			cfg.Web = dash
			return httpapi.New(svc, log, cfg).Handler(), nil
		},
	})
	bg := ctxT(t)

	auth, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{})
	_ = auth
	if err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}}); err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}

	// Log in once with a one-time link, add a passkey.
	link, err := r.Service.CreateLoginLink(bg, r.Owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "log in with a link",
		chromedp.Navigate(link.URL),
		chromedp.Click(chromedp.CSS(`form[action="/login/link"] button`)),
		chromedp.WaitVisible(chromedp.ID("pending-lists")),
	)
	step(t, ctx, "add a passkey",
		chromedp.Navigate(base+"/passkeys"),
		chromedp.SendKeys(chromedp.ID("passkey-name"), "virtual laptop"),
		chromedp.Click(chromedp.ID("passkey-add")),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	if txt := eval[string](t, ctx, `document.querySelector("table.list tbody").innerText`); !strings.Contains(txt, "virtual laptop") || !strings.Contains(txt, "passkey") {
		t.Fatalf("passkeys page lists %q", txt)
	}

	// Log out, and back in with the passkey alone.
	step(t, ctx, "log out", chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.ID("passkey-login")))
	step(t, ctx, "sign in with the passkey", chromedp.Click(chromedp.ID("passkey-login")))
	waitFor(t, ctx, `document.getElementById("pending-lists") !== null`, `document.querySelector("[data-passkey-status]") && document.querySelector("[data-passkey-status]").innerText`, r.Logs)

	// An agent asks; the owner approves with the passkey.
	na, err := r.Service.CreateAgent(bg, r.Owner.ID, "signup-bot", false)
	if err != nil {
		t.Fatal(err)
	}
	agent := client.New(na.APIKey, client.WithBaseURL(r.URL), client.WithMaxRetries(0))
	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(bg, client.RequestOptions{Reason: "Sign up for Acme", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.example"}})
	if err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "approve with the passkey",
		chromedp.Navigate(base+"/r/"+req.ID),
		chromedp.Click(chromedp.ID("approve-passkey")),
		chromedp.WaitVisible(chromedp.ID("signed")),
	)
	if txt := eval[string](t, ctx, `document.getElementById("signed").innerText`); !strings.Contains(txt, "passkey") {
		t.Fatalf("the request page says %q", txt)
	}
	got, err := agent.GetOTPStatus(bg, req.ID)
	if err != nil || got.Status != client.StatusApproved || got.Approval == nil || got.Approval.Method != approval.MethodWebAuthn {
		t.Fatalf("after the passkey approval: %+v %v", got, err)
	}

	// The owner's pinned keys verify the statement, at the agent and at a
	// strict edge, which then seals the code.
	trust, err := r.Service.Trust(bg, r.Owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	if trust.RPID != "localhost" || len(trust.Keys) != 1 || trust.Keys[0].Method != approval.MethodWebAuthn {
		t.Fatalf("trust %+v", trust)
	}
	if err := client.VerifyApproval(trust, got, pub); err != nil {
		t.Fatalf("the agent cannot verify the passkey approval: %v", err)
	}
	src, err := r.Service.CreateSource(bg, r.Owner.ID, "inbox", agentotp.SourceKindEmail)
	if err != nil {
		t.Fatal(err)
	}
	edge := capture.New(capture.Config{Server: r.URL, Token: src.Token, Trust: trust, Strict: true})
	res, err := edge.Capture(bg, capture.Message{Source: agentotp.ChannelEmail, Sender: "Acme <login@acme.example>",
		Subject: "Your Acme code", Text: "Your Acme verification code is 604318."})
	if err != nil || !res.Matched || res.RequestID != req.ID {
		t.Fatalf("the strict edge did not deliver: %+v %v", res, err)
	}
	wctx, cancel := context.WithTimeout(bg, 20*time.Second)
	defer cancel()
	if _, err := agent.WaitForOTP(wctx, req.ID, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	out, err := agent.ConsumeOTP(bg, req.ID, priv)
	if err != nil || out.Code != "604318" {
		t.Fatalf("consume: %+v %v", out, err)
	}

	entries, err := r.Service.ListAudit(bg, agentotp.AuditQuery{OwnerID: r.Owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	var added, approved, loggedIn bool
	for _, e := range entries {
		switch {
		case e.Action == agentotp.AuditSigningKeyAdded && e.Details["method"] == approval.MethodWebAuthn:
			added = true
		case e.Action == agentotp.AuditRequestApproved && e.Details["signed"] == approval.MethodWebAuthn && e.Details["statement_hash"] != "":
			approved = true
		case e.Action == agentotp.AuditOwnerLoggedIn && e.Details["method"] == agentotp.LoginPasskey:
			loggedIn = true
		}
	}
	if !added || !approved || !loggedIn {
		t.Fatalf("audit: passkey added %v, signed approval %v, passkey log-in %v", added, approved, loggedIn)
	}
}

// waitFor polls js in the page until it is true; on a timeout it fails
// with what why evaluates to and the relay's log.
func waitFor(t *testing.T, ctx context.Context, js, why string, logs *relaytest.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	msg, _ := chromedp.Run(ctx, chromedp.Evaluate[any](why))
	t.Fatalf("waiting for %s: page says %v\nrelay log:\n%s", js, msg, logs.String())
}
