package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/sqlite"
	"github.com/agentotp/agentotp/telegram"
	"github.com/agentotp/agentotp/telegram/telegramtest"
)

// env is a relay (real SQLite file, real service) with the bot running
// against the fake Bot API.
type env struct {
	t       *testing.T
	ctx     context.Context
	svc     *relay.Service
	store   *sqlite.DB
	clock   *relaytest.Clock
	logs    *relaytest.Buffer
	fake    *telegramtest.Server
	bot     *telegram.Bot
	calls   *telegramtest.Cursor
	ownerID string
	agent   *relay.Principal
	agentID string
	key     string
}

type envOptions struct {
	// direct: the bot is not registered as a notifier; tests call Notify
	// themselves, so they know when it is done.
	direct bool
	apiURL string
	// publicURL is the relay's public URL (default http://relay.test).
	publicURL string
	// passkeyOnly is the bot's PasskeyOnly.
	passkeyOnly bool
}

const (
	ownerChat  = int64(4242)
	ownerUser  = int64(4242)
	strangerID = int64(666)
)

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, clock: &relaytest.Clock{}, logs: &relaytest.Buffer{}}
	e.clock.Set(time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "agentotp.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	publicURL := o.publicURL
	if publicURL == "" {
		publicURL = "http://relay.test"
	}
	e.svc = relay.New(store, nil, relay.Config{PublicURL: publicURL, Now: e.clock.Now, Logger: log})
	owner, _, err := e.svc.EnsureOwner(ctx, "me", false)
	if err != nil {
		t.Fatal(err)
	}
	e.ownerID = owner.ID
	na, err := e.svc.CreateAgent(ctx, owner.ID, "shopper", false)
	if err != nil {
		t.Fatal(err)
	}
	e.agentID = na.Agent.ID
	if e.agent, err = e.svc.Authenticate(ctx, na.APIKey); err != nil {
		t.Fatal(err)
	}
	k, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	e.key = k.Public().String()

	e.fake = telegramtest.NewServer(t)
	e.calls = e.fake.Cursor()
	apiURL := o.apiURL
	if apiURL == "" {
		apiURL = e.fake.URL()
	}
	e.bot, err = telegram.New(e.svc, e.store, telegram.Config{
		Token: e.fake.Token(), APIURL: apiURL, PollTimeout: 2 * time.Second, CallTimeout: 5 * time.Second,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: log, PasskeyOnly: o.passkeyOnly,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !o.direct {
		e.svc.AddNotifier(e.bot)
	}
	var wg sync.WaitGroup
	wg.Go(func() { e.svc.Run(ctx, time.Hour) })
	runErr := make(chan error, 1)
	wg.Go(func() { runErr <- e.bot.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := <-runErr; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v; want context.Canceled", err)
		}
		store.Close()
		if strings.Contains(e.logs.String(), e.fake.Token()) || strings.Contains(e.logs.String(), strings.SplitN(e.fake.Token(), ":", 2)[1]) {
			t.Error("the bot token appears in the logs")
		}
	})
	return e
}

// link links chat for user through /link and checks the bot's reply.
func (e *env) link(chatID, userID int64) {
	e.t.Helper()
	c, err := e.svc.NewTelegramLinkCode(e.ctx, e.ownerID)
	if err != nil {
		e.t.Fatal(err)
	}
	e.fake.SendText(chatID, userID, "/link "+c.Code)
	got := e.calls.Take(e.t, 1)[0]
	if got.Send == nil || got.Send.ChatID != chatID || !strings.HasPrefix(got.Send.Text, "Linked ✅") || got.Send.ReplyMarkup != nil {
		e.t.Fatalf("after /link: %s; want a Linked reply to chat %d", telegramtest.DescribeCalls([]telegramtest.Call{got}), chatID)
	}
}

type reqOpts struct {
	reason, expected string
	filter           *agentotp.Filter
	ttl              time.Duration
}

func (e *env) request(o reqOpts) *agentotp.Request {
	e.t.Helper()
	if o.reason == "" {
		o.reason = "Sign up for Acme"
	}
	r, err := e.svc.CreateRequest(e.ctx, e.agent, relay.CreateRequestInput{Reason: o.reason, ExpectedSender: o.expected,
		Filter: o.filter, PublicKey: e.key, TTL: o.ttl})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// notify hands the bot an event directly (direct mode).
func (e *env) notify(action string, r *agentotp.Request) {
	e.bot.Notify(e.ctx, agentotp.RequestChange{Action: action, Actor: "test", At: e.clock.Now(), Request: *r})
}

func (e *env) current(id string) *agentotp.Request {
	e.t.Helper()
	r, err := e.svc.OwnerRequest(e.ctx, e.ownerID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// prompt checks that c sends the approval prompt of r to the owner's chat
// and returns its Approve and Deny callback data.
func (e *env) prompt(c telegramtest.Call, r *agentotp.Request) (approve, deny string) {
	e.t.Helper()
	if c.Send == nil || c.Send.ChatID != ownerChat {
		e.t.Fatalf("want a prompt sent to chat %d; got %s", ownerChat, telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}
	if !strings.Contains(c.Send.Text, "Request: "+r.ID) {
		e.t.Fatalf("prompt is not about %s:\n%s", r.ID, c.Send.Text)
	}
	kb := c.Send.ReplyMarkup
	if kb == nil || len(kb.InlineKeyboard) != 1 || len(kb.InlineKeyboard[0]) != 2 {
		e.t.Fatalf("prompt keyboard = %+v; want one row of two buttons", kb)
	}
	a, d := kb.InlineKeyboard[0][0], kb.InlineKeyboard[0][1]
	if a.Text != "✅ Approve" || d.Text != "❌ Deny" {
		e.t.Errorf("buttons %q, %q", a.Text, d.Text)
	}
	if !strings.HasPrefix(a.CallbackData, "a:") || !strings.HasPrefix(d.CallbackData, "d:") ||
		a.CallbackData[2:] != d.CallbackData[2:] || len(a.CallbackData) != 24 {
		e.t.Errorf("callback data %q, %q; want a:TOKEN and d:TOKEN with one 22-character token", a.CallbackData, d.CallbackData)
	}
	if strings.Contains(a.CallbackData, r.ID) || strings.Contains(a.CallbackData, strings.TrimPrefix(r.ID, "otp_")) {
		e.t.Errorf("callback data %q reveals the request id", a.CallbackData)
	}
	return a.CallbackData, d.CallbackData
}

// wantAnswer checks that c answers the callback query id with text.
func wantAnswer(t *testing.T, c telegramtest.Call, id, text string, alert bool) {
	t.Helper()
	if c.Answer == nil || c.Answer.CallbackQueryID != id || c.Answer.Text != text || c.Answer.ShowAlert != alert {
		t.Fatalf("got %s; want answerCallbackQuery(%s, %q, alert %v)", telegramtest.DescribeCalls([]telegramtest.Call{c}), id, text, alert)
	}
}

// wantEdit checks that c edits message m to a text ending in suffix and
// removes its buttons.
func wantEdit(t *testing.T, c telegramtest.Call, m telegram.Message, suffix string) {
	t.Helper()
	if c.Edit == nil || c.Edit.ChatID != m.Chat.ID || c.Edit.MessageID != m.MessageID || !strings.HasSuffix(c.Edit.Text, suffix) {
		t.Fatalf("got %s; want editMessageText(chat %d, msg %d, …%q)", telegramtest.DescribeCalls([]telegramtest.Call{c}), m.Chat.ID, m.MessageID, suffix)
	}
	if c.Edit.ReplyMarkup == nil || len(c.Edit.ReplyMarkup.InlineKeyboard) != 0 {
		t.Errorf("edit keeps buttons: %+v", c.Edit.ReplyMarkup)
	}
}

// split returns the answer and the edit among two calls made concurrently
// (the answer comes from the update loop, the edit from the notifier).
func split(t *testing.T, cs []telegramtest.Call) (answer, edit telegramtest.Call) {
	t.Helper()
	if len(cs) != 2 {
		t.Fatalf("want 2 calls, got %d", len(cs))
	}
	if cs[0].Answer != nil {
		return cs[0], cs[1]
	}
	return cs[1], cs[0]
}

// auditActors returns "action by actor" for the request's audit entries.
func (e *env) auditActors(requestID string) []string {
	e.t.Helper()
	es, err := e.svc.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: e.ownerID, RequestID: requestID})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, a := range es {
		out = append(out, a.Action+" by "+a.Actor)
	}
	return out
}

func TestPromptApproveAndRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.link(ownerChat, ownerUser)

	r := e.request(reqOpts{expected: "Acme <noreply@acme.com>", filter: &agentotp.Filter{Sources: []agentotp.Channel{"email"}, SenderPattern: "*@acme.com"}})
	c := e.calls.Take(t, 1)[0]
	approve, deny := e.prompt(c, r)
	wantText := "🔐 Verification code request\n\n" +
		"Agent: shopper (" + e.agentID + ")\n" +
		"Reason: Sign up for Acme\n" +
		"Expected sender: Acme <noreply@acme.com>\n" +
		"Sources: email\n" +
		"Filter: email, from *@acme.com\n" +
		"Key: " + r.KeyFingerprint[:len("SHA256:")+16] + "… (HPKE-X25519-SHA256-CHACHA20POLY1305)\n" +
		"Request: " + r.ID + "\n\n" +
		"⏳ Time left: 5m0s"
	if c.Send.Text != wantText {
		t.Errorf("prompt text:\n%s\nwant:\n%s", c.Send.Text, wantText)
	}
	msg := *c.Result

	// Refused taps: each is answered with a refusal and changes nothing.
	refusals := []struct {
		name   string
		user   int64
		msg    telegram.Message
		data   string
		answer string
	}{
		{"another chat's tap", strangerID, withChat(msg, strangerID), approve, "Only the owner's linked chat can decide this request."},
		{"another user in the linked chat", strangerID, msg, approve, "Only the owner's linked chat can decide this request."},
		{"the owner tapping from another chat", ownerUser, withChat(msg, -100777), approve, "Only the owner's linked chat can decide this request."},
		{"forged token", ownerUser, msg, "a:AAAAAAAAAAAAAAAAAAAAAA", "This button is not valid."},
		{"request id as data", ownerUser, msg, "a:" + r.ID, "This button is not valid."},
		{"bare request id", ownerUser, msg, r.ID, "This button is not valid."},
		{"unknown verb", ownerUser, msg, "x:" + approve[2:], "This button is not valid."},
		{"token with a tail", ownerUser, msg, approve + "0", "This button is not valid."},
		{"token with a bad character", ownerUser, msg, approve[:len(approve)-1] + "/", "This button is not valid."},
		{"empty data", ownerUser, msg, "", "This button is not valid."},
		{"long data", ownerUser, msg, strings.Repeat("a:", 32), "This button is not valid."},
	}
	for _, rf := range refusals {
		id := e.fake.Tap(rf.user, rf.msg, rf.data)
		got := e.calls.Take(t, 1)[0]
		wantAnswer(t, got, id, rf.answer, true)
		if cur := e.current(r.ID); cur.Status != agentotp.StatusPending || cur.Version != r.Version {
			t.Fatalf("%s: request is %s (version %d); want it unchanged", rf.name, cur.Status, cur.Version)
		}
	}

	// The owner approves from the linked chat.
	id := e.fake.Tap(ownerUser, msg, approve)
	answer, edit := split(t, e.calls.Take(t, 2))
	wantAnswer(t, answer, id, "Approved.", false)
	wantEdit(t, edit, msg, "\n\n✅ Approved by the owner")
	cur := e.current(r.ID)
	if cur.Status != agentotp.StatusApproved || cur.DecidedBy != agentotp.DecidedByOwner {
		t.Fatalf("after the tap: %s decided by %q", cur.Status, cur.DecidedBy)
	}
	if got := e.auditActors(r.ID); !slices.Contains(got, "request.approved by owner") {
		t.Errorf("audit %q has no approval by the owner", got)
	}

	// A stale tap (deny after approval) is refused; the message already
	// shows the outcome, so it is not edited again.
	id = e.fake.Tap(ownerUser, e.fake.Message(ownerChat, msg.MessageID), deny)
	wantAnswer(t, e.calls.Take(t, 1)[0], id, "Not changed: the request is already approved.", true)
	if now := e.current(r.ID); now.Status != agentotp.StatusApproved || now.Version != cur.Version {
		t.Fatalf("stale tap changed the request: %s v%d", now.Status, now.Version)
	}

	// The code arrives and the agent consumes it: the message says so.
	src, err := e.svc.CreateSource(e.ctx, e.ownerID, "mail", "email")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := e.svc.Authenticate(e.ctx, src.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ingest(e.ctx, sp, relay.IncomingMessage{Source: "email", Sender: "Acme <noreply@acme.com>", Subject: "Your code",
		Text: "Your Acme verification code is 604918."}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Consume(e.ctx, e.agent, r.ID); err != nil {
		t.Fatal(err)
	}
	wantEdit(t, e.calls.Take(t, 1)[0], msg, "\n\n✅ Approved by the owner — code delivered to the agent")
	if strings.Contains(e.fake.Message(ownerChat, msg.MessageID).Text, "604918") {
		t.Error("the code reached Telegram")
	}
	e.barrier()
}

// barrier sends /help and checks that its reply is the next call: no
// other call was made before it.
func (e *env) barrier() {
	e.t.Helper()
	e.fake.SendText(ownerChat, ownerUser, "/help")
	c := e.calls.Take(e.t, 1)[0]
	if c.Send == nil || !strings.HasPrefix(c.Send.Text, "agentotp relay bot") {
		e.t.Fatalf("want the /help reply next; got %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}
}

func withChat(m telegram.Message, chatID int64) telegram.Message {
	m.Chat = telegram.Chat{ID: chatID, Type: "group", Title: "elsewhere"}
	return m
}

func TestDenyCancelExpire(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.link(ownerChat, ownerUser)

	denied := e.request(reqOpts{reason: "log in to the bank"})
	c := e.calls.Take(t, 1)[0]
	_, deny := e.prompt(c, denied)
	deniedMsg := *c.Result
	cancelled := e.request(reqOpts{reason: "cancel me", ttl: 10 * time.Minute})
	c = e.calls.Take(t, 1)[0]
	e.prompt(c, cancelled)
	cancelledMsg := *c.Result
	expired := e.request(reqOpts{reason: "let me expire", ttl: time.Minute})
	c = e.calls.Take(t, 1)[0]
	expApprove, _ := e.prompt(c, expired)
	expiredMsg := *c.Result

	id := e.fake.Tap(ownerUser, deniedMsg, deny)
	answer, edit := split(t, e.calls.Take(t, 2))
	wantAnswer(t, answer, id, "Denied.", false)
	wantEdit(t, edit, deniedMsg, "\n\n❌ Denied by the owner")
	if cur := e.current(denied.ID); cur.Status != agentotp.StatusDenied || cur.DecidedBy != agentotp.DecidedByOwner {
		t.Fatalf("denied request: %s by %q", cur.Status, cur.DecidedBy)
	}
	if got := e.auditActors(denied.ID); !slices.Contains(got, "request.denied by owner") {
		t.Errorf("audit %q has no denial by the owner", got)
	}

	if _, err := e.svc.Cancel(e.ctx, e.agent, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	wantEdit(t, e.calls.Take(t, 1)[0], cancelledMsg, "\n\n🚫 Cancelled by the agent")

	e.clock.Advance(2 * time.Minute)
	if n, err := e.svc.Sweep(e.ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	wantEdit(t, e.calls.Take(t, 1)[0], expiredMsg, "\n\n⌛ Expired")

	// A tap on the expired request's old button is refused.
	id = e.fake.Tap(ownerUser, e.fake.Message(ownerChat, expiredMsg.MessageID), expApprove)
	wantAnswer(t, e.calls.Take(t, 1)[0], id, "Not changed: the request is already expired.", true)
	if cur := e.current(expired.ID); cur.Status != agentotp.StatusExpired {
		t.Fatalf("expired request is %s", cur.Status)
	}
	e.barrier()
}

func TestPendingUnlinkAndRelink(t *testing.T) {
	e := newEnv(t, envOptions{direct: true})

	// Before linking, requests are not sent and /pending is refused.
	first := e.request(reqOpts{reason: "first"})
	e.notify(agentotp.AuditRequestCreated, first)
	e.fake.SendText(ownerChat, ownerUser, "/pending")
	if c := e.calls.Take(t, 1)[0]; c.Send == nil || !strings.HasPrefix(c.Send.Text, "This chat is not linked.") {
		t.Fatalf("unlinked /pending: %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}

	e.link(ownerChat, ownerUser)
	e.clock.Advance(time.Second)
	second := e.request(reqOpts{reason: "second"})
	// /pending sends a prompt for each pending request, newest first.
	e.fake.SendText(ownerChat, ownerUser, "/pending")
	cs := e.calls.Take(t, 2)
	e.prompt(cs[0], second)
	approveFirst, _ := e.prompt(cs[1], first)
	firstMsg := *cs[1].Result

	// Someone else in a group with the bot cannot list or unlink.
	e.fake.SendText(-100555, strangerID, "/pending")
	if c := e.calls.Take(t, 1)[0]; c.Send == nil || c.Send.ChatID != -100555 || !strings.HasPrefix(c.Send.Text, "This chat is not linked.") {
		t.Fatalf("stranger /pending: %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}
	e.fake.SendText(ownerChat, strangerID, "/unlink")
	if c := e.calls.Take(t, 1)[0]; c.Send == nil || !strings.HasPrefix(c.Send.Text, "This chat is not linked.") {
		t.Fatalf("stranger /unlink: %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}

	e.fake.SendText(ownerChat, ownerUser, "/unlink")
	if c := e.calls.Take(t, 1)[0]; c.Send == nil || !strings.HasPrefix(c.Send.Text, "Unlinked.") {
		t.Fatalf("/unlink: %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}
	// After unlinking, old buttons do nothing and new requests are not sent.
	id := e.fake.Tap(ownerUser, firstMsg, approveFirst)
	wantAnswer(t, e.calls.Take(t, 1)[0], id, "Only the owner's linked chat can decide this request.", true)
	if cur := e.current(first.ID); cur.Status != agentotp.StatusPending {
		t.Fatalf("tap after unlink: %s", cur.Status)
	}
	third := e.request(reqOpts{reason: "third"})
	e.notify(agentotp.AuditRequestCreated, third)

	// Linked again in another chat: the old chat's buttons stay dead.
	const newChat = int64(-100999)
	e.link(newChat, ownerUser)
	id = e.fake.Tap(ownerUser, firstMsg, approveFirst)
	wantAnswer(t, e.calls.Take(t, 1)[0], id, "Only the owner's linked chat can decide this request.", true)
	if cur := e.current(first.ID); cur.Status != agentotp.StatusPending {
		t.Fatalf("tap in the old chat: %s", cur.Status)
	}
	e.fake.SendText(newChat, ownerUser, "/help")
	if c := e.calls.Take(t, 1)[0]; c.Send == nil || c.Send.ChatID != newChat {
		t.Fatalf("want only the /help reply; got %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}

	audit, err := e.svc.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: e.ownerID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		if strings.HasPrefix(a.Action, "telegram.") {
			actions = append(actions, a.Action+" by "+a.Actor+" via "+a.Details["via"])
		}
	}
	want := []string{"telegram.link_code_created by owner via ", "telegram.linked by owner via ",
		"telegram.unlinked by owner via telegram", "telegram.link_code_created by owner via ", "telegram.linked by owner via "}
	if !slices.Equal(actions, want) {
		t.Errorf("telegram audit entries %q; want %q", actions, want)
	}
}

func TestPolicyDecisionsAreNotPrompted(t *testing.T) {
	e := newEnv(t, envOptions{direct: true})
	e.link(ownerChat, ownerUser)
	pol, err := e.svc.CreatePolicy(e.ctx, e.ownerID, agentotp.Policy{Name: "acme", Action: agentotp.PolicyAutoApprove, Enabled: true,
		Conditions: agentotp.PolicyConditions{ReasonPattern: "^auto"}})
	if err != nil {
		t.Fatal(err)
	}
	r := e.request(reqOpts{reason: "auto please"})
	if r.Status != agentotp.StatusApproved || r.DecidedBy != "policy:"+pol.ID {
		t.Fatalf("request %s decided by %q", r.Status, r.DecidedBy)
	}
	e.notify(agentotp.AuditRequestCreated, r)
	e.barrier() // nothing was sent for the auto-approved request
}

func TestLinkCodes(t *testing.T) {
	e := newEnv(t, envOptions{})
	reply := func(chatID int64) string {
		t.Helper()
		c := e.calls.Take(t, 1)[0]
		if c.Send == nil || c.Send.ChatID != chatID {
			t.Fatalf("want a reply to %d; got %s", chatID, telegramtest.DescribeCalls([]telegramtest.Call{c}))
		}
		return c.Send.Text
	}
	const wrong = "That code is unknown, used or expired."

	// An expired code is refused.
	old, err := e.svc.NewTelegramLinkCode(e.ctx, e.ownerID)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(agentotp.TelegramLinkCodeTTL)
	e.fake.SendText(ownerChat, ownerUser, "/link "+old.Code)
	if got := reply(ownerChat); !strings.HasPrefix(got, wrong) {
		t.Errorf("expired code: %q", got)
	}

	// A fresh code replaces the old one and works once, typed loosely.
	c, err := e.svc.NewTelegramLinkCode(e.ctx, e.ownerID)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SendText(ownerChat, ownerUser, "/link@agentotp_test_bot "+strings.ToLower(strings.ReplaceAll(c.Code, "-", " ")))
	if got := reply(ownerChat); !strings.HasPrefix(got, "Linked ✅") {
		t.Fatalf("fresh code: %q", got)
	}
	e.fake.SendText(strangerID, strangerID, "/link "+c.Code)
	if got := reply(strangerID); !strings.HasPrefix(got, wrong) {
		t.Errorf("used code: %q", got)
	}
	if l, err := e.svc.TelegramLink(e.ctx, e.ownerID); err != nil || l.ChatID != ownerChat || l.UserID != ownerUser {
		t.Fatalf("link = %+v, %v", l, err)
	}

	// Guessing is limited per chat: after 5 wrong codes even a right one
	// is not tried.
	for range 4 { // one wrong attempt was made above
		e.fake.SendText(strangerID, strangerID, "/link ABCD-EFGH-JKLM")
		if got := reply(strangerID); !strings.HasPrefix(got, wrong) {
			t.Fatalf("wrong code: %q", got)
		}
	}
	c, err = e.svc.NewTelegramLinkCode(e.ctx, e.ownerID)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SendText(strangerID, strangerID, "/link "+c.Code)
	if got := reply(strangerID); !strings.HasPrefix(got, "Too many wrong codes.") {
		t.Errorf("sixth attempt: %q", got)
	}
	if l, _ := e.svc.TelegramLink(e.ctx, e.ownerID); l.ChatID != ownerChat {
		t.Fatalf("the stranger linked: %+v", l)
	}

	// The code is stored only as a hash.
	codes, err := e.store.ListTelegramLinkCodes(e.ctx, e.clock.Now())
	if err != nil || len(codes) != 1 {
		t.Fatalf("codes = %v, %v", codes, err)
	}
	if bytes.Contains(codes[0].CodeHash, []byte(strings.ReplaceAll(c.Code, "-", ""))) || len(codes[0].CodeHash) != 32 {
		t.Error("the link code is not stored as a hash")
	}

	// A chat linked to one owner cannot be taken by another owner's code.
	other := &agentotp.Owner{ID: agentotp.NewID("own_"), Name: "other", CreatedAt: e.clock.Now()}
	if err := e.store.CreateOwner(e.ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	oc, err := e.svc.NewTelegramLinkCode(e.ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SendText(ownerChat, ownerUser, "/link "+oc.Code)
	if got := reply(ownerChat); !strings.HasPrefix(got, "This chat is already linked to another relay owner.") {
		t.Errorf("taking a linked chat: %q", got)
	}
	if l, err := e.svc.TelegramLink(e.ctx, e.ownerID); err != nil || l.ChatID != ownerChat {
		t.Fatalf("owner's link after the attempt: %+v, %v", l, err)
	}

	// /link without a code, other commands and plain text.
	e.fake.SendText(ownerChat, ownerUser, "/link")
	if got := reply(ownerChat); !strings.HasPrefix(got, "Send /link CODE") {
		t.Errorf("bare /link: %q", got)
	}
	e.fake.SendText(ownerChat, ownerUser, "/frobnicate")
	if got := reply(ownerChat); !strings.HasPrefix(got, "Unknown command.") {
		t.Errorf("unknown command: %q", got)
	}
	e.fake.SendText(ownerChat, ownerUser, "hello")
	if got := reply(ownerChat); got != "Send /help for the commands." {
		t.Errorf("plain text: %q", got)
	}
	e.fake.SendText(-100123, strangerID, "chatter in a group")
	e.barrier() // group chatter gets no answer
}

// TestSlowTelegramNeverDelaysRequests: while Telegram does not answer,
// requests are created and decided at once; the prompt and the edit
// follow when it answers.
func TestSlowTelegramNeverDelaysRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.link(ownerChat, ownerUser)
	release := e.fake.Hold("sendMessage")
	r := e.request(reqOpts{})
	if _, err := e.svc.Decide(e.ctx, e.ownerID, r.ID, relay.Decision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	// Both returned while sendMessage is still held: nothing was recorded.
	if n := e.fake.CallCount(); n != 1 {
		t.Fatalf("%d calls recorded while Telegram hangs; want only the link reply", n)
	}
	release()
	cs := e.calls.Take(t, 2)
	e.prompt(cs[0], r)
	wantEdit(t, cs[1], *cs[0].Result, "\n\n✅ Approved by the owner")

	// A failing sendMessage loses that prompt only.
	e.fake.FailNext("sendMessage", 1, 500, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	lost := e.request(reqOpts{reason: "lost"})
	next := e.request(reqOpts{reason: "next"})
	e.prompt(e.calls.Take(t, 1)[0], next)
	if ps, err := e.store.ListTelegramPrompts(e.ctx, lost.ID); err != nil || len(ps) != 1 || ps[0].MessageID != 0 {
		t.Errorf("prompts of the lost request: %+v, %v", ps, err)
	}
}

// TestPollingOffsetsAndBackoff: failed getUpdates calls are retried, a
// 429's retry_after is honoured, and every update is confirmed by the
// next call's offset.
func TestPollingOffsetsAndBackoff(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.fake.FailNext("getUpdates", 2, 502, `<html>Bad Gateway</html>`)
	e.fake.FailNext("getUpdates", 1, 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`)
	e.fake.SendText(ownerChat, ownerUser, "/help")
	e.fake.SendText(ownerChat, ownerUser, "/help")
	for range 2 {
		if c := e.calls.Take(t, 1)[0]; c.Send == nil || !strings.HasPrefix(c.Send.Text, "agentotp relay bot") {
			t.Fatalf("want the /help reply; got %s", telegramtest.DescribeCalls([]telegramtest.Call{c}))
		}
	}
	e.fake.SendText(ownerChat, ownerUser, "/help")
	e.calls.Take(t, 1)
	polls := e.fake.Polls()
	// The failed calls never reach the recorder, so every recorded poll
	// is a served one; the offsets must never go back and must confirm
	// the updates handled.
	var last int64
	for i, p := range polls {
		if p.Timeout != 2 || !slices.Equal(p.AllowedUpdates, []string{"message", "callback_query"}) {
			t.Errorf("poll %d: %+v", i, p)
		}
		if p.Offset < last {
			t.Errorf("poll %d: offset went back from %d to %d", i, last, p.Offset)
		}
		last = p.Offset
	}
	if last < 1003 { // the poll that fetched update 1003 confirmed 1001 and 1002
		t.Errorf("last offset %d; want at least 1003", last)
	}
	if !strings.Contains(e.logs.String(), "telegram getUpdates failed; retrying") {
		t.Error("failed polls were not logged")
	}
}

// TestUnreachableTelegram: with the API down, the bot retries with
// backoff, logs without the token, and stops when its context ends.
func TestUnreachableTelegram(t *testing.T) {
	e := newEnv(t, envOptions{apiURL: "http://127.0.0.1:1"})
	e.linkDirect(t)
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(e.logs.String(), "telegram getUpdates failed") < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no retries logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Requests still work, and the failed prompt is logged.
	r := e.request(reqOpts{})
	if r.Status != agentotp.StatusPending {
		t.Fatal(r.Status)
	}
}

// linkDirect links the owner's chat through the service, without the
// bot (for an unreachable API).
func (e *env) linkDirect(t *testing.T) {
	c, err := e.svc.NewTelegramLinkCode(e.ctx, e.ownerID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.LinkTelegram(e.ctx, c.Code, relay.TelegramChat{ChatID: ownerChat, UserID: ownerUser}); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	svc := relay.New(nil, nil, relay.Config{})
	for _, cfg := range []telegram.Config{
		{},
		{Token: "12:ab/cd"},
		{Token: "12:abc", APIURL: "ftp://x"},
	} {
		if _, err := telegram.New(svc, nil, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// buttons checks that kb is a prompt's keyboard (one row: Approve, Deny,
// with one token) and returns the two buttons' callback data.
func buttons(t *testing.T, kb *telegram.InlineKeyboardMarkup) (approve, deny string) {
	t.Helper()
	if kb == nil || len(kb.InlineKeyboard) != 1 || len(kb.InlineKeyboard[0]) != 2 {
		t.Fatalf("keyboard = %+v; want one row of two buttons", kb)
	}
	a, d := kb.InlineKeyboard[0][0], kb.InlineKeyboard[0][1]
	if a.Text != "✅ Approve" || d.Text != "❌ Deny" {
		t.Errorf("buttons %q, %q", a.Text, d.Text)
	}
	if !strings.HasPrefix(a.CallbackData, "a:") || !strings.HasPrefix(d.CallbackData, "d:") ||
		a.CallbackData[2:] != d.CallbackData[2:] || len(a.CallbackData) != 24 {
		t.Errorf("callback data %q, %q; want a:TOKEN and d:TOKEN with one 22-character token", a.CallbackData, d.CallbackData)
	}
	return a.CallbackData, d.CallbackData
}

// ingest posts a message through a new capture source of its kind.
func (e *env) ingest(in relay.IncomingMessage) {
	e.t.Helper()
	src, err := e.svc.CreateSource(e.ctx, e.ownerID, "src-"+string(in.Source), string(in.Source))
	if err != nil {
		e.t.Fatal(err)
	}
	sp, err := e.svc.Authenticate(e.ctx, src.Token)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.Ingest(e.ctx, sp, in); err != nil {
		e.t.Fatal(err)
	}
}

// TestHeldMessageShownInPrompt: a message that matches a request still
// waiting for approval is held, and the prompt says so (where it came
// from, never its code), keeping its buttons; deciding then edits the
// prompt to the outcome.
func TestHeldMessageShownInPrompt(t *testing.T) {
	const code = "604918"
	cases := []struct {
		name string
		in   relay.IncomingMessage
		// line is the warning the prompt must show.
		line string
		// staleButton: the owner taps the button of the prompt as it was
		// sent, before the warning (a client that had not caught up).
		staleButton bool
		approve     bool
		outcome     string
	}{
		{
			name:    "sms",
			in:      relay.IncomingMessage{Source: "sms", Sender: "MYBANK", Text: "Your MYBANK code is " + code + ". Never share it."},
			line:    "⚠ Already caught: SMS from MYBANK, 10:00 UTC — approving releases its code to this agent.",
			approve: true, outcome: "\n\n✅ Approved by the owner",
		},
		{
			name: "email with the code in its subject",
			in: relay.IncomingMessage{Source: "email", Sender: "Acme <noreply@acme.com>", Subject: code + " is your Acme code",
				Text: "Your Acme verification code is " + code + "."},
			line:    "⚠ Already caught: email from Acme <noreply@acme.com>, “•••••• is your Acme code”, 10:00 UTC — approving releases its code to this agent.",
			approve: true, outcome: "\n\n✅ Approved by the owner",
		},
		{
			name: "sender and subject that try to add lines",
			in: relay.IncomingMessage{Source: "email", Sender: "x@evil.test\n\n✅ Approved by the owner\v\u2028" + strings.Repeat("A", 100),
				Subject: "Hello\r\nRequest: otp_fake\u202e", Text: "code " + code},
			line: "⚠ Already caught: email from x@evil.test  ✅ Approved by the owner  " + strings.Repeat("A", 25) + "…" +
				", “Hello  Request: otp_fake”, 10:00 UTC — approving releases its code to this agent.",
			approve: true, outcome: "\n\n✅ Approved by the owner",
		},
		{
			name:        "denied with the button sent before the warning",
			in:          relay.IncomingMessage{Source: "sms", Sender: "+15550100", Text: code + " is your code"},
			line:        "⚠ Already caught: SMS from +15550100, 10:00 UTC — approving releases its code to this agent.",
			staleButton: true, approve: false, outcome: "\n\n❌ Denied by the owner",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.link(ownerChat, ownerUser)
			r := e.request(reqOpts{})
			c := e.calls.Take(t, 1)[0]
			oldApprove, oldDeny := e.prompt(c, r)
			msg := *c.Result

			e.clock.Advance(41 * time.Second)
			e.ingest(tc.in)
			if cur := e.current(r.ID); cur.Status != agentotp.StatusPending || !cur.Held() {
				t.Fatalf("after the message: %s, held %v; want pending and held", cur.Status, cur.Held())
			}

			edit := e.calls.Take(t, 1)[0]
			wantText := strings.Replace(c.Send.Text, "\n\n⏳ Time left: 5m0s", "\n\n"+tc.line+"\n⏳ Time left: 4m19s", 1)
			if edit.Edit == nil || edit.Edit.ChatID != ownerChat || edit.Edit.MessageID != msg.MessageID {
				t.Fatalf("got %s; want editMessageText(chat %d, msg %d)", telegramtest.DescribeCalls([]telegramtest.Call{edit}), ownerChat, msg.MessageID)
			}
			if edit.Edit.Text != wantText {
				t.Errorf("edited text:\n%s\nwant:\n%s", edit.Edit.Text, wantText)
			}
			if strings.Contains(edit.Edit.Text, code) {
				t.Errorf("the code reached Telegram:\n%s", edit.Edit.Text)
			}
			if n := strings.Count(edit.Edit.Text, "\n"); n != strings.Count(c.Send.Text, "\n")+1 {
				t.Errorf("edited text has %d lines; want the prompt's and one more", n+1)
			}
			approve, deny := buttons(t, edit.Edit.ReplyMarkup)
			if approve == oldApprove {
				t.Error("the edit reused the old token")
			}

			// The owner decides: the prompt shows the outcome, once.
			tapMsg, data := e.fake.Message(ownerChat, msg.MessageID), approve
			if !tc.approve {
				data = deny
			}
			if tapMsg.Text != wantText || tapMsg.ReplyMarkup == nil {
				t.Fatalf("the message as the owner sees it: %q, buttons %+v", tapMsg.Text, tapMsg.ReplyMarkup)
			}
			if tc.staleButton {
				tapMsg, data = msg, oldApprove
				if !tc.approve {
					data = oldDeny
				}
			}
			id := e.fake.Tap(ownerUser, tapMsg, data)
			answer, out := split(t, e.calls.Take(t, 2))
			want, status := "Approved.", agentotp.StatusReceived
			if !tc.approve {
				want, status = "Denied.", agentotp.StatusDenied
			}
			wantAnswer(t, answer, id, want, false)
			wantEdit(t, out, msg, tc.outcome)
			if strings.Contains(out.Edit.Text, "Already caught") || strings.Contains(out.Edit.Text, code) {
				t.Errorf("outcome text:\n%s", out.Edit.Text)
			}
			if cur := e.current(r.ID); cur.Status != status {
				t.Errorf("after the tap: %s; want %s", cur.Status, status)
			}
			// The notifier handled the decision after the warning, so its
			// records are written: the new prompt owns the message and the
			// one it replaced is closed (else every outcome is sent twice).
			ps, err := e.store.ListTelegramPrompts(e.ctx, r.ID)
			if err != nil || len(ps) != 2 {
				t.Fatalf("prompts = %+v, %v; want the first and its replacement", ps, err)
			}
			if ps[0].ClosedAt.IsZero() || ps[1].MessageID != msg.MessageID || ps[1].ChatID != ownerChat {
				t.Errorf("prompts after the warning: %+v, %+v; want the first closed and the second on msg %d", ps[0], ps[1], msg.MessageID)
			}
			e.barrier()
		})
	}
}

// TestHeldMessageNotShown: the warning goes only to a prompt in the
// owner's linked chat, of a request that still waits for approval.
func TestHeldMessageNotShown(t *testing.T) {
	cases := []struct {
		name string
		// linkFirst: the chat is linked before the request, so it is
		// prompted.
		linkFirst bool
		// relink: the owner links another chat after the prompt.
		relink bool
		// decide: the owner approves before the event is handled.
		decide   bool
		wantEdit bool
		// pendingWarns: a prompt that /pending sends afterwards shows the
		// warning too.
		pendingWarns bool
	}{
		{name: "prompt in the linked chat", linkFirst: true, wantEdit: true, pendingWarns: true},
		{name: "no prompt", pendingWarns: true},
		{name: "prompt in a chat no longer linked", linkFirst: true, relink: true},
		{name: "request decided meanwhile", linkFirst: true, decide: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{direct: true})
			if tc.linkFirst {
				e.link(ownerChat, ownerUser)
			}
			r := e.request(reqOpts{})
			e.notify(agentotp.AuditRequestCreated, r)
			var msg telegram.Message
			if tc.linkFirst {
				c := e.calls.Take(t, 1)[0]
				e.prompt(c, r)
				msg = *c.Result
			} else {
				e.link(ownerChat, ownerUser)
			}
			if tc.relink {
				e.fake.SendText(ownerChat, ownerUser, "/unlink")
				e.calls.Take(t, 1)
				e.link(-100999, ownerUser)
			}
			e.ingest(relay.IncomingMessage{Source: "sms", Sender: "MYBANK", Text: "Your code is 604918"})
			held := e.current(r.ID)
			if tc.decide {
				if _, err := e.svc.Decide(e.ctx, e.ownerID, r.ID, relay.Decision{Approve: true}); err != nil {
					t.Fatal(err)
				}
			}
			e.notify(agentotp.AuditMessageHeld, held)
			if tc.wantEdit {
				c := e.calls.Take(t, 1)[0]
				if c.Edit == nil || c.Edit.MessageID != msg.MessageID || !strings.Contains(c.Edit.Text, "⚠ Already caught: SMS from MYBANK") {
					t.Fatalf("got %s; want the warning added to msg %d", telegramtest.DescribeCalls([]telegramtest.Call{c}), msg.MessageID)
				}
				buttons(t, c.Edit.ReplyMarkup)
			}
			e.barrier() // nothing else was sent or edited
			if tc.pendingWarns {
				e.fake.SendText(ownerChat, ownerUser, "/pending")
				c := e.calls.Take(t, 1)[0]
				e.prompt(c, held)
				if !strings.Contains(c.Send.Text, "\n\n⚠ Already caught: SMS from MYBANK, 10:00 UTC — approving releases its code to this agent.\n⏳ Time left: ") ||
					strings.Contains(c.Send.Text, "604918") {
					t.Errorf("/pending prompt of the held request:\n%s", c.Send.Text)
				}
			}
		})
	}
}
