package telegram

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// EnrollRelay is what the bot needs of the relay for enrollments
// (relay.Service provides it).
type EnrollRelay interface {
	DecideEnrollment(ctx context.Context, ownerID, id string, d relay.EnrollDecision) (*relay.OwnerEnrollment, error)
	GetEnrollment(ctx context.Context, ownerID, id string) (*relay.OwnerEnrollment, error)
}

// EnrollPrompts is the store of the bot's enrollment prompts (the sqlite
// store provides it).
type EnrollPrompts interface {
	CreateEnrollmentPrompt(ctx context.Context, p *agentotp.TelegramPrompt) error
	SetEnrollmentPromptMessage(ctx context.Context, tokenHash []byte, messageID int64) error
	GetEnrollmentPrompt(ctx context.Context, tokenHash []byte) (*agentotp.TelegramPrompt, error)
	ListEnrollmentPrompts(ctx context.Context, enrollmentID string) ([]*agentotp.TelegramPrompt, error)
	CloseEnrollmentPrompt(ctx context.Context, tokenHash []byte, at time.Time) error
}

// enrollBot is the bot's enrollment part.
type enrollBot struct {
	svc     EnrollRelay
	prompts EnrollPrompts
}

// EnableEnrollments makes the bot prompt the owner for agents that
// enroll themselves, with Approve and Deny buttons. Register the bot with
// the service's AddEnrollmentNotifier too.
func (b *Bot) EnableEnrollments(svc EnrollRelay, prompts EnrollPrompts) {
	b.enroll.Store(&enrollBot{svc: svc, prompts: prompts})
}

// Enrollment buttons' callback data: "ea:TOKEN" (approve) and "ed:TOKEN"
// (deny), TOKEN like a request prompt's.
func enrollKeyboard(token string) *InlineKeyboardMarkup {
	return &InlineKeyboardMarkup{InlineKeyboard: [][]InlineKeyboardButton{{
		{Text: "✅ Approve", CallbackData: "ea:" + token},
		{Text: "❌ Deny", CallbackData: "ed:" + token},
	}}}
}

// enrollTokenHash is the stored form of an enrollment prompt's token.
func enrollTokenHash(token string) []byte { return hashToken("enroll:" + token) }

// isEnrollCallback reports whether data is meant for an enrollment prompt.
func isEnrollCallback(data string) bool { return strings.HasPrefix(data, "e") }

// NotifyEnrollment implements relay.EnrollmentNotifier: a new enrollment
// is sent to the owner's linked chat with Approve and Deny buttons; later
// changes edit those prompts to show the outcome, without buttons.
func (b *Bot) NotifyEnrollment(ctx context.Context, ev agentotp.EnrollmentChange) {
	eb := b.enroll.Load()
	if eb == nil {
		return
	}
	e := &ev.Enrollment
	switch ev.Action {
	case agentotp.AuditEnrollmentCreated:
		b.promptEnrollment(ctx, eb, e, ev.UserCode)
	case agentotp.AuditEnrollmentApproved, agentotp.AuditEnrollmentDenied, agentotp.AuditEnrollmentExpired, agentotp.AuditEnrollmentIssued:
		b.refreshEnrollment(ctx, eb, e)
	}
}

func (b *Bot) promptEnrollment(ctx context.Context, eb *enrollBot, e *agentotp.Enrollment, userCode string) {
	link, err := b.svc.TelegramLink(ctx, e.OwnerID)
	if agentotp.ErrorCode(err) == agentotp.ENotFound {
		return
	}
	if err != nil {
		b.log.ErrorContext(ctx, "telegram enrollment prompt: load link", "enrollment_id", e.ID, "err", err)
		return
	}
	token := newPromptToken()
	p := &agentotp.TelegramPrompt{TokenHash: enrollTokenHash(token), RequestID: e.ID, OwnerID: e.OwnerID, ChatID: link.ChatID, CreatedAt: b.cfg.Now()}
	if err := eb.prompts.CreateEnrollmentPrompt(ctx, p); err != nil {
		b.log.ErrorContext(ctx, "telegram enrollment prompt: store", "enrollment_id", e.ID, "err", err)
		return
	}
	m, err := b.send(ctx, link.ChatID, b.renderEnrollment(e, userCode), enrollKeyboard(token))
	if err != nil {
		b.log.WarnContext(ctx, "telegram enrollment prompt: sendMessage failed", "enrollment_id", e.ID, "err", err)
		return
	}
	if err := eb.prompts.SetEnrollmentPromptMessage(ctx, p.TokenHash, m.MessageID); err != nil {
		b.log.ErrorContext(ctx, "telegram enrollment prompt: record message", "enrollment_id", e.ID, "err", err)
	}
}

// refreshEnrollment edits the open prompts of e to show how it stands,
// without buttons (an enrollment is decided once).
func (b *Bot) refreshEnrollment(ctx context.Context, eb *enrollBot, e *agentotp.Enrollment) {
	ps, err := eb.prompts.ListEnrollmentPrompts(ctx, e.ID)
	if err != nil {
		b.log.ErrorContext(ctx, "telegram enrollment refresh: load prompts", "enrollment_id", e.ID, "err", err)
		return
	}
	code := ""
	if cur, err := eb.svc.GetEnrollment(ctx, e.OwnerID, e.ID); err == nil {
		code = cur.UserCode
	}
	text := b.renderEnrollment(e, code)
	for _, p := range ps {
		if !p.ClosedAt.IsZero() || p.MessageID == 0 {
			continue
		}
		if err := b.edit(ctx, p.ChatID, p.MessageID, text, nil); err != nil {
			b.log.WarnContext(ctx, "telegram editMessageText failed", "enrollment_id", e.ID, "err", err)
			continue
		}
		if e.Status.Final() {
			if err := eb.prompts.CloseEnrollmentPrompt(ctx, p.TokenHash, b.cfg.Now()); err != nil {
				b.log.ErrorContext(ctx, "telegram enrollment refresh: close prompt", "enrollment_id", e.ID, "err", err)
			}
		}
	}
}

// Bounds, in characters, of what an enrolling agent wrote.
const (
	maxEnrollName = 100
	maxEnrollDesc = 300
	maxEnrollUA   = 80
)

// renderEnrollment writes the prompt of an enrollment: who asks, with
// what code, from where, and the outcome once there is one. The agent's
// text is kept on one line each and cut.
func (b *Bot) renderEnrollment(e *agentotp.Enrollment, userCode string) string {
	var sb strings.Builder
	sb.WriteString("🤖 An agent asks for an API key\n\n")
	fmt.Fprintf(&sb, "Agent: %s\n", clip(e.Name, maxEnrollName))
	if d := clip(e.Description, maxEnrollDesc); d != "" {
		fmt.Fprintf(&sb, "Says: %s\n", d)
	}
	if userCode != "" {
		fmt.Fprintf(&sb, "Code: %s — approve only if the agent shows this code\n", userCode)
	}
	from := clip(e.ClientAddr, 64)
	if ua := clip(e.UserAgent, maxEnrollUA); ua != "" {
		from += " · " + ua
	}
	fmt.Fprintf(&sb, "From: %s\n", from)
	if e.Test {
		sb.WriteString("Asks for a test key.\n")
	}
	fmt.Fprintf(&sb, "Enrollment: %s\n\n", e.ID)
	switch e.Status {
	case agentotp.EnrollmentPending:
		fmt.Fprintf(&sb, "⏳ Time left: %s", timeLeft(b.cfg.Now(), e.ExpiresAt))
	case agentotp.EnrollmentApproved:
		sb.WriteString("✅ Approved — the agent receives its key at its next poll")
	case agentotp.EnrollmentIssued:
		fmt.Fprintf(&sb, "✅ Approved — key issued to agent %s", e.AgentID)
	case agentotp.EnrollmentDenied:
		sb.WriteString("❌ Denied")
	case agentotp.EnrollmentExpired:
		sb.WriteString("⌛ Expired — no key was issued")
	}
	return sb.String()
}

// parseEnrollCallback returns whether an enrollment button approves, and
// its token.
func parseEnrollCallback(data string) (approve bool, token string, ok bool) {
	rest, found := strings.CutPrefix(data, "e")
	if !found {
		return false, "", false
	}
	return parseCallbackData(rest)
}

// handleEnrollCallback handles a tap on an enrollment prompt's button.
// Like a request prompt's, it counts only in the owner's linked chat by
// the user who linked it, and goes through the relay's audited decision.
func (b *Bot) handleEnrollCallback(ctx context.Context, cq *CallbackQuery) {
	approve, token, ok := parseEnrollCallback(cq.Data)
	eb := b.enroll.Load()
	if !ok || cq.Message == nil || eb == nil {
		b.log.WarnContext(ctx, "telegram enrollment callback with invalid data refused", "from", cq.From.ID)
		b.answer(ctx, cq.ID, msgInvalidButton, true)
		return
	}
	prompt, err := eb.prompts.GetEnrollmentPrompt(ctx, enrollTokenHash(token))
	if errors.Is(err, agentotp.ErrNotFound) {
		b.log.WarnContext(ctx, "telegram enrollment callback with unknown token refused", "from", cq.From.ID, "chat_id", cq.Message.Chat.ID)
		b.answer(ctx, cq.ID, msgInvalidButton, true)
		return
	}
	if err != nil {
		b.log.ErrorContext(ctx, "telegram enrollment callback: load prompt", "err", err)
		b.answer(ctx, cq.ID, "Something went wrong; try again.", false)
		return
	}
	link, err := b.svc.TelegramLink(ctx, prompt.OwnerID)
	if err != nil || link.ChatID != cq.Message.Chat.ID || link.UserID != cq.From.ID || prompt.ChatID != cq.Message.Chat.ID {
		b.log.WarnContext(ctx, "telegram enrollment callback from outside the owner's linked chat refused",
			"enrollment_id", prompt.RequestID, "from", cq.From.ID, "chat_id", cq.Message.Chat.ID)
		b.answer(ctx, cq.ID, "Only the owner's linked chat can decide this enrollment.", true)
		return
	}
	e, err := eb.svc.DecideEnrollment(ctx, prompt.OwnerID, prompt.RequestID, relay.EnrollDecision{Approve: approve, Via: relay.ViaTelegram})
	if err != nil {
		var de *agentotp.Error
		if !errors.As(err, &de) {
			b.log.ErrorContext(ctx, "telegram enrollment decision failed", "enrollment_id", prompt.RequestID, "err", err)
			b.answer(ctx, cq.ID, "Something went wrong; try again.", false)
			return
		}
		cur, gerr := eb.svc.GetEnrollment(ctx, prompt.OwnerID, prompt.RequestID)
		if gerr != nil {
			b.answer(ctx, cq.ID, "This enrollment can no longer be decided.", true)
			return
		}
		b.answer(ctx, cq.ID, "Not changed: the enrollment is already "+string(cur.Status)+".", true)
		b.refreshEnrollment(ctx, eb, cur.Enrollment)
		return
	}
	if approve {
		b.answer(ctx, cq.ID, "Approved: the agent gets its key at its next poll.", false)
	} else {
		b.answer(ctx, cq.ID, "Denied.", false)
	}
	b.log.InfoContext(ctx, "telegram enrollment decision", "enrollment_id", e.ID, "approved", approve)
}
