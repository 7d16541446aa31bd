package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestOwnerDashboardCommands sets the dashboard password and makes a
// log-in link with the real binary against `agentotp serve`, then logs
// in to the dashboard on the same port with each.
func TestOwnerDashboardCommands(t *testing.T) {
	r := startRelay(t)
	run := func(stdin string, args ...string) result {
		return agentotp(t, stdin, nil, append(args, "--server", r.url, "--data", r.data)...)
	}
	if res := run("", "owner", "passwd"); res.code != exitUsage || !strings.Contains(res.stderr, "no password") {
		t.Errorf("passwd without input: %d %s", res.code, res.stderr)
	}
	if res := run("short\n", "owner", "passwd"); res.code == 0 || !strings.Contains(res.stderr, "password") {
		t.Errorf("short password: %d %s", res.code, res.stderr)
	}
	if res := run("a dashboard password\n", "owner", "passwd"); res.code != 0 || !strings.Contains(res.stdout, "password set") {
		t.Fatalf("passwd: %d %s %s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(r.stderr.String(), "a dashboard password") {
		t.Error("the password reached the relay's log")
	}

	c := newWebClient(t)
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	page := c.get(t, r.url+"/login")
	resp := c.postForm(t, r.url+"/login", url.Values{"csrf": {csrfRE.FindStringSubmatch(page)[1]}, "password": {"a dashboard password"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("password log-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if body := c.get(t, r.url+"/"); !strings.Contains(body, "Pending requests") {
		t.Fatal("not logged in after the password log-in")
	}

	res := run("", "owner", "login-link")
	link := strings.TrimSpace(res.stdout)
	if res.code != 0 || !strings.HasPrefix(link, r.url+"/login/link?token=ll_") || !strings.Contains(res.stderr, "works once") {
		t.Fatalf("login-link: %d %q %s", res.code, link, res.stderr)
	}
	c2 := newWebClient(t)
	page = c2.get(t, link)
	u, _ := url.Parse(link)
	resp = c2.postForm(t, r.url+"/login/link", url.Values{"csrf": {csrfRE.FindStringSubmatch(page)[1]}, "token": {u.Query().Get("token")}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("link log-in: %d", resp.StatusCode)
	}
	if body := c2.get(t, r.url+"/"); !strings.Contains(body, "Pending requests") {
		t.Fatal("not logged in after the link")
	}
	if strings.Contains(r.stderr.String(), u.Query().Get("token")) {
		t.Error("the link's token reached the relay's log")
	}
	var out struct {
		URL string `json:"url"`
	}
	mustJSON(t, run("", "owner", "login-link", "--json"), &out)
	if out.URL == "" || out.URL == link {
		t.Errorf("login-link --json: %q", out.URL)
	}
	if res := agentotp(t, "", nil, "owner", "login-link", "--server", r.url, "--token", "ok_wrong"); res.code != exitAuth {
		t.Errorf("login-link with a wrong token: %d", res.code)
	}
}

type webClient struct{ c *http.Client }

func newWebClient(t *testing.T) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *webClient) get(t *testing.T, u string) string {
	t.Helper()
	resp, err := w.c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (w *webClient) postForm(t *testing.T, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := w.c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
