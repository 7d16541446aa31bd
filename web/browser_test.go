package web_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
)

// chromium returns the path of Debian's Chromium. Without it the browser
// tests skip, except in CI, where .ci/run installs it and its absence is a
// failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run must install it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the browser test")
	return ""
}

// browserCtx starts a headless Chromium with a fresh profile. The flags
// keep it from reaching for the network (updates, sync, QUIC), which
// would hang it on a closed network.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser with the long-lived context (see chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// step runs browser actions with a deadline.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// screenshots saves PNGs under the test's artifact directory (a temp dir,
// kept with go test -artifacts), and also under
// $AGENTOTP_SCREENSHOT_DIR when set (how docs/ is refreshed).
type screenshots struct {
	t    *testing.T
	dirs []string
}

func newScreenshots(t *testing.T) *screenshots {
	s := &screenshots{t: t, dirs: []string{t.ArtifactDir()}}
	if d := os.Getenv("AGENTOTP_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		s.dirs = append(s.dirs, d)
	}
	return s
}

func (s *screenshots) take(ctx context.Context, name string) {
	s.t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, d := range s.dirs {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	s.t.Logf("screenshot %s.png (%d bytes) in %s", name, len(png), strings.Join(s.dirs, ", "))
}

// waitResult is what an agent's waiting call returned.
type waitResult struct {
	req *client.OTPRequest
	err error
}

// TestBrowser drives the dashboard in a real Chromium against a real
// relay on loopback: log in, see a request appear without a reload,
// approve it while the agent waits, deny another with a reason, and
// visit every page for screenshots.
func TestBrowser(t *testing.T) {
	ctx := browserCtx(t)
	h := newHarness(t)
	shots := newScreenshots(t)
	axe := loadAxe(t)
	bg := ctxT(t)

	// A realistic owner: two agents, two sources, a policy.
	agent, _ := h.agent("signup-bot")
	research, err := h.svc.CreateAgent(bg, h.ownerID, "research-assistant", false)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := h.svc.CreateAgent(bg, h.ownerID, "ci-pipeline", true)
	if err != nil {
		t.Fatal(err)
	}
	var mailToken string
	for _, s := range []struct{ name, kind string }{{"Pixel SMS gateway", "sms"}, {"Fastmail forwarder", "email"}} {
		ns, err := h.svc.CreateSource(bg, h.ownerID, s.name, s.kind)
		if err != nil {
			t.Fatal(err)
		}
		mailToken = ns.Token
	}
	// Its window is 01:00-05:00 UTC, unless the test runs then: the
	// policy must not decide this test's requests.
	night := "01:00-05:00"
	if time.Now().UTC().Hour() < 6 {
		night = "13:00-17:00"
	}
	if _, err := h.svc.CreatePolicy(bg, h.ownerID, agentotp.Policy{Name: "Night: ask nobody, deny", Action: agentotp.PolicyDeny, Enabled: true,
		Conditions: agentotp.PolicyConditions{Hours: night}}); err != nil {
		t.Fatal(err)
	}
	n := 5
	if _, err := h.svc.CreatePolicy(bg, h.ownerID, agentotp.Policy{Name: "Acme sign-ups", Action: agentotp.PolicyAutoApprove, Enabled: false, MaxPerHour: &n,
		Conditions: agentotp.PolicyConditions{SenderPattern: "*@acme.example", Sources: []agentotp.Channel{"email"}}}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var jsErrors []string
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			mu.Lock()
			jsErrors = append(jsErrors, ev.ExceptionDetails.Text)
			mu.Unlock()
		}
	}()

	// 1. Log in: the dashboard sends an anonymous visitor to the log-in page.
	step(t, ctx, "open the dashboard", chromedp.Navigate(h.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	loc := eval[string](t, ctx, `location.pathname + location.search`)
	if loc != "/login?next=%2F" {
		t.Fatalf("anonymous visit landed on %q", loc)
	}
	shots.take(ctx, "login")
	checkA11y(t, ctx, axe, "login")
	step(t, ctx, "log in",
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("pending-lists")),
	)

	// 2. A request appears without a reload: the page keeps a marker.
	step(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__sameDocument = 42`))
	waitConnected(t, ctx)
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	req, err := agent.RequestOTP(bg, client.RequestOptions{
		Reason: "Create the team account at Acme Cloud (signup form step 3 of 4)", ExpectedSender: "Acme Cloud <noreply@acme.example>",
		PublicKey: client.ExportPublicKey(pub), TTL: 10 * time.Minute,
		Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	approved := make(chan waitResult, 1)
	go func() {
		r, err := agent.WaitOTPStatus(bg, req.ID, 55*time.Second) // the agent waits (one long-poll)
		approved <- waitResult{r, err}
	}()
	step(t, ctx, "see the request appear", chromedp.WaitVisible(chromedp.CSS(`#req-`+req.ID)))
	if same := eval[int](t, ctx, `window.__sameDocument || 0`); same != 42 {
		t.Fatal("the page reloaded to show the request; it must appear live")
	}
	// A second, older-style request to make the list realistic.
	other, _ := h.agent("travel-agent")
	_, otherKey := h.requestKey(other, "Log in to the airline to download the boarding pass")
	step(t, ctx, "see the second request", chromedp.WaitVisible(chromedp.CSS(`li.card.pending:nth-child(2)`)))
	if same := eval[int](t, ctx, `window.__sameDocument || 0`); same != 42 {
		t.Fatal("the page reloaded")
	}
	first := eval[string](t, ctx, `document.querySelector('li.card.pending').id`)
	if first == "req-"+req.ID {
		t.Error("pending list is not newest first")
	}
	countdown := eval[string](t, ctx, `document.querySelector('#req-`+req.ID+` time.countdown').textContent`)
	if !strings.HasSuffix(countdown, " left") {
		t.Errorf("countdown reads %q", countdown)
	}
	shots.take(ctx, "pending")
	checkA11y(t, ctx, axe, "pending")
	step(t, ctx, "phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	shots.take(ctx, "pending-phone")
	checkA11y(t, ctx, axe, "pending-phone")
	step(t, ctx, "desk size", chromedp.EmulateViewport(1280, 900))

	// 3. Open it and approve; the agent's waiting call returns approved.
	step(t, ctx, "open the request",
		chromedp.Click(chromedp.CSS(`#req-`+req.ID+` a`)),
		chromedp.WaitVisible(chromedp.ID("approve")),
	)
	body := eval[string](t, ctx, `document.body.innerText`)
	for _, want := range []string{"signup-bot", "Create the team account at Acme Cloud", "Acme Cloud <noreply@acme.example>",
		"email, from *@acme.example", "Fastmail forwarder (email)", req.PublicKeyFingerprint, "HPKE-X25519-SHA256-CHACHA20POLY1305", "No — only the code."} {
		if !strings.Contains(body, want) {
			t.Errorf("request page lacks %q", want)
		}
	}
	shots.take(ctx, "request")
	checkA11y(t, ctx, axe, "request")
	step(t, ctx, "phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	shots.take(ctx, "request-phone")
	checkA11y(t, ctx, axe, "request-phone")
	step(t, ctx, "desk size", chromedp.EmulateViewport(1280, 900))
	step(t, ctx, "approve",
		chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	select {
	case res := <-approved:
		if res.err != nil || res.req.Status != client.StatusApproved {
			t.Fatalf("the agent's wait returned %+v, %v; want approved", res.req, res.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the agent's waiting call did not return after the approval")
	}
	if got := h.stored(req.ID); got.DecidedBy != agentotp.DecidedByOwner {
		t.Errorf("decided_by %q", got.DecidedBy)
	}
	shots.take(ctx, "approved")
	checkA11y(t, ctx, axe, "approved")

	// The mail arrives; the agent gets and reads the code, and the open
	// page follows by itself.
	mail := client.NewSourceClient(mailToken, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	if _, err := mail.Send(bg, client.Message{Source: "email", Sender: "Acme Cloud <noreply@acme.example>",
		Subject: "Your Acme Cloud verification code", Text: "Your verification code is 482913. It expires in 10 minutes."}); err != nil {
		t.Fatal(err)
	}
	got, err := agent.WaitForOTP(bg, req.ID, 30*time.Second)
	if err != nil || got.Status != client.StatusOTPReceived {
		t.Fatalf("after the mail: %+v %v", got, err)
	}
	res, err := agent.ConsumeOTP(bg, req.ID, priv)
	if err != nil || res.Code != "482913" {
		t.Fatalf("consume: %+v %v", res, err)
	}
	step(t, ctx, "the page follows", chromedp.WaitVisible(chromedp.CSS(`.request[data-status="consumed"]`)))
	checkA11y(t, ctx, axe, "consumed")

	// 4. Deny the second request with a reason.
	page, err := h.owner.ListRequests(bg, client.ListQuery{Status: client.StatusPendingApproval})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("pending: %+v %v", page, err)
	}
	denyID := page.Data[0].ID
	denied := make(chan waitResult, 1)
	go func() {
		r, err := other.WaitOTPStatus(bg, denyID, 55*time.Second)
		denied <- waitResult{r, err}
	}()
	step(t, ctx, "open the second request",
		chromedp.Navigate(h.srv.URL+"/r/"+denyID),
		chromedp.WaitVisible(chromedp.ID("deny-reason")),
		chromedp.SendKeys(chromedp.ID("deny-reason"), "Not this trip: I already have the boarding pass"),
		chromedp.Click(chromedp.ID("deny")),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	select {
	case res := <-denied:
		if res.err != nil || res.req.Status != client.StatusDenied || res.req.DenyReason == nil || *res.req.DenyReason != "Not this trip: I already have the boarding pass" {
			t.Fatalf("the agent's wait returned %+v, %v; want denied with the reason", res.req, res.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the agent's waiting call did not return after the denial")
	}
	_, err = other.ConsumeOTP(bg, denyID, otherKey)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != agentotp.EOTPApprovalDenied || ce.DenyReason != "Not this trip: I already have the boarding pass" {
		t.Fatalf("the agent's consume: %v; want OTP_APPROVAL_DENIED with the reason", err)
	}
	shots.take(ctx, "denied")
	checkA11y(t, ctx, axe, "denied")

	// 5. The other pages. First a request that a test key approves, and
	// one that a policy approves, so that History shows every decider.
	ciClient := client.New(ci.APIKey, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	h.request(ciClient, "Run the nightly end-to-end sign-up check")
	if _, err := h.svc.CreatePolicy(bg, h.ownerID, agentotp.Policy{Name: "Research assistant: approve", Action: agentotp.PolicyAutoApprove, Enabled: true,
		Conditions: agentotp.PolicyConditions{AgentID: research.Agent.ID}}); err != nil {
		t.Fatal(err)
	}
	researchClient := client.New(research.APIKey, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	if r := h.request(researchClient, "Read the paper behind the journal's log-in"); r.Status != client.StatusApproved {
		t.Fatalf("the policy left the request %s", r.Status)
	}
	step(t, ctx, "history", chromedp.Navigate(h.srv.URL+"/history"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	deciders := eval[[]string](t, ctx, `[...document.querySelectorAll('td[data-label="Decided by"]')].map(td => td.innerText.trim())`)
	for _, want := range []string{"you", "the test key (approved at once)", "policy “Research assistant: approve”"} {
		if !slices.Contains(deciders, want) {
			t.Errorf("History's Decided by column %q lacks %q", deciders, want)
		}
	}
	for _, d := range deciders {
		if strings.Contains(d, agentotp.DecidedByTestKey) || strings.HasPrefix(d, "policy:") || d == agentotp.DecidedByOwner {
			t.Errorf("History shows the raw decided_by value %q", d)
		}
	}
	shots.take(ctx, "history")
	checkWordsWhole(t, ctx, "history")
	checkA11y(t, ctx, axe, "history")
	step(t, ctx, "create an agent",
		chromedp.Navigate(h.srv.URL+"/agents"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/agents"] input[name=name]`), "mail-sorter"),
		chromedp.Click(chromedp.CSS(`form[action="/agents"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`div.secret input`)),
	)
	key := eval[string](t, ctx, `document.querySelector('div.secret input').value`)
	if !strings.HasPrefix(key, "ak_live_") {
		t.Fatalf("new key %q", key)
	}
	// The page names the variables of the integration guide, which the
	// SDKs read.
	keyPage := eval[string](t, ctx, `document.body.innerText`)
	for _, want := range []string{"AGENT_OTP_API_KEY", "AGENT_OTP_BASE_URL=" + h.srv.URL, "AGENT_OTP_WEBHOOK_SECRET"} {
		if !strings.Contains(keyPage, want) {
			t.Errorf("the new agent's page lacks %q", want)
		}
	}
	if strings.Contains(keyPage, "AGENTOTP_API_KEY") {
		t.Error("the new agent's page names AGENTOTP_API_KEY, which the SDKs do not read")
	}
	shots.take(ctx, "agent-key")
	checkA11y(t, ctx, axe, "agent-key")
	step(t, ctx, "agents", chromedp.Navigate(h.srv.URL+"/agents"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	if strings.Contains(eval[string](t, ctx, `document.body.innerHTML`), key) {
		t.Error("the key is shown a second time")
	}
	shots.take(ctx, "agents")
	checkA11y(t, ctx, axe, "agents")
	checkWordsWhole(t, ctx, "agents")
	step(t, ctx, "sources", chromedp.Navigate(h.srv.URL+"/sources"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	shots.take(ctx, "sources")
	checkA11y(t, ctx, axe, "sources")
	checkWordsWhole(t, ctx, "sources")
	step(t, ctx, "policies", chromedp.Navigate(h.srv.URL+"/policies"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	shots.take(ctx, "policies")
	checkA11y(t, ctx, axe, "policies")
	checkWordsWhole(t, ctx, "policies")
	step(t, ctx, "a policy", chromedp.Click(chromedp.CSS(`table.list td[data-label=Name] a`)), chromedp.WaitVisible(chromedp.CSS(`form.policy-form`)))
	checkA11y(t, ctx, axe, "policy")
	step(t, ctx, "a new policy", chromedp.Navigate(h.srv.URL+"/policies/new"), chromedp.WaitVisible(chromedp.CSS(`form.policy-form`)))
	checkA11y(t, ctx, axe, "policy-new")
	step(t, ctx, "a page that is not there", chromedp.Navigate(h.srv.URL+"/no-such-page"), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	checkA11y(t, ctx, axe, "not-found")
	step(t, ctx, "audit", chromedp.Navigate(h.srv.URL+"/audit"), chromedp.WaitVisible(chromedp.ID("chain")))
	if chain := eval[string](t, ctx, `document.getElementById('chain').textContent`); !strings.Contains(chain, "Chain verified") {
		t.Errorf("audit chain: %q", chain)
	}
	shots.take(ctx, "audit")
	checkA11y(t, ctx, axe, "audit")
	checkWordsWhole(t, ctx, "audit")

	// 6. Log out.
	step(t, ctx, "log out",
		chromedp.Click(chromedp.CSS(`form.logout button`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
	)
	step(t, ctx, "after log-out", chromedp.Navigate(h.srv.URL+"/r/"+req.ID), chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	if body := eval[string](t, ctx, `document.body.innerText`); strings.Contains(body, "Acme Cloud") {
		t.Error("the request shows after log-out")
	}
	link, err := h.owner.CreateLoginLink(bg)
	if err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "a log-in link", chromedp.Navigate(link.URL), chromedp.WaitVisible(chromedp.CSS(`form[action="/login/link"] button`)))
	checkA11y(t, ctx, axe, "login-link")

	mu.Lock()
	defer mu.Unlock()
	if len(jsErrors) > 0 {
		t.Errorf("JavaScript errors: %v", jsErrors)
	}
}

// waitConnected waits until app.js has opened the live feed, which also
// shows that the Content-Security-Policy let the script run.
func waitConnected(t *testing.T, ctx context.Context) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if eval[bool](t, ctx, `document.documentElement.getAttribute('data-live-connected') === '1'`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("app.js did not open the live feed")
}
