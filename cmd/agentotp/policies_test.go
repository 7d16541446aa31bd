package main

import (
	"strings"
	"testing"

	"github.com/agentotp/agentotp/telegram/telegramtest"
)

type cliPolicy struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Position   int    `json:"position"`
	Action     string `json:"action"`
	MaxPerHour *int   `json:"max_per_hour"`
	Enabled    bool   `json:"enabled"`
	Conditions struct {
		Sources       []string `json:"sources"`
		SenderPattern string   `json:"sender_pattern"`
		Hours         string   `json:"hours"`
	} `json:"conditions"`
}

// TestPoliciesCLI manages policies with the binary and lets one decide a
// request made by the agent side of the binary.
func TestPoliciesCLI(t *testing.T) {
	r := startRelay(t)
	var agent struct {
		APIKey string `json:"api_key"`
	}
	mustJSON(t, r.owner(t, "agents", "create", "--name", "shopper", "--json"), &agent)

	if res := r.owner(t, "policies", "list"); res.code != 0 || !strings.Contains(res.stdout, "no policies") {
		t.Fatalf("empty list: %+v", res)
	}
	var acme, night cliPolicy
	mustJSON(t, r.owner(t, "policies", "create", "--name", "acme", "--action", "auto_approve", "--sender-pattern", "*@acme.com",
		"--source", "email", "--max-per-hour", "2", "--json"), &acme)
	if acme.Position != 1 || acme.MaxPerHour == nil || *acme.MaxPerHour != 2 || acme.Conditions.SenderPattern != "*@acme.com" || !acme.Enabled {
		t.Fatalf("created: %+v", acme)
	}
	mustJSON(t, r.owner(t, "policies", "create", "--name", "night", "--action", "deny", "--hours", "22:00-06:00", "--position", "1", "--json"), &night)
	if night.Position != 1 {
		t.Fatalf("night at %d", night.Position)
	}
	list := r.owner(t, "policies", "list")
	if list.code != 0 || strings.Index(list.stdout, night.ID) > strings.Index(list.stdout, acme.ID) || !strings.Contains(list.stdout, "sender within *@acme.com") {
		t.Fatalf("list:\n%s", list.stdout)
	}
	if res := r.owner(t, "policies", "move", acme.ID, "1"); res.code != 0 || !strings.Contains(res.stdout, "at position 1") {
		t.Fatalf("move: %+v", res)
	}
	var upd cliPolicy
	mustJSON(t, r.owner(t, "policies", "update", night.ID, "--enabled=false", "--json"), &upd)
	if upd.Enabled || upd.Position != 2 || upd.Conditions.Hours != "22:00-06:00" || upd.Action != "deny" {
		t.Fatalf("update kept the other fields? %+v", upd)
	}

	// Bad input is refused with the field named, and changes nothing.
	res := r.owner(t, "policies", "create", "--name", "x", "--action", "sometimes")
	if res.code == 0 || !strings.Contains(res.stderr, "action") {
		t.Fatalf("bad action: %+v", res)
	}
	res = r.owner(t, "policies", "update", acme.ID, "--reason-pattern", "(")
	if res.code == 0 || !strings.Contains(res.stderr, "conditions.reason_pattern") {
		t.Fatalf("bad pattern: %+v", res)
	}
	if res := r.owner(t, "policies", "move", acme.ID, "zero"); res.code != exitUsage {
		t.Fatalf("bad position: %+v", res)
	}

	// The policy decides the agent's request.
	req := agentotp(t, "", nil, "request", "--reason", "Sign up for Acme", "--sender-pattern", "no-reply@acme.com", "--source", "email",
		"--server", r.url, "--api-key", agent.APIKey, "--timeout", "2s", "--quiet")
	if req.code != exitTimeout {
		t.Fatalf("request: %+v", req)
	}
	var page struct {
		Data []struct {
			DecidedBy *string `json:"decided_by"`
		} `json:"data"`
	}
	mustJSON(t, r.owner(t, "requests", "list", "--json"), &page)
	if len(page.Data) != 1 || page.Data[0].DecidedBy == nil || *page.Data[0].DecidedBy != "policy:"+acme.ID {
		t.Fatalf("requests: %+v", page)
	}

	// The owner's time zone.
	if res := r.owner(t, "owner", "timezone"); res.code != 0 || res.stdout != "UTC\n" {
		t.Fatalf("timezone: %+v", res)
	}
	if res := r.owner(t, "owner", "timezone", "Europe/Berlin"); res.code != 0 || !strings.Contains(res.stdout, "Europe/Berlin") {
		t.Fatalf("set timezone: %+v", res)
	}
	if res := r.owner(t, "owner", "timezone", "Mars/Olympus_Mons"); res.code == 0 || !strings.Contains(res.stderr, "time_zone") {
		t.Fatalf("bad timezone: %+v", res)
	}

	if res := r.owner(t, "policies", "delete", night.ID); res.code != 0 || !strings.Contains(res.stdout, "deleted policy "+night.ID) {
		t.Fatalf("delete: %+v", res)
	}
	exp := r.owner(t, "audit", "export", "--format", "jsonl")
	if n := strings.Count(exp.stdout, `"policy.changed"`); n != 5 {
		t.Errorf("%d policy.changed audit entries; want 5 (2 created, moved, updated, deleted)", n)
	}
	if !strings.Contains(exp.stdout, `"actor":"policy:`+acme.ID+`"`) {
		t.Error("the policy's approval is not in the audit log under its name")
	}
}

// TestTelegramServe runs `serve --telegram-token` against a fake Bot API:
// link a chat with `owner telegram-link`, get the prompt for an agent's
// request, approve it with the button, and see the message edited.
func TestTelegramServe(t *testing.T) {
	fake := telegramtest.NewServer(t)
	calls := fake.Cursor()
	r := startRelay(t, "--telegram-token", fake.Token(), "--telegram-api-url", fake.URL())
	var agent struct {
		APIKey string `json:"api_key"`
	}
	mustJSON(t, r.owner(t, "agents", "create", "--name", "shopper", "--json"), &agent)
	var src struct {
		Token string `json:"token"`
	}
	mustJSON(t, r.owner(t, "sources", "create", "--name", "phone", "--kind", "sms", "--json"), &src)

	link := r.owner(t, "owner", "telegram-link")
	if link.code != 0 || !strings.HasPrefix(link.stdout, "/link ") || !strings.Contains(link.stderr, "works once") {
		t.Fatalf("telegram-link: %+v", link)
	}
	const chat = int64(777001)
	fake.SendText(chat, chat, strings.TrimSpace(link.stdout))
	if c := calls.Take(t, 1)[0]; c.Send == nil || c.Send.ChatID != chat || !strings.HasPrefix(c.Send.Text, "Linked") {
		t.Fatalf("link reply: %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}
	if res := r.owner(t, "owner", "telegram"); res.code != 0 || !strings.Contains(res.stdout, "linked to chat 777001") {
		t.Fatalf("telegram status: %+v", res)
	}

	done := make(chan result, 1)
	go func() {
		done <- agentotp(t, "", nil, "request", "--reason", "Sign up for Acme", "--sender-pattern", "ACME", "--source", "sms",
			"--server", r.url, "--api-key", agent.APIKey, "--timeout", "60s")
	}()
	prompt := calls.Take(t, 1)[0]
	if prompt.Send == nil || prompt.Send.ChatID != chat || !strings.Contains(prompt.Send.Text, "Reason: Sign up for Acme") || prompt.Send.ReplyMarkup == nil {
		t.Fatalf("prompt: %s", telegramtest.DescribeCalls([]telegramtest.Call{prompt}))
	}
	approve := prompt.Send.ReplyMarkup.InlineKeyboard[0][0].CallbackData
	// A tap from another chat does nothing; the owner's tap approves.
	stranger := *prompt.Result
	stranger.Chat.ID = 999
	fake.Tap(999, stranger, approve)
	if c := calls.Take(t, 1)[0]; c.Answer == nil || !strings.HasPrefix(c.Answer.Text, "Only the owner's linked chat") {
		t.Fatalf("stranger's tap: %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}
	fake.Tap(chat, *prompt.Result, approve)
	got := calls.Take(t, 2)
	var edited bool
	for _, c := range got {
		if c.Edit != nil && strings.HasSuffix(c.Edit.Text, "✅ Approved by the owner") {
			edited = true
		}
	}
	if !edited {
		t.Fatalf("after the tap: %s", telegramtest.DescribeCalls(got))
	}
	ing := agentotp(t, "Your ACME code is 482913\n", nil, "ingest", "--source", "sms", "--sender", "ACME", "--server", r.url, "--source-token", src.Token)
	if ing.code != 0 {
		t.Fatalf("ingest: %+v", ing)
	}
	if res := <-done; res.code != 0 || res.stdout != "482913\n" {
		t.Fatalf("request: %+v", res)
	}
	if c := calls.Take(t, 1)[0]; c.Edit == nil || !strings.HasSuffix(c.Edit.Text, "code delivered to the agent") || strings.Contains(c.Edit.Text, "482913") {
		t.Fatalf("after consume: %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}
	if res := r.owner(t, "owner", "telegram-unlink"); res.code != 0 {
		t.Fatalf("unlink: %+v", res)
	}
	if res := r.owner(t, "owner", "telegram", "--json"); res.code != 0 || !strings.Contains(res.stdout, `"linked": false`) && !strings.Contains(res.stdout, `"linked":false`) {
		t.Fatalf("after unlink: %+v", res)
	}
	if strings.Contains(r.stderr.String(), fake.Token()) || strings.Contains(r.stderr.String(), strings.TrimPrefix(link.stdout, "/link ")) {
		t.Error("the relay log holds the bot token or the link code")
	}
}
