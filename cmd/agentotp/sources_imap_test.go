package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap/imaptest"
)

// TestSourcesIMAPCheck: `sources imap` logs in to a real Dovecot and
// selects the mailbox before saving; a wrong password or mailbox is
// reported and nothing is saved. `sources list` then shows a failed
// connector's last error even once it has stopped.
func TestSourcesIMAPCheck(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	r := startRelay(t)
	port := strconv.Itoa(d.Port)
	var created client.NewSource
	mustJSON(t, r.owner(t, "sources", "create", "--name", "inbox", "--kind", "email", "--json"), &created)
	id := created.Source.ID
	set := func(password string, extra ...string) result {
		args := append([]string{"sources", "imap", id, "--host", "127.0.0.1", "--port", port, "--tls", "plain",
			"--user", d.User, "--password-stdin", "--server", r.url, "--data", r.data}, extra...)
		return agentotp(t, password+"\n", nil, args...)
	}
	saved := func() *client.SourceIMAP {
		var src client.Source
		mustJSON(t, r.owner(t, "sources", "imap", id, "--json"), &src)
		return src.IMAP
	}

	for name, tt := range map[string]struct {
		password string
		extra    []string
		want     string
	}{
		"wrong password":  {"not-the-password", nil, "login"},
		"no such mailbox": {d.Password, []string{"--mailbox", "Nowhere"}, "select Nowhere"},
	} {
		t.Run(name, func(t *testing.T) {
			res := set(tt.password, tt.extra...)
			if res.code != exitError || !strings.Contains(res.stderr, "IMAP check of") || !strings.Contains(res.stderr, tt.want) ||
				!strings.Contains(res.stderr, "nothing was saved") {
				t.Errorf("%+v", res)
			}
			if strings.Contains(res.stderr+res.stdout, tt.password) {
				t.Error("the password was printed")
			}
			if im := saved(); im != nil {
				t.Errorf("settings saved after a failed check: %+v", im)
			}
		})
	}

	res := set(d.Password)
	if res.code != 0 || !strings.Contains(res.stderr, "IMAP check: logged in and selected INBOX") {
		t.Fatalf("good settings: %+v", res)
	}
	if im := saved(); im == nil || !im.PasswordSet {
		t.Fatalf("good settings not saved: %+v", im)
	}

	// Saved untested with a wrong password, the connector fails while a
	// request wants email, then stops: the list still says why.
	if res := set("wrong-again", "--no-check"); res.code != 0 || strings.Contains(res.stderr, "IMAP check") {
		t.Fatalf("--no-check: %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	owner, agent, _ := relayClients(t, ctx, r.url, r.data, "email")
	reqID, _ := approvedRequest(t, ctx, owner, agent, &client.Filter{Sources: []string{"email"}})
	src := waitSourceIMAP(t, r.url, r.data, id, "error")
	if src.IMAP.Status.LastError == nil || !strings.Contains(*src.IMAP.Status.LastError, "login") {
		t.Fatalf("connector status: %+v", src.IMAP.Status)
	}
	if _, err := agent.CancelOTPRequest(ctx, reqID); err != nil {
		t.Fatal(err)
	}
	waitSourceIMAP(t, r.url, r.data, id, "stopped")
	list := r.owner(t, "sources", "list")
	if list.code != 0 || !strings.Contains(list.stdout, "stopped; last error") || !strings.Contains(list.stdout, "login") {
		t.Errorf("sources list: %+v", list)
	}
}
