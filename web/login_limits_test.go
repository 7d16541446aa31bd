package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agentotp/agentotp/web"
)

// linkLogin uses a fresh one-time log-in link, made with the owner token,
// in browser b, and returns the final response.
func (h *harness) linkLogin(b *browser) response {
	h.t.Helper()
	l, err := h.owner.CreateLoginLink(ctxT(h.t))
	if err != nil {
		h.t.Fatal(err)
	}
	u, _ := url.Parse(l.URL)
	csrf := b.csrf(strings.TrimPrefix(l.URL, h.srv.URL))
	return b.post("/login/link", url.Values{"csrf": {csrf}, "token": {u.Query().Get("token")}})
}

// TestLoginLockoutPerAddress: wrong passwords lock out the address they
// came from, not the owner at another address.
func TestLoginLockoutPerAddress(t *testing.T) {
	h := newHarness(t, func(c *web.Config) { c.LoginAddressFailures, c.LoginAccountFailures = 3, 100 })
	attacker := h.browser()
	attacker.addr = "198.51.100.7"
	for i := range 4 {
		if r := attacker.login("not the password", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, r.status)
		}
	}
	// The fourth failure locked the address: even the right password is
	// refused from it, before it is checked.
	if r := attacker.login(testPassword, nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || attacker.sessionCookie() != "" {
		t.Fatalf("locked address: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	owner := h.browser()
	owner.addr = "192.0.2.10"
	owner.mustLogin()
	// A log-in link works from the locked address too.
	if r := h.linkLogin(attacker); r.status != http.StatusSeeOther || attacker.sessionCookie() == "" {
		t.Fatalf("log-in link from a locked address: %d %s", r.status, r.body)
	}
}

// TestLoginFloodDoesNotLockOutOwner: 35 wrong passwords from 35
// addresses (which used to spend the budget shared by all addresses)
// leave the owner a way in: the browser the owner logged in with before
// still logs in with the password, and a fresh one-time log-in link works
// from anywhere, the flooding addresses included. A browser the owner
// never used is held back by the account's lockout, with Retry-After.
func TestLoginFloodDoesNotLockOutOwner(t *testing.T) {
	h := newHarness(t, func(c *web.Config) { c.LoginAddressFailures, c.LoginAccountFailures = 0, 0 }) // the defaults
	owner := h.browser()
	owner.addr = "192.0.2.10"
	owner.mustLogin()
	if r := owner.post("/logout", url.Values{"csrf": {owner.csrf("/")}}); r.status != http.StatusSeeOther {
		t.Fatalf("log-out: %d", r.status)
	}
	var last *browser
	for i := range 35 {
		last = h.browser()
		last.addr = fmt.Sprintf("203.0.113.%d", i+1)
		if r := last.login("guess guess", nil); r.status != http.StatusUnauthorized && r.status != http.StatusTooManyRequests {
			t.Fatalf("guess %d: %d", i+1, r.status)
		}
	}
	owner.mustLogin()
	stranger := h.browser()
	stranger.addr = "192.0.2.99"
	if r := stranger.login(testPassword, nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("new browser during the account's lockout: %d", r.status)
	}
	if !strings.Contains(stranger.get("/login").body, "Log in") {
		t.Fatal("log-in page not shown")
	}
	for _, b := range []*browser{stranger, last} {
		if r := h.linkLogin(b); r.status != http.StatusSeeOther || b.sessionCookie() == "" {
			t.Fatalf("log-in link from %s: %d %s", b.addr, r.status, r.body)
		}
	}
}

// TestLoginLinkFailures: wrong log-in links count against their address
// only, and a valid link still works after them.
func TestLoginLinkFailures(t *testing.T) {
	h := newHarness(t, func(c *web.Config) { c.LoginLinkFailures = 2 })
	b := h.browser()
	b.addr = "198.51.100.8"
	csrf := b.csrf("/login")
	for i, want := range []int{http.StatusNotFound, http.StatusNotFound, http.StatusTooManyRequests} {
		r := b.post("/login/link", url.Values{"csrf": {csrf}, "token": {"ll_" + strings.Repeat("x", 40)}})
		if r.status != want {
			t.Fatalf("wrong link %d: %d; want %d", i+1, r.status, want)
		}
	}
	if r := h.linkLogin(b); r.status != http.StatusSeeOther || b.sessionCookie() == "" {
		t.Fatalf("valid link after wrong ones: %d", r.status)
	}
}
