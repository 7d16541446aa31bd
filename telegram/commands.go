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

const helpText = `agentotp relay bot

Requests of your AI agents for a verification code arrive here with Approve and Deny buttons.

/link CODE — link this chat to your relay (get CODE with "agentotp owner telegram-link"; it is valid 10 minutes and works once)
/pending — show the requests waiting for your approval
/unlink — stop sending requests to this chat
/help — this text`

const msgNotLinked = "This chat is not linked. Run \"agentotp owner telegram-link\" and send /link CODE here."

// command splits "/cmd@bot arg" into "cmd" and "arg".
func command(text string) (cmd, arg string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	head, rest, _ := strings.Cut(strings.TrimSpace(text[1:]), " ")
	head, _, _ = strings.Cut(head, "@")
	return strings.ToLower(head), strings.TrimSpace(rest), true
}

func (b *Bot) handleMessage(ctx context.Context, m *Message) {
	if m.From == nil || m.From.IsBot {
		return
	}
	cmd, arg, ok := command(m.Text)
	if !ok {
		if m.Chat.Type == "private" {
			b.reply(ctx, m.Chat.ID, "Send /help for the commands.")
		}
		return
	}
	switch cmd {
	case "start", "help":
		b.reply(ctx, m.Chat.ID, helpText)
	case "link":
		b.link(ctx, m, arg)
	case "unlink":
		b.unlink(ctx, m)
	case "pending":
		b.pending(ctx, m)
	default:
		if m.Chat.Type == "private" {
			b.reply(ctx, m.Chat.ID, "Unknown command. Send /help for the commands.")
		}
	}
}

// allowLinkAttempt reports whether the chat may try another /link, and
// records the attempt when failed is set.
func (b *Bot) allowLinkAttempt(chatID int64, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	recent := b.failures[chatID][:0]
	for _, t := range b.failures[chatID] {
		if now.Sub(t) < linkWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(b.failures, chatID)
	} else {
		b.failures[chatID] = recent
	}
	return len(recent) < linkAttempts
}

func (b *Bot) recordLinkFailure(chatID int64, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.failures) >= maxTrackedChats {
		for id, ts := range b.failures {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= linkWindow {
				delete(b.failures, id)
			}
		}
	}
	if _, ok := b.failures[chatID]; !ok && len(b.failures) >= maxTrackedChats {
		return // the table is full of chats that are failing right now
	}
	b.failures[chatID] = append(b.failures[chatID], now)
}

func (b *Bot) link(ctx context.Context, m *Message, code string) {
	now := b.cfg.Now()
	if !b.allowLinkAttempt(m.Chat.ID, now) {
		b.reply(ctx, m.Chat.ID, "Too many wrong codes. Wait a few minutes, then get a new code.")
		return
	}
	if code == "" {
		b.reply(ctx, m.Chat.ID, "Send /link CODE, with the code from \"agentotp owner telegram-link\".")
		return
	}
	link, err := b.svc.LinkTelegram(ctx, code, relay.TelegramChat{ChatID: m.Chat.ID, UserID: m.From.ID, Username: m.From.Username})
	switch {
	case errors.Is(err, relay.ErrBadLinkCode):
		b.recordLinkFailure(m.Chat.ID, now)
		b.log.WarnContext(ctx, "telegram /link with a wrong code", "chat_id", m.Chat.ID)
		b.reply(ctx, m.Chat.ID, "That code is unknown, used or expired. Get a new one with \"agentotp owner telegram-link\".")
		return
	case agentotp.ErrorCode(err) == agentotp.EConflict:
		b.reply(ctx, m.Chat.ID, "This chat is already linked to another relay owner. Send /unlink first.")
		return
	case err != nil:
		b.log.ErrorContext(ctx, "telegram /link failed", "err", err)
		b.reply(ctx, m.Chat.ID, "Linking failed; try again.")
		return
	}
	b.reply(ctx, m.Chat.ID, fmt.Sprintf("Linked ✅ Requests that need your approval will arrive here. Only taps by you (user %d) in this chat count.", link.UserID))
}

// ownerLink returns the link of the chat m came from, if the sender is
// the user who linked it.
func (b *Bot) ownerLink(ctx context.Context, m *Message) *agentotp.TelegramLink {
	link, err := b.svc.TelegramLinkByChat(ctx, m.Chat.ID)
	if err != nil || link.UserID != m.From.ID {
		if err != nil && agentotp.ErrorCode(err) != agentotp.ENotFound {
			b.log.ErrorContext(ctx, "telegram: load link", "err", err)
		}
		return nil
	}
	return link
}

func (b *Bot) unlink(ctx context.Context, m *Message) {
	link := b.ownerLink(ctx, m)
	if link == nil {
		b.reply(ctx, m.Chat.ID, msgNotLinked)
		return
	}
	if err := b.svc.UnlinkTelegram(ctx, link.OwnerID, "telegram"); err != nil && agentotp.ErrorCode(err) != agentotp.ENotFound {
		b.log.ErrorContext(ctx, "telegram /unlink failed", "err", err)
		b.reply(ctx, m.Chat.ID, "Unlinking failed; try again.")
		return
	}
	b.reply(ctx, m.Chat.ID, "Unlinked. No more requests will be sent here, and old buttons no longer work.")
}

func (b *Bot) pending(ctx context.Context, m *Message) {
	link := b.ownerLink(ctx, m)
	if link == nil {
		b.reply(ctx, m.Chat.ID, msgNotLinked)
		return
	}
	rs, _, err := b.svc.ListRequests(ctx, agentotp.RequestQuery{OwnerID: link.OwnerID, Status: agentotp.StatusPending, Limit: maxPendingShown})
	if err != nil {
		b.log.ErrorContext(ctx, "telegram /pending failed", "err", err)
		b.reply(ctx, m.Chat.ID, "Listing failed; try again.")
		return
	}
	now := b.cfg.Now()
	live := rs[:0]
	for _, r := range rs {
		if !r.ExpiredAt(now) {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		b.reply(ctx, m.Chat.ID, "No requests are waiting for your approval.")
		return
	}
	for _, r := range live {
		b.prompt(ctx, r, link.ChatID)
	}
}
