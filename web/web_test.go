package web_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/web"
)

func TestLoginLogout(t *testing.T) {
	h := newHarness(t)
	b := h.browser()

	r := b.get("/")
	if r.status != http.StatusSeeOther || r.location() != "/login?next=%2F" {
		t.Fatalf("GET / without a session: %d to %q", r.status, r.location())
	}
	r = b.login("wrong password!", nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong password.") || b.sessionCookie() != "" {
		t.Fatalf("wrong password: %d, cookie %q: %s", r.status, b.sessionCookie(), r.body)
	}

	r = b.login(testPassword, nil)
	if r.status != http.StatusSeeOther || r.location() != "/" {
		t.Fatalf("log-in: %d to %q", r.status, r.location())
	}
	var sc *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "agentotp_session" {
			sc = c
		}
	}
	if sc == nil {
		t.Fatalf("no session cookie set: %v", r.header["Set-Cookie"])
	}
	// Plain-http public URL (a relay on loopback): HttpOnly, Lax, not Secure.
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure || sc.Path != "/" || sc.MaxAge <= 0 {
		t.Errorf("session cookie: %+v", sc)
	}
	if !strings.HasPrefix(sc.Value, "ds_") {
		t.Errorf("session token %q", sc.Value)
	}
	r = b.get("/")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Pending requests") {
		t.Fatalf("GET / logged in: %d", r.status)
	}
	for _, hdr := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options"} {
		if r.header.Get(hdr) == "" {
			t.Errorf("missing %s", hdr)
		}
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}

	old := b.sessionCookie()
	r = b.post("/logout", url.Values{"csrf": {b.csrf("/")}})
	if r.status != http.StatusSeeOther || r.location() != "/login?out=1" {
		t.Fatalf("log-out: %d to %q", r.status, r.location())
	}
	if r := b.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("GET / after log-out: %d", r.status)
	}
	// The old token is dead on the server, not only forgotten by the browser.
	b2 := h.browser()
	u, _ := url.Parse(h.srv.URL)
	b2.jar.SetCookies(u, []*http.Cookie{{Name: "agentotp_session", Value: old}})
	if r := b2.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("GET / with a logged-out token: %d", r.status)
	}

	es, err := h.svc.ListAudit(ctxT(t), agentotp.AuditQuery{OwnerID: h.ownerID})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range es {
		acts = append(acts, e.Action)
	}
	for _, want := range []string{agentotp.AuditOwnerPasswordSet, agentotp.AuditOwnerLoggedIn, agentotp.AuditOwnerLoggedOut} {
		if !slices.Contains(acts, want) {
			t.Errorf("audit lacks %s: %v", want, acts)
		}
	}
	if strings.Contains(h.logs.String(), testPassword) || strings.Contains(h.logs.String(), old) {
		t.Error("the password or a session token reached the logs")
	}
}

func TestSecureCookieOverHTTPS(t *testing.T) {
	h := newHarness(t)
	// The same relay, with the dashboard told that its public URL is https
	// (a TLS-terminating proxy in front).
	dash, err := web.New(h.svc, web.Config{PublicURL: "https://relay.example"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dash)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over https")
	}
	var login *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-agentotp_login" {
			login = c
		}
	}
	if login == nil || !login.Secure || !login.HttpOnly || login.SameSite != http.SameSiteStrictMode {
		t.Fatalf("log-in form cookie: %+v (all: %v)", login, resp.Header["Set-Cookie"])
	}
	body, _ := getBody(t, srv.URL+"/login", login)
	form := url.Values{"csrf": {csrfRE.FindStringSubmatch(body)[1]}, "password": {testPassword}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(login)
	resp, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-agentotp_session" {
			sc = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || sc == nil || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" {
		t.Fatalf("log-in over https: %d, session cookie %+v", resp.StatusCode, sc)
	}
}

func getBody(t *testing.T, u string, cookies ...*http.Cookie) (string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		sb.WriteString(sc.Text() + "\n")
	}
	return sb.String(), resp.Header
}

// TestApprovalURLGoesToLoginAndBack follows approval_url without a
// session: log-in, then back to the request, which stays pending.
func TestApprovalURLGoesToLoginAndBack(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("signup-bot")
	req := h.request(agent, "Sign up for Acme with the team address")
	if req.ApprovalURL != h.srv.URL+"/r/"+req.ID {
		t.Fatalf("approval_url %q", req.ApprovalURL)
	}
	version := h.stored(req.ID).Version

	b := h.browser()
	r := b.get("/r/" + req.ID)
	if r.status != http.StatusSeeOther || r.location() != "/login?next="+url.QueryEscape("/r/"+req.ID) {
		t.Fatalf("GET approval_url without a session: %d to %q", r.status, r.location())
	}
	if strings.Contains(r.body, "Sign up for Acme") {
		t.Fatal("the request was shown to a visitor without a session")
	}
	login := b.get(r.location())
	if login.status != http.StatusOK || !strings.Contains(login.body, `name="next" value="/r/`+req.ID+`"`) {
		t.Fatalf("log-in page does not carry next: %d", login.status)
	}
	h.unchanged(req.ID, version, "after visiting approval_url without a session")

	r = b.login(testPassword, url.Values{"next": {"/r/" + req.ID}})
	if r.status != http.StatusSeeOther || r.location() != "/r/"+req.ID {
		t.Fatalf("log-in did not go back: %d to %q", r.status, r.location())
	}
	page := html.UnescapeString(b.get("/r/" + req.ID).body)
	for _, want := range []string{"Sign up for Acme", "signup-bot", "Acme", "email, from *@acme.example", req.PublicKeyFingerprint, "HPKE-X25519", "Approve", "Deny"} {
		if !strings.Contains(page, want) {
			t.Errorf("request page lacks %q", want)
		}
	}
	h.unchanged(req.ID, version, "after log-in and back")

	// next never leaves the site.
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/login?next=/"} {
		b2 := h.browser()
		r := b2.login(testPassword, url.Values{"next": {next}})
		if r.status != http.StatusSeeOther || r.location() != "/" {
			t.Errorf("next=%q: %d to %q", next, r.status, r.location())
		}
	}
}

// TestCSRF posts every state-changing form without, with a stale and
// with a foreign CSRF token: each is refused and nothing changes.
func TestCSRF(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("bot")
	req := h.request(agent, "CSRF target")
	version := h.stored(req.ID).Version

	b := h.browser()
	b.mustLogin()
	stale := b.csrf("/")
	// A new session: the old page's token is stale now.
	b.post("/logout", url.Values{"csrf": {stale}})
	b.mustLogin()
	fresh := b.csrf("/")
	if fresh == stale {
		t.Fatal("the CSRF token did not change with the session")
	}
	other := h.browser()
	other.mustLogin()
	foreign := other.csrf("/")

	agentsBefore, _ := h.svc.ListAgents(ctxT(t), h.ownerID)
	forms := []struct {
		path string
		form url.Values
	}{
		{"/r/" + req.ID + "/approve", url.Values{}},
		{"/r/" + req.ID + "/deny", url.Values{"reason": {"no"}}},
		{"/agents", url.Values{"name": {"sneaky"}}},
		{"/sources", url.Values{"name": {"sneaky"}, "kind": {"sms"}}},
		{"/logout", url.Values{}},
	}
	tokens := []struct {
		name  string
		token []string
	}{
		{"missing", nil},
		{"empty", []string{""}},
		{"stale", []string{stale}},
		{"another session's", []string{foreign}},
		{"garbage", []string{"x" + fresh[1:]}},
	}
	for _, f := range forms {
		for _, tok := range tokens {
			form := url.Values{}
			for k, v := range f.form {
				form[k] = v
			}
			if tok.token != nil {
				form["csrf"] = tok.token
			}
			r := b.post(f.path, form)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "security token") {
				t.Errorf("POST %s with a %s token: %d; want 403", f.path, tok.name, r.status)
			}
		}
	}
	h.unchanged(req.ID, version, "after refused forms")
	if agentsAfter, _ := h.svc.ListAgents(ctxT(t), h.ownerID); len(agentsAfter) != len(agentsBefore) {
		t.Errorf("an agent was created by a refused form")
	}
	if r := b.get("/"); r.status != http.StatusOK {
		t.Errorf("the session ended through a refused log-out: %d", r.status)
	}
	// The log-in form has its own token too.
	r := b.post("/login", url.Values{"password": {testPassword}})
	if r.status != http.StatusForbidden {
		t.Errorf("log-in without a token: %d", r.status)
	}

	// With the right token it works, and the decision names the dashboard.
	r = b.post("/r/"+req.ID+"/approve", url.Values{"csrf": {fresh}})
	if r.status != http.StatusSeeOther || r.location() != "/r/"+req.ID+"?done=approved" {
		t.Fatalf("approve: %d to %q: %s", r.status, r.location(), r.body)
	}
	got := h.stored(req.ID)
	if got.Status != agentotp.StatusApproved || got.DecidedBy != agentotp.DecidedByOwner {
		t.Fatalf("after approve: %s by %q", got.Status, got.DecidedBy)
	}
}

// TestEveryFormHasCSRF renders every page and checks that each POST form
// carries the CSRF token.
func TestEveryFormHasCSRF(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("bot")
	req := h.request(agent, "forms")
	if _, err := h.svc.CreateSource(ctxT(t), h.ownerID, "phone", "sms"); err != nil {
		t.Fatal(err)
	}
	pol, err := h.svc.CreatePolicy(ctxT(t), h.ownerID, agentotp.Policy{Name: "ask all", Action: agentotp.PolicyAsk, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	b.mustLogin()
	formRE := regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*>(.*?)</form>`)
	for _, path := range []string{"/", "/r/" + req.ID, "/history", "/agents", "/sources", "/policies", "/policies/new", "/policies/" + pol.ID, "/audit"} {
		r := b.get(path)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.status)
			continue
		}
		forms := formRE.FindAllStringSubmatch(r.body, -1)
		if len(forms) == 0 {
			t.Errorf("GET %s: no POST form (the log-out form at least)", path)
		}
		for _, f := range forms {
			if !csrfRE.MatchString(f[1]) {
				t.Errorf("GET %s: a form without a CSRF token: %.200s", path, f[0])
			}
		}
	}
}

// TestOtherOwner logs in as a second owner, made through the store: it
// sees none of the first owner's requests and cannot decide them.
func TestOtherOwner(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("bot")
	req := h.request(agent, "Only for the first owner")
	version := h.stored(req.ID).Version

	ctx := ctxT(t)
	other := &agentotp.Owner{ID: agentotp.NewID("own_"), Name: "mallory", CreatedAt: time.Now().UTC()}
	if err := h.store.CreateOwner(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.SetOwnerPassword(ctx, other.ID, "mallory's own password"); err != nil {
		t.Fatal(err)
	}

	b := h.browser()
	loginPage := b.get("/login")
	if !strings.Contains(loginPage.body, `name="owner"`) {
		t.Fatal("with two owners the log-in form must ask which")
	}
	// The right password for the wrong owner does not log in.
	if r := b.login(testPassword, url.Values{"owner": {other.ID}}); r.status != http.StatusUnauthorized {
		t.Fatalf("first owner's password for the second owner: %d", r.status)
	}
	if r := b.login("mallory's own password", url.Values{"owner": {other.ID}}); r.status != http.StatusSeeOther {
		t.Fatalf("second owner's log-in: %d", r.status)
	}
	csrf := b.csrf("/")

	if r := b.get("/r/" + req.ID); r.status != http.StatusNotFound || strings.Contains(r.body, "Only for the first owner") {
		t.Errorf("another owner's request page: %d", r.status)
	}
	for _, path := range []string{"/", "/history", "/audit", "/audit/export?format=jsonl"} {
		if r := b.get(path); strings.Contains(r.body, req.ID) || strings.Contains(r.body, "Only for the first owner") {
			t.Errorf("GET %s shows the first owner's request", path)
		}
	}
	for _, action := range []string{"approve", "deny"} {
		r := b.post("/r/"+req.ID+"/"+action, url.Values{"csrf": {csrf}, "reason": {"mine now"}})
		if r.status != http.StatusNotFound {
			t.Errorf("%s by another owner: %d", action, r.status)
		}
	}
	h.unchanged(req.ID, version, "after the other owner's attempts")

	// The live feed of the other owner does not carry it either.
	cookie := &http.Cookie{Name: "agentotp_session", Value: b.sessionCookie()}
	events := readEvents(t, h.srv.URL+"/events", cookie, func(ev sseEvent) bool { return ev.name == "pending" })
	if strings.Contains(events[0].data, req.ID) {
		t.Error("the other owner's live feed shows the request")
	}
}

// TestAgentKeyRefused presents an agent's key (and the owner's API token)
// to the dashboard in every place a credential could go.
func TestAgentKeyRefused(t *testing.T) {
	h := newHarness(t)
	agent, key := h.agent("bot")
	req := h.request(agent, "agent key target")
	version := h.stored(req.ID).Version

	for _, cred := range []struct{ name, value string }{{"agent key", key}, {"owner API token", h.ownerToken}} {
		b := h.browser()
		u, _ := url.Parse(h.srv.URL)
		b.jar.SetCookies(u, []*http.Cookie{{Name: "agentotp_session", Value: cred.value}})
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			path := "/r/" + req.ID
			if method == http.MethodPost {
				path += "/approve"
			}
			hr, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader("csrf=x"))
			hr.Header.Set("Authorization", "Bearer "+cred.value)
			hr.Header.Set("X-API-Key", cred.value)
			hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r := b.do(hr)
			if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") || strings.Contains(r.body, "agent key target") {
				t.Errorf("%s %s with the %s: %d to %q", method, path, cred.name, r.status, r.location())
			}
		}
	}
	h.unchanged(req.ID, version, "after credentials that are not sessions")
}

func TestLoginLink(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	l, err := h.owner.CreateLoginLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.URL, h.srv.URL+"/login/link?token=ll_") || time.Until(l.ExpiresAt) > 16*time.Minute {
		t.Fatalf("link %q until %v", l.URL, l.ExpiresAt)
	}
	path := strings.TrimPrefix(l.URL, h.srv.URL)
	token, _ := url.Parse(l.URL)
	b := h.browser()
	// Opening it twice (a chat app's preview, then the owner) uses nothing.
	for range 2 {
		if r := b.get(path); r.status != http.StatusOK || !strings.Contains(r.body, "Log in") {
			t.Fatalf("GET link: %d", r.status)
		}
	}
	csrf := b.csrf(path)
	r := b.post("/login/link", url.Values{"csrf": {csrf}, "token": {token.Query().Get("token")}})
	if r.status != http.StatusSeeOther || b.sessionCookie() == "" {
		t.Fatalf("POST link: %d", r.status)
	}
	if r := b.get("/"); r.status != http.StatusOK {
		t.Fatalf("after link log-in: %d", r.status)
	}
	// Used: a second browser cannot use it again.
	b2 := h.browser()
	if r := b2.get(path); r.status != http.StatusNotFound {
		t.Errorf("GET used link: %d", r.status)
	}
	r = b2.post("/login/link", url.Values{"csrf": {b2.csrf("/login")}, "token": {token.Query().Get("token")}})
	if r.status != http.StatusNotFound || b2.sessionCookie() != "" {
		t.Errorf("POST used link: %d", r.status)
	}
	// Expired.
	l2, err := h.owner.CreateLoginLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(16 * time.Minute)
	t2, _ := url.Parse(l2.URL)
	r = b2.post("/login/link", url.Values{"csrf": {b2.csrf("/login")}, "token": {t2.Query().Get("token")}})
	if r.status != http.StatusNotFound || b2.sessionCookie() != "" {
		t.Errorf("POST expired link: %d", r.status)
	}
	if strings.Contains(h.logs.String(), token.Query().Get("token")) {
		t.Error("a log-in link's token reached the logs")
	}
}

// TestDecisionsAudited approves and denies on the dashboard and reads the
// audit log: owner, via the dashboard, in which session, with the reason.
func TestDecisionsAudited(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("bot")
	a := h.request(agent, "to approve")
	d, dKey := h.requestKey(agent, "to deny")
	b := h.browser()
	b.mustLogin()
	csrf := b.csrf("/")
	if r := b.post("/r/"+a.ID+"/approve", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d", r.status)
	}
	if r := b.post("/r/"+d.ID+"/deny", url.Values{"csrf": {csrf}, "reason": {"  wrong account  "}}); r.status != http.StatusSeeOther {
		t.Fatalf("deny: %d", r.status)
	}
	// A second decision is refused, visibly, and changes nothing.
	r := b.post("/r/"+a.ID+"/deny", url.Values{"csrf": {csrf}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "can no longer be decided") {
		t.Errorf("deny after approve: %d", r.status)
	}
	if got := h.stored(a.ID); got.Status != agentotp.StatusApproved {
		t.Errorf("approved request is now %s", got.Status)
	}
	for _, tc := range []struct {
		id, action, reason string
	}{{a.ID, agentotp.AuditRequestApproved, ""}, {d.ID, agentotp.AuditRequestDenied, "wrong account"}} {
		es, err := h.svc.ListAudit(ctxT(t), agentotp.AuditQuery{OwnerID: h.ownerID, RequestID: tc.id, Action: tc.action})
		if err != nil || len(es) != 1 {
			t.Fatalf("%s audit of %s: %v %v", tc.action, tc.id, es, err)
		}
		e := es[0]
		if e.Actor != agentotp.ActorOwner || e.Details["via"] != "dashboard" || !strings.HasPrefix(e.Details["session"], "ses_") ||
			e.Details["deny_reason"] != tc.reason {
			t.Errorf("%s audit entry: actor %q details %v", tc.action, e.Actor, e.Details)
		}
	}
	page := b.get("/audit")
	if !strings.Contains(page.body, "Chain verified") || !strings.Contains(page.body, "via") {
		t.Errorf("audit page: %.300s", page.body)
	}
	// The agent sees the denial with the reason.
	_, err := agent.ConsumeOTP(ctxT(t), d.ID, dKey)
	var ce *client.Error
	if !errors.Is(err, client.ErrApprovalDenied) || !errors.As(err, &ce) || ce.Code != agentotp.EOTPApprovalDenied || ce.DenyReason != "wrong account" {
		t.Errorf("consume of the denied request: %v", err)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("bot")
	req := h.request(agent, "cross-site target")
	version := h.stored(req.ID).Version
	b := h.browser()
	b.mustLogin()
	csrf := b.csrf("/")
	hr, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/r/"+req.ID+"/approve", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.Header.Set("Origin", "https://evil.example")
	hr.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := b.do(hr); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", r.status)
	}
	h.unchanged(req.ID, version, "after a cross-site POST")
}

func TestAgentsAndSources(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.mustLogin()
	csrf := b.csrf("/agents")
	keyRE := regexp.MustCompile(`value="(ak_(live|test)_[0-9A-Za-z]+)"`)

	r := b.post("/agents", url.Values{"csrf": {csrf}, "name": {"ci-bot"}, "test": {"1"}})
	m := keyRE.FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || m == nil || m[2] != "test" || !strings.Contains(r.body, "whsec_") {
		t.Fatalf("create agent: %d", r.status)
	}
	key := m[1]
	list := b.get("/agents")
	if strings.Contains(list.body, key) || !strings.Contains(list.body, "ci-bot") {
		t.Error("the agents page shows the key again, or not the agent")
	}
	as, _ := h.svc.ListAgents(ctxT(t), h.ownerID)
	if len(as) != 1 || !as[0].Test {
		t.Fatalf("agents: %+v", as)
	}
	// The key works, as a test key.
	tc := client.New(key, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	if req := h.request(tc, "ci"); req.Status != client.StatusApproved && req.Status != client.StatusOTPReceived {
		t.Errorf("test key request: %s", req.Status)
	}

	r = b.post("/agents/"+as[0].ID+"/rotate", url.Values{"csrf": {csrf}, "grace": {"0"}})
	m2 := keyRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m2 == nil || m2[1] == key {
		t.Fatalf("rotate: %d", r.status)
	}
	if _, err := tc.GetOTPStatus(ctxT(t), "otp_x"); !errors.Is(err, client.ErrAuthentication) {
		t.Errorf("old key after rotation: %v", err)
	}
	if r := b.post("/agents/"+as[0].ID+"/revoke", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}
	if r := b.get("/agents?done=agent_revoked"); !strings.Contains(r.body, "revoked") {
		t.Error("revoked agent not shown as revoked")
	}
	if r := b.post("/agents", url.Values{"csrf": {csrf}, "name": {""}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "name") {
		t.Errorf("agent without a name: %d", r.status)
	}
	if r := b.post("/agents/agt_nope/revoke", url.Values{"csrf": {csrf}}); r.status != http.StatusNotFound {
		t.Errorf("revoke unknown agent: %d", r.status)
	}

	r = b.post("/sources", url.Values{"csrf": {csrf}, "name": {"phone"}, "kind": {"sms"}})
	tok := regexp.MustCompile(`value="(sk_[0-9A-Za-z]+)"`).FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || tok == nil {
		t.Fatalf("create source: %d", r.status)
	}
	if strings.Contains(b.get("/sources").body, tok[1]) {
		t.Error("the sources page shows the token again")
	}
	if strings.Contains(b.get("/sources").body, "Connector") {
		t.Error("a connector column without a connector status source")
	}
	if r := b.post("/sources", url.Values{"csrf": {csrf}, "name": {"x"}, "kind": {"fax"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("source of an unknown kind: %d", r.status)
	}
	srcs, _ := h.svc.ListSources(ctxT(t), h.ownerID)
	if r := b.post("/sources/"+srcs[0].ID+"/revoke", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Errorf("revoke source: %d", r.status)
	}
}

func TestSourceConnectorColumn(t *testing.T) {
	h := newHarness(t, func(c *web.Config) {
		c.SourceStatus = func(_ context.Context, src *agentotp.Source) (string, bool) {
			return "connected (IDLE)", src.Kind == agentotp.SourceKindEmail
		}
	})
	for _, kind := range []string{"sms", "email"} {
		if _, err := h.svc.CreateSource(ctxT(t), h.ownerID, "src-"+kind, kind); err != nil {
			t.Fatal(err)
		}
	}
	b := h.browser()
	b.mustLogin()
	body := b.get("/sources").body
	if !strings.Contains(body, "<th>Connector</th>") || strings.Count(body, "connected (IDLE)") != 1 {
		t.Errorf("connector column: %s", body)
	}
}

func TestHistoryAndAudit(t *testing.T) {
	h := newHarness(t)
	a1, _ := h.agent("alpha")
	a2, _ := h.agent("beta")
	r1 := h.request(a1, "alpha's request")
	r2 := h.request(a2, "beta's request")
	if _, err := h.owner.Deny(ctxT(t), r2.ID, "no"); err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	b.mustLogin()
	all := b.get("/history").body
	if !strings.Contains(all, r1.ID) || !strings.Contains(all, r2.ID) {
		t.Error("history lacks a request")
	}
	denied := b.get("/history?status=denied").body
	if strings.Contains(denied, r1.ID) || !strings.Contains(denied, r2.ID) {
		t.Error("status filter")
	}
	as, _ := h.svc.ListAgents(ctxT(t), h.ownerID)
	byAgent := b.get("/history?agent=" + as[0].ID).body
	if !strings.Contains(byAgent, r1.ID) || strings.Contains(byAgent, r2.ID) {
		t.Error("agent filter")
	}
	if r := b.get("/history?status=bogus"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown status: %d", r.status)
	}

	audit := b.get("/audit?action=request.denied").body
	if !strings.Contains(audit, r2.ID) || strings.Contains(audit, "alpha&#39;s") || !strings.Contains(audit, "Chain verified") {
		t.Error("audit filter")
	}
	for _, f := range []struct{ format, ctype, head string }{
		{"jsonl", "application/jsonl", `{"seq":`},
		{"csv", "text/csv; charset=utf-8", "seq,id,at,actor,action"},
	} {
		r := b.get("/audit/export?format=" + f.format)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != f.ctype || !strings.HasPrefix(r.body, f.head) {
			t.Errorf("export %s: %d %q %.40q", f.format, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	if r := b.get("/audit/export?format=xml"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("export xml: %d", r.status)
	}
}

// TestAuditChainBroken breaks the chain behind the store's back and
// expects the audit page to say so.
func TestAuditChainBroken(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("bot")
	h.request(agent, "one")
	b := h.browser()
	b.mustLogin()
	if !strings.Contains(b.get("/audit").body, "Chain verified") {
		t.Fatal("intact chain not verified")
	}
	if err := tamperAudit(h); err != nil {
		t.Fatal(err)
	}
	body := b.get("/audit").body
	if !strings.Contains(body, "Chain broken at entry") {
		t.Errorf("tampered chain not reported: %.500s", body)
	}
}

func TestPolicies(t *testing.T) {
	h := newHarness(t)
	h.agent("bot")
	b := h.browser()
	b.mustLogin()
	csrf := b.csrf("/policies")
	post := func(path string, kv ...string) response {
		form := url.Values{"csrf": {csrf}}
		for i := 0; i < len(kv); i += 2 {
			form.Add(kv[i], kv[i+1])
		}
		return b.post(path, form)
	}
	if r := post("/policies", "name", "acme", "action", "auto_approve", "sender_pattern", "*@acme.com", "max_per_hour", "5", "enabled", "1", "email", "1"); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := post("/policies", "name", "night", "action", "deny", "hours", "22:00-06:00", "enabled", "1"); r.status != http.StatusSeeOther {
		t.Fatalf("create 2: %d", r.status)
	}
	r := post("/policies", "name", "bad", "action", "auto_approve", "hours", "25:00-26:00", "reason_pattern", "(")
	if r.status != http.StatusUnprocessableEntity || strings.Count(r.body, `class="field-error"`) < 2 {
		t.Errorf("invalid policy: %d", r.status)
	}
	ps, err := h.svc.ListPolicies(ctxT(t), h.ownerID)
	if err != nil || len(ps) != 2 || ps[0].Name != "acme" || *ps[0].MaxPerHour != 5 || !slices.Equal(ps[0].Conditions.Sources, []agentotp.Channel{"email"}) {
		t.Fatalf("policies: %+v %v", ps, err)
	}
	page := b.get("/policies").body
	if !strings.Contains(page, "sender pattern within *@acme.com") || !strings.Contains(page, "between 22:00-06:00") {
		t.Error("policies page does not describe the conditions")
	}
	if r := post("/policies/"+ps[1].ID+"/move", "direction", "up"); r.status != http.StatusSeeOther {
		t.Fatalf("move: %d", r.status)
	}
	ps, _ = h.svc.ListPolicies(ctxT(t), h.ownerID)
	if ps[0].Name != "night" {
		t.Errorf("after move up: %s first", ps[0].Name)
	}
	edit := b.get("/policies/" + ps[1].ID)
	if !strings.Contains(edit.body, `value="*@acme.com"`) {
		t.Error("edit form not filled in")
	}
	if r := post("/policies/"+ps[1].ID, "name", "acme renamed", "action", "ask", "position", "1"); r.status != http.StatusSeeOther {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	ps, _ = h.svc.ListPolicies(ctxT(t), h.ownerID)
	if ps[0].Name != "acme renamed" || ps[0].Enabled {
		t.Errorf("after update: %+v", ps[0])
	}
	if r := post("/policies/" + ps[0].ID + "/delete"); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	if r := b.get("/policies/pol_nope"); r.status != http.StatusNotFound {
		t.Errorf("unknown policy: %d", r.status)
	}
	es, _ := h.svc.ListAudit(ctxT(t), agentotp.AuditQuery{OwnerID: h.ownerID, Action: agentotp.AuditPolicyChanged})
	if len(es) < 5 {
		t.Errorf("policy changes audited: %d entries", len(es))
	}
}

type sseEvent struct{ name, data string }

// readEvents reads the SSE stream at u until stop returns true for an
// event, and returns the events read.
func readEvents(t *testing.T, u string, cookie *http.Cookie, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	var out []sseEvent
	var cur sseEvent
	var data []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				cur.data = strings.Join(data, "\n")
				out = append(out, cur)
				if stop(cur) {
					return out
				}
			}
			cur, data = sseEvent{}, nil
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
	t.Fatalf("event stream ended after %d events: %v", len(out), sc.Err())
	return nil
}

func TestLiveEvents(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("bot")
	b := h.browser()
	b.mustLogin()
	cookie := &http.Cookie{Name: "agentotp_session", Value: b.sessionCookie()}
	created := make(chan string, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		created <- h.request(agent, "live one").ID
	}()
	var id string
	events := readEvents(t, h.srv.URL+"/events", cookie, func(ev sseEvent) bool {
		if id == "" && ev.name == "request" {
			id = <-created // the request exists: RequestOTP is returning
		}
		return ev.name == "pending" && id != "" && strings.Contains(ev.data, `id="req-`+id+`"`)
	})
	if events[0].name != "pending" || strings.Contains(events[0].data, "live one") {
		t.Errorf("first event: %+v", events[0])
	}
	if !slices.ContainsFunc(events, func(ev sseEvent) bool { return ev.name == "request" && ev.data == id }) {
		t.Errorf("no request event for %s: %+v", id, events)
	}

	// Without a session there is no stream.
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(h.srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("events without a session: %d", resp.StatusCode)
	}
}

func TestMounting(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		path, ctype string
		status      int
	}{
		{"/v1/nope", "application/problem+json", http.StatusNotFound},
		{"/v1", "application/problem+json", http.StatusNotFound},
		{"/healthz", "application/json", http.StatusOK},
		{"/nope", "text/html; charset=utf-8", http.StatusNotFound},
		{"/login", "text/html; charset=utf-8", http.StatusOK},
		{"/static/app.css", "text/css; charset=utf-8", http.StatusOK},
		{"/static/nope.css", "text/plain; charset=utf-8", http.StatusNotFound},
	} {
		resp, err := http.Get(h.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: %d %s; want %d %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype)
		}
	}
}

// TestOwnerPasswordAPI covers PUT /v1/owner/password.
func TestOwnerPasswordAPI(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	b := h.browser()
	b.mustLogin()
	if err := h.owner.SetPassword(ctx, "short"); !errors.Is(err, client.ErrValidation) {
		t.Errorf("short password: %v", err)
	}
	_, key := h.agent("bot")
	ac := client.NewOwnerClient(key, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	if err := ac.SetPassword(ctx, "an agent's password"); !errors.Is(err, client.ErrAuthentication) {
		t.Errorf("agent key setting the password: %v", err)
	}
	if _, err := ac.CreateLoginLink(ctx); !errors.Is(err, client.ErrAuthentication) {
		t.Errorf("agent key making a log-in link: %v", err)
	}
	if r := b.get("/"); r.status != http.StatusOK {
		t.Fatalf("session ended by refused changes: %d", r.status)
	}
	if err := h.owner.SetPassword(ctx, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/"); r.status != http.StatusSeeOther {
		t.Errorf("a new password must end existing sessions: %d", r.status)
	}
	if r := h.browser().login(testPassword, nil); r.status != http.StatusUnauthorized {
		t.Errorf("old password: %d", r.status)
	}
	if r := h.browser().login("a brand new password", nil); r.status != http.StatusSeeOther {
		t.Errorf("new password: %d", r.status)
	}
	pw, err := h.store.GetOwnerPassword(ctx, h.ownerID)
	if err != nil || !strings.HasPrefix(pw.Hash, "$argon2id$v=19$m=65536,t=3,p=2$") || strings.Contains(pw.Hash, "brand new") {
		t.Errorf("stored hash %q %v", pw.Hash, err)
	}
}

// TestHeldMessageShown: a message caught while the request waits for
// approval is shown to the owner before approving, so they know what
// approving releases — and the agent does not see it.
func TestHeldMessageShown(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("bot")
	r := h.request(agent, "sign up")
	src, err := h.owner.CreateSource(ctx, "inbox", "email")
	if err != nil {
		t.Fatal(err)
	}
	sc := client.NewSourceClient(src.Token, client.WithBaseURL(h.srv.URL))
	if res, err := sc.Send(ctx, client.Message{Source: "email", Sender: "MYBANK <alerts@acme.example>", Text: "Your MYBANK code is 771234"}); err != nil || !res.Matched {
		t.Fatalf("send: %+v %v", res, err)
	}
	b := h.browser()
	b.mustLogin()
	page := b.get("/r/" + r.ID)
	if !strings.Contains(page.body, "MYBANK") || !strings.Contains(page.body, "Already caught and held") {
		t.Fatalf("held message not shown: %.2000s", page.body)
	}
	if strings.Contains(page.body, "771234") {
		t.Fatal("the page shows the code")
	}
	got, err := agent.GetOTPStatus(ctx, r.ID)
	if err != nil || got.Metadata != nil || got.Status != client.StatusPendingApproval {
		t.Fatalf("agent view: %+v %v", got, err)
	}
}

// TestLiveFeedCatchesUp: a request page that was rendered before a change
// its feed could not have seen (the change fell between the page and the
// subscription) is told at once that it is stale.
func TestLiveFeedCatchesUp(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("bot")
	req := h.request(agent, "changes before the feed connects")
	shown := h.stored(req.ID).Version
	b := h.browser()
	b.mustLogin()
	cookie := &http.Cookie{Name: "agentotp_session", Value: b.sessionCookie()}
	if _, err := h.owner.Approve(ctxT(t), req.ID); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("%s/events?request=%s&v=%d", h.srv.URL, req.ID, shown)
	events := readEvents(t, url, cookie, func(ev sseEvent) bool { return ev.name == "request" })
	if last := events[len(events)-1]; last.name != "request" || last.data != req.ID {
		t.Fatalf("events %+v", events)
	}
	// A page that shows the current version hears nothing about it.
	current := h.stored(req.ID).Version
	url = fmt.Sprintf("%s/events?request=%s&v=%d", h.srv.URL, req.ID, current)
	events = readEvents(t, url, cookie, func(ev sseEvent) bool { return ev.name == "pending" })
	if len(events) != 1 {
		t.Fatalf("up-to-date page got %+v", events)
	}
}
