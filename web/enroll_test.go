package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
)

// enroll starts an enrollment as an agent would, over HTTP.
func (h *harness) enroll(name, description string) (*client.Client, *client.Enrollment) {
	h.t.Helper()
	c := client.New("", client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	e, err := c.Enroll(ctxT(h.t), client.EnrollOptions{Name: name, Description: description})
	if err != nil {
		h.t.Fatal(err)
	}
	return c, e
}

// enrollment returns the owner's only enrollment.
func (h *harness) enrollment() *agentotp.Enrollment {
	h.t.Helper()
	es, err := h.store.ListEnrollments(context.Background(), agentotp.EnrollmentQuery{OwnerID: h.ownerID})
	if err != nil || len(es) == 0 {
		h.t.Fatalf("enrollments: %v, %v", es, err)
	}
	return es[0]
}

func TestEnrollPage(t *testing.T) {
	h := newHarness(t)
	_, e := h.enroll(`<script>alert(1)</script>`, `Claude Desktop on "laptop" & more`)
	link := strings.TrimPrefix(e.VerificationURIComplete, h.srv.URL)

	b := h.browser()
	if r := b.get(link); r.status != http.StatusSeeOther || r.location() != "/login?next="+url.QueryEscape(link) {
		t.Fatalf("anonymous visit: %d to %q", r.status, r.location())
	}
	b.mustLogin()
	r := b.get(link)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d", link, r.status)
	}
	for _, want := range []string{e.UserCode, "&lt;script&gt;alert(1)&lt;/script&gt;", "Claude Desktop on &#34;laptop&#34; &amp; more",
		"127.0.0.1", "agentotp-go", `id="code-match"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "<script>alert(1)") {
		t.Error("the agent's name is not escaped")
	}
	en := h.enrollment()
	if r := b.get("/enroll?code=BCDF-GHJK"); r.status != http.StatusNotFound || !strings.Contains(r.body, "No waiting enrollment has the code") {
		t.Errorf("a wrong code: %d", r.status)
	}
	if r := b.get("/enroll?code=%3Cb%3E"); r.status != http.StatusNotFound || strings.Contains(r.body, "<b>") {
		t.Errorf("a malformed code: %d, or shown unescaped", r.status)
	}

	// Without the CSRF token, or with another session's, nothing changes.
	approve := "/enroll/" + en.ID + "/approve"
	if r := b.post(approve, url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("approve without CSRF: %d", r.status)
	}
	other := h.browser()
	other.mustLogin()
	if r := b.post(approve, url.Values{"csrf": {other.csrf("/enroll")}}); r.status != http.StatusForbidden {
		t.Errorf("approve with another session's CSRF: %d", r.status)
	}
	if got := h.enrollment(); got.Status != agentotp.EnrollmentPending || got.Version != en.Version {
		t.Fatalf("refused posts changed the enrollment: %s v%d", got.Status, got.Version)
	}
	anon := h.browser()
	if r := anon.post(approve, url.Values{}); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") {
		t.Errorf("anonymous approve: %d to %q", r.status, r.location())
	}
	if r := b.post("/enroll/enr_nope/approve", url.Values{"csrf": {b.csrf("/enroll")}}); r.status != http.StatusNotFound {
		t.Errorf("approve of an unknown enrollment: %d", r.status)
	}

	r = b.post(approve, url.Values{"csrf": {b.csrf("/enroll")}})
	if r.status != http.StatusSeeOther || r.location() != "/enroll?done=approved" {
		t.Fatalf("approve: %d to %q", r.status, r.location())
	}
	if got := h.enrollment(); got.Status != agentotp.EnrollmentApproved || got.DecidedBy != agentotp.DecidedByOwner {
		t.Errorf("after approve: %+v", got)
	}
	es, _ := h.svc.ListAudit(ctxT(t), agentotp.AuditQuery{OwnerID: h.ownerID, Action: agentotp.AuditEnrollmentApproved})
	if len(es) != 1 || es[0].Details["via"] != "dashboard" || es[0].Details["session"] == "" {
		t.Errorf("audit of the approval: %+v", es)
	}
	if r := b.post("/enroll/"+en.ID+"/deny", url.Values{"csrf": {b.csrf("/enroll")}}); r.status != http.StatusConflict {
		t.Errorf("deny after approve: %d", r.status)
	}
	if r := b.get("/enroll?done=approved"); !strings.Contains(r.body, "Approved. The agent receives its key") || !strings.Contains(r.body, "not collected its key yet") {
		t.Error("the page after approving does not say so")
	}
}

// TestBrowserEnroll: the agent enrolls; the owner opens the link it
// printed in Chromium, logs in, sees the same code, and approves by
// clicking; the agent's waiting poll receives its key.
func TestBrowserEnroll(t *testing.T) {
	ctx := browserCtx(t)
	h := newHarness(t)
	shots := newScreenshots(t)
	c, e := h.enroll("laptop-claude", "Claude Desktop on the work laptop (MCP)")
	h.enroll("build-runner", "nightly CI job") // a second one, to pick the right card
	type issued struct {
		n   *client.NewAgent
		err error
	}
	got := make(chan issued, 1)
	go func() {
		n, err := c.WaitEnrollment(ctxT(t), e)
		got <- issued{n, err}
	}()

	step(t, ctx, "open the agent's link", chromedp.Navigate(e.VerificationURIComplete), chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	step(t, ctx, "log in",
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code-match")),
	)
	if loc := eval[string](t, ctx, `location.pathname + location.search`); loc != "/enroll?code="+e.UserCode {
		t.Errorf("after log-in the browser is at %q", loc)
	}
	var id string
	for _, p := range eval[[]string](t, ctx, `Array.from(document.querySelectorAll('li.enrollment')).map(li => li.dataset.enrollment + ' ' + li.querySelector('.user-code').textContent)`) {
		if eid, code, _ := strings.Cut(p, " "); code == e.UserCode {
			id = eid
		}
	}
	if id == "" {
		t.Fatalf("no card shows the code %s", e.UserCode)
	}
	card := eval[string](t, ctx, `document.getElementById('enr-`+id+`').innerText`)
	for _, want := range []string{"laptop-claude", "Claude Desktop on the work laptop (MCP)", e.UserCode, "127.0.0.1", "agentotp-go", "matches " + e.UserCode} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %q: %s", want, card)
		}
	}
	shots.take(ctx, "enroll")
	step(t, ctx, "approve", chromedp.Click(chromedp.ID("approve-"+id)), chromedp.WaitVisible(chromedp.CSS(`p.flash:not(#code-match)`)))
	select {
	case r := <-got:
		if r.err != nil || !strings.HasPrefix(r.n.APIKey, "ak_live_") || r.n.Agent.Name != "laptop-claude" {
			t.Fatalf("the agent's wait: %+v, %v", r.n, r.err)
		}
		agent := client.New(r.n.APIKey, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
		h.request(agent, "first request with the enrolled key")
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not receive its key after the click")
	}
	// The other enrollment still waits; the page says what happened.
	step(t, ctx, "reload", chromedp.Navigate(h.srv.URL+"/enroll"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	body := eval[string](t, ctx, `document.body.innerText`)
	if !strings.Contains(body, "build-runner") || !strings.Contains(body, "Key issued") {
		t.Errorf("the enrollment page after the approval: %s", body)
	}
}
