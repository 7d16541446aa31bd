package telegram_test

import (
	"strings"
	"testing"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/telegram"
	"github.com/agentotp/agentotp/telegram/telegramtest"
)

// enrollEnv is env with the bot's enrollment prompts on.
func newEnrollEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, envOptions{})
	e.svc.ConfigureEnrollment(relay.EnrollConfig{Interval: 1})
	e.bot.EnableEnrollments(e.svc, e.store)
	e.svc.AddEnrollmentNotifier(e.ctx, e.bot)
	return e
}

func (e *env) startEnrollment(name, description string) *relay.NewEnrollment {
	e.t.Helper()
	ne, err := e.svc.StartEnrollment(e.ctx, relay.EnrollInput{Name: name, Description: description, ClientAddr: "198.51.100.4", UserAgent: "agentotp-go"})
	if err != nil {
		e.t.Fatal(err)
	}
	return ne
}

// enrollPrompt checks that c prompts the owner for ne and returns its
// message and Approve and Deny callback data.
func (e *env) enrollPrompt(c telegramtest.Call, ne *relay.NewEnrollment) (telegram.Message, string, string) {
	e.t.Helper()
	if c.Send == nil || c.Send.ChatID != ownerChat {
		e.t.Fatalf("want an enrollment prompt to chat %d; got %s", ownerChat, telegramtest.DescribeCalls([]telegramtest.Call{c}))
	}
	kb := c.Send.ReplyMarkup
	if kb == nil || len(kb.InlineKeyboard) != 1 || len(kb.InlineKeyboard[0]) != 2 {
		e.t.Fatalf("keyboard %+v", kb)
	}
	a, d := kb.InlineKeyboard[0][0].CallbackData, kb.InlineKeyboard[0][1].CallbackData
	if !strings.HasPrefix(a, "ea:") || !strings.HasPrefix(d, "ed:") || a[3:] != d[3:] || len(a) != 25 {
		e.t.Errorf("callback data %q, %q; want ea:TOKEN and ed:TOKEN", a, d)
	}
	if strings.Contains(a, strings.TrimPrefix(ne.Enrollment.ID, "enr_")) || strings.Contains(a, ne.UserCode) {
		e.t.Errorf("callback data %q reveals the enrollment", a)
	}
	return *c.Result, a, d
}

func TestEnrollmentPromptApprove(t *testing.T) {
	e := newEnrollEnv(t)
	e.link(ownerChat, ownerUser)
	ne := e.startEnrollment("laptop-claude", "Claude Desktop on the laptop")
	c := e.calls.Take(t, 1)[0]
	msg, approve, _ := e.enrollPrompt(c, ne)
	want := "🤖 An agent asks for an API key\n\n" +
		"Agent: laptop-claude\n" +
		"Says: Claude Desktop on the laptop\n" +
		"Code: " + ne.UserCode + " — approve only if the agent shows this code\n" +
		"From: 198.51.100.4 · agentotp-go\n" +
		"Enrollment: " + ne.Enrollment.ID + "\n\n" +
		"⏳ Time left: 10m0s"
	if c.Send.Text != want {
		t.Errorf("prompt:\n%s\nwant:\n%s", c.Send.Text, want)
	}

	refusals := []struct {
		name   string
		user   int64
		msg    telegram.Message
		data   string
		answer string
	}{
		{"another user in the chat", strangerID, msg, approve, "Only the owner's linked chat can decide this enrollment."},
		{"another chat", strangerID, withChat(msg, strangerID), approve, "Only the owner's linked chat can decide this enrollment."},
		{"forged token", ownerUser, msg, "ea:AAAAAAAAAAAAAAAAAAAAAA", "This button is not valid."},
		{"a request's verb", ownerUser, msg, "a:" + approve[3:], "This button is not valid."},
		{"unknown verb", ownerUser, msg, "ex:" + approve[3:], "This button is not valid."},
		{"the enrollment id", ownerUser, msg, "ea:" + ne.Enrollment.ID, "This button is not valid."},
		{"bare e", ownerUser, msg, "e", "This button is not valid."},
	}
	for _, rf := range refusals {
		id := e.fake.Tap(rf.user, rf.msg, rf.data)
		wantAnswer(t, e.calls.Take(t, 1)[0], id, rf.answer, true)
		if cur, _ := e.svc.GetEnrollment(e.ctx, e.ownerID, ne.Enrollment.ID); cur.Status != agentotp.EnrollmentPending || cur.Version != 0 {
			t.Fatalf("%s changed the enrollment: %s", rf.name, cur.Status)
		}
	}

	id := e.fake.Tap(ownerUser, msg, approve)
	answer, edit := split(t, e.calls.Take(t, 2))
	wantAnswer(t, answer, id, "Approved: the agent gets its key at its next poll.", false)
	wantEdit(t, edit, msg, "✅ Approved — the agent receives its key at its next poll")
	es, _ := e.svc.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: e.ownerID, Action: agentotp.AuditEnrollmentApproved})
	if len(es) != 1 || es[0].Actor != agentotp.ActorOwner || es[0].Details["via"] != relay.ViaTelegram {
		t.Errorf("audit of the tap: %+v", es)
	}

	key, err := e.svc.PollEnrollment(e.ctx, ne.DeviceCode, 0)
	if err != nil {
		t.Fatalf("poll after the tap: %v", err)
	}
	wantEdit(t, e.calls.Take(t, 1)[0], msg, "✅ Approved — key issued to agent "+key.Agent.ID)

	// A later tap on the old button changes nothing.
	id = e.fake.Tap(ownerUser, msg, approve)
	cs := e.calls.Take(t, 1)
	wantAnswer(t, cs[0], id, "Not changed: the enrollment is already issued.", true)
	if strings.Contains(e.logs.String(), ne.DeviceCode) || strings.Contains(e.logs.String(), key.APIKey) {
		t.Error("the log holds the device code or the key")
	}
}

func TestEnrollmentPromptDenyAndOutcomes(t *testing.T) {
	e := newEnrollEnv(t)
	e.link(ownerChat, ownerUser)

	denied := e.startEnrollment("stranger", "")
	msg, _, deny := e.enrollPrompt(e.calls.Take(t, 1)[0], denied)
	if strings.Contains(e.fake.Message(ownerChat, msg.MessageID).Text, "Says:") {
		t.Error("an empty description is shown")
	}
	id := e.fake.Tap(ownerUser, msg, deny)
	answer, edit := split(t, e.calls.Take(t, 2))
	wantAnswer(t, answer, id, "Denied.", false)
	wantEdit(t, edit, msg, "❌ Denied")
	if _, err := e.svc.PollEnrollment(e.ctx, denied.DeviceCode, 0); agentotp.ErrorCode(err) != agentotp.EAccessDenied {
		t.Errorf("poll after a denial by tap: %v", err)
	}

	// Decided elsewhere (the owner API): the prompt follows.
	elsewhere := e.startEnrollment("build-runner", "CI")
	msg2, approve2, _ := e.enrollPrompt(e.calls.Take(t, 1)[0], elsewhere)
	if _, err := e.svc.DecideEnrollment(e.ctx, e.ownerID, elsewhere.Enrollment.ID, relay.EnrollDecision{}); err != nil {
		t.Fatal(err)
	}
	wantEdit(t, e.calls.Take(t, 1)[0], msg2, "❌ Denied")
	id = e.fake.Tap(ownerUser, msg2, approve2)
	wantAnswer(t, e.calls.Take(t, 1)[0], id, "Not changed: the enrollment is already denied.", true)

	// Nobody decides: it expires, denied by default.
	late := e.startEnrollment("forgotten", "")
	msg3, _, _ := e.enrollPrompt(e.calls.Take(t, 1)[0], late)
	e.clock.Advance(agentotp.DefaultEnrollmentTTL)
	if n, err := e.svc.SweepEnrollments(e.ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	wantEdit(t, e.calls.Take(t, 1)[0], msg3, "⌛ Expired — no key was issued")
}

// TestEnrollmentPromptUnlinked: without a linked chat nothing is sent.
func TestEnrollmentPromptUnlinked(t *testing.T) {
	e := newEnrollEnv(t)
	e.startEnrollment("quiet", "")
	e.link(ownerChat, ownerUser) // the link's reply is the only call
	if n := e.fake.CallCount(); n != 1 {
		t.Errorf("%d Bot API calls; want only the /link reply", n)
	}
}
