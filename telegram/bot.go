// Package telegram is the agentotp Telegram bot: the owner links a chat
// with a one-time code, each request that needs approval arrives there
// with Approve and Deny buttons, and the message is edited when a message
// is caught and held for the request (to warn that approving releases its
// code), and when the request is decided, expires, is cancelled or
// consumed.
//
// The bot long-polls getUpdates, so the relay needs no public URL. Button
// callback data holds an opaque random token that the store maps to the
// request (only its hash is stored); a tap counts only in the owner's
// linked chat by the user who linked it, and goes through the relay's
// audited Decide like any other owner decision.
package telegram

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// DefaultAPIURL is Telegram's Bot API server.
const DefaultAPIURL = "https://api.telegram.org"

// Config configures a Bot.
type Config struct {
	// Token is the bot token from @BotFather. It is never logged.
	Token string
	// APIURL is the Bot API server; empty means DefaultAPIURL.
	APIURL string
	// PollTimeout is getUpdates' long-poll timeout (default 30 s).
	PollTimeout time.Duration
	// CallTimeout bounds every other Bot API call (default 10 s).
	CallTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed getUpdates
	// (defaults 1 s and 60 s); the wait doubles per failure, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// HTTPClient makes the calls; nil means a client with sane timeouts.
	HTTPClient *http.Client
	// Logger receives the bot's logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means the service's clock.
	Now func() time.Time
	// PasskeyOnly takes the Approve button away: a tap cannot carry the
	// owner's passkey signature, so approving needs the request's page,
	// where the passkey signs the decision. Without it, a tap approves
	// unsigned (the decision's statement says so, and edges in strict mode
	// refuse to seal for it). Deny stays a tap either way.
	PasskeyOnly bool
}

// Limits.
const (
	// maxPendingShown bounds the prompts /pending sends.
	maxPendingShown = 10
	// linkAttempts failed /link attempts are allowed per chat per
	// linkWindow.
	linkAttempts = 5
	linkWindow   = 10 * time.Minute
	// maxTrackedChats bounds the failed-attempt table.
	maxTrackedChats = 10000
)

// Relay is what the bot needs of the relay service (relay.Service
// provides it): the owner's decisions, requests and Telegram link.
type Relay interface {
	Now() time.Time
	ApprovalURL(id string) string
	Decide(ctx context.Context, ownerID, id string, d relay.Decision) (*agentotp.Request, error)
	OwnerRequest(ctx context.Context, ownerID, id string) (*agentotp.Request, error)
	ListRequests(ctx context.Context, q agentotp.RequestQuery) ([]*agentotp.Request, string, error)
	OwnerAgent(ctx context.Context, ownerID, id string) (*agentotp.Agent, error)
	TelegramLink(ctx context.Context, ownerID string) (*agentotp.TelegramLink, error)
	TelegramLinkByChat(ctx context.Context, chatID int64) (*agentotp.TelegramLink, error)
	LinkTelegram(ctx context.Context, code string, chat relay.TelegramChat) (*agentotp.TelegramLink, error)
	UnlinkTelegram(ctx context.Context, ownerID, via string) error
}

// Prompts is the bot's own part of the store: the prompts it sent.
type Prompts interface {
	CreateTelegramPrompt(ctx context.Context, p *agentotp.TelegramPrompt) error
	SetTelegramPromptMessage(ctx context.Context, tokenHash []byte, messageID int64) error
	GetTelegramPrompt(ctx context.Context, tokenHash []byte) (*agentotp.TelegramPrompt, error)
	ListTelegramPrompts(ctx context.Context, requestID string) ([]*agentotp.TelegramPrompt, error)
	CloseTelegramPrompt(ctx context.Context, tokenHash []byte, at time.Time) error
}

// Bot is the Telegram bot. Register it with the service's AddNotifier
// before the service runs, and run Bot.Run for the updates.
type Bot struct {
	svc   Relay
	store Prompts
	api   *client
	cfg   Config
	log   *slog.Logger

	mu       sync.Mutex
	failures map[int64][]time.Time // failed /link attempts per chat
	offset   int64

	enroll atomic.Pointer[enrollBot] // enrollment prompts, once EnableEnrollments ran (enroll.go)
	state  atomic.Value              // PollerState: the update loop's state
}

// Poller states, as PollerState reports them.
const (
	PollerPolling  = "polling"  // getUpdates answers
	PollerRetrying = "retrying" // getUpdates failed; backing off
	PollerConflict = "conflict" // 409: a webhook is set or another process polls
	PollerStopped  = "stopped"  // Run has not started or has returned
)

// PollerState returns the state of the update loop: PollerPolling,
// PollerRetrying, PollerConflict or PollerStopped.
func (b *Bot) PollerState() string {
	if v, ok := b.state.Load().(string); ok {
		return v
	}
	return PollerStopped
}

// New returns a bot over the relay service and its prompt store.
func New(svc Relay, prompts Prompts, cfg Config) (*Bot, error) {
	if cfg.Token == "" {
		return nil, errors.New("telegram: a bot token is required")
	}
	if strings.ContainsAny(cfg.Token, "/?#% \t\r\n") {
		return nil, errors.New("telegram: the bot token holds characters a token cannot have")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if !strings.HasPrefix(cfg.APIURL, "https://") && !strings.HasPrefix(cfg.APIURL, "http://") {
		return nil, fmt.Errorf("telegram: the API URL must be http(s), not %q", cfg.APIURL)
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 30 * time.Second
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(60*time.Second, cfg.MinBackoff)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.PollTimeout + 15*time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
		}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = svc.Now
	}
	return &Bot{
		svc: svc, store: prompts, api: newClient(cfg.APIURL, cfg.Token, cfg.HTTPClient),
		cfg: cfg, log: cfg.Logger.With("component", "telegram"), failures: map[int64][]time.Time{},
	}, nil
}

// Run long-polls getUpdates and handles each update until ctx ends. After
// a failed call it waits with exponential backoff (or Telegram's
// retry_after). It returns ctx's error.
func (b *Bot) Run(ctx context.Context) error {
	backoff := b.cfg.MinBackoff
	b.state.Store(PollerPolling)
	defer b.state.Store(PollerStopped)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		updates, err := b.getUpdates(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait := jitter(backoff)
			var ae *APIError
			if errors.As(err, &ae) {
				if ae.RetryAfter > 0 {
					wait = ae.RetryAfter
				}
				if ae.Code == http.StatusConflict {
					b.log.ErrorContext(ctx, "getUpdates refused: a webhook is set or another process polls with this token", "err", err)
				}
			}
			if ae != nil && ae.Code == http.StatusConflict {
				b.state.Store(PollerConflict)
			} else {
				b.state.Store(PollerRetrying)
			}
			b.log.WarnContext(ctx, "telegram getUpdates failed; retrying", "err", err, "wait", wait.String())
			backoff = min(backoff*2, b.cfg.MaxBackoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		backoff = b.cfg.MinBackoff
		b.state.Store(PollerPolling)
		for _, u := range updates {
			b.setOffset(u.UpdateID + 1)
			b.handleUpdate(ctx, u)
		}
	}
}

// jitter returns d scaled by a random factor in [0.5, 1.0].
func jitter(d time.Duration) time.Duration {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d/2)+1))
	if err != nil {
		return d
	}
	return d/2 + time.Duration(n.Int64())
}

func (b *Bot) setOffset(o int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o > b.offset {
		b.offset = o
	}
}

// getUpdates makes one long-poll call. The updates it returns are
// confirmed by the next call's offset.
func (b *Bot) getUpdates(ctx context.Context) ([]Update, error) {
	b.mu.Lock()
	offset := b.offset
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PollTimeout+15*time.Second)
	defer cancel()
	var updates []Update
	err := b.api.call(ctx, "getUpdates", GetUpdatesParams{
		Offset: offset, Limit: 100, Timeout: int(b.cfg.PollTimeout / time.Second),
		AllowedUpdates: []string{"message", "callback_query"},
	}, &updates)
	return updates, err
}

// call makes one Bot API call bounded by CallTimeout.
func (b *Bot) call(ctx context.Context, method string, params, out any) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	return b.api.call(ctx, method, params, out)
}

// send sends a plain-text message (no parse mode: text from agents is
// shown as written, never as markup).
func (b *Bot) send(ctx context.Context, chatID int64, text string, kb *InlineKeyboardMarkup) (*Message, error) {
	var m Message
	err := b.call(ctx, "sendMessage", SendMessageParams{ChatID: chatID, Text: text, ReplyMarkup: kb,
		LinkPreviewOptions: &LinkPreviewOptions{IsDisabled: true}}, &m)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// reply sends text and logs a failure.
func (b *Bot) reply(ctx context.Context, chatID int64, text string) {
	if _, err := b.send(ctx, chatID, text, nil); err != nil {
		b.log.WarnContext(ctx, "telegram sendMessage failed", "chat_id", chatID, "err", err)
	}
}

// answer answers a callback query and logs a failure.
func (b *Bot) answer(ctx context.Context, id, text string, alert bool) {
	if err := b.call(ctx, "answerCallbackQuery", AnswerCallbackQueryParams{CallbackQueryID: id, Text: text, ShowAlert: alert}, nil); err != nil {
		b.log.WarnContext(ctx, "telegram answerCallbackQuery failed", "err", err)
	}
}

// edit replaces a message's text and its buttons with kb; a nil kb
// removes the buttons (Telegram drops them from an edit that does not
// repeat them, so kb is always sent).
func (b *Bot) edit(ctx context.Context, chatID, messageID int64, text string, kb *InlineKeyboardMarkup) error {
	if kb == nil {
		kb = &InlineKeyboardMarkup{InlineKeyboard: [][]InlineKeyboardButton{}}
	}
	err := b.call(ctx, "editMessageText", EditMessageTextParams{ChatID: chatID, MessageID: messageID, Text: text,
		ReplyMarkup: kb}, nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == http.StatusBadRequest && strings.Contains(ae.Description, "message is not modified") {
		return nil
	}
	return err
}

func (b *Bot) handleUpdate(ctx context.Context, u Update) {
	defer func() {
		if v := recover(); v != nil {
			b.log.ErrorContext(ctx, "telegram update handler panicked", "update_id", u.UpdateID, "panic", v)
		}
	}()
	switch {
	case u.CallbackQuery != nil:
		b.handleCallback(ctx, u.CallbackQuery)
	case u.Message != nil:
		b.handleMessage(ctx, u.Message)
	}
}

// Callback data is "a:TOKEN" (approve) or "d:TOKEN" (deny); TOKEN is 22
// base62 characters mapped server-side to the request.
const tokenLen = 22

func newPromptToken() string { return strings.TrimPrefix(agentotp.NewID("x"), "x") }

// promptKeyboard returns the buttons of the prompt for request id whose
// token is token: Approve (unless PasskeyOnly) and Deny, and, when the
// relay's page is reachable over https, a button that opens it to approve
// with a passkey.
func (b *Bot) promptKeyboard(token, id string) *InlineKeyboardMarkup {
	row := []InlineKeyboardButton{{Text: "✅ Approve", CallbackData: "a:" + token}, {Text: "❌ Deny", CallbackData: "d:" + token}}
	if b.cfg.PasskeyOnly {
		row = row[1:]
	}
	kb := &InlineKeyboardMarkup{InlineKeyboard: [][]InlineKeyboardButton{row}}
	if u := b.svc.ApprovalURL(id); strings.HasPrefix(u, "https://") {
		kb.InlineKeyboard = append(kb.InlineKeyboard, []InlineKeyboardButton{{Text: "🔐 Approve with passkey", URL: u}})
	}
	return kb
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte("agentotp/telegram-prompt/v1:" + token))
	return h[:]
}

// parseCallbackData returns whether the button approves, and its token.
func parseCallbackData(data string) (approve bool, token string, ok bool) {
	action, token, found := strings.Cut(data, ":")
	if !found || len(token) != tokenLen || (action != "a" && action != "d") {
		return false, "", false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false, "", false
		}
	}
	return action == "a", token, true
}

// Answers to taps that change nothing.
const (
	msgInvalidButton = "This button is not valid."
	msgNotYourChat   = "Only the owner's linked chat can decide this request."
)

func (b *Bot) handleCallback(ctx context.Context, cq *CallbackQuery) {
	if isEnrollCallback(cq.Data) {
		b.handleEnrollCallback(ctx, cq) // enroll.go
		return
	}
	approve, token, ok := parseCallbackData(cq.Data)
	if !ok || cq.Message == nil {
		b.log.WarnContext(ctx, "telegram callback with invalid data refused", "from", cq.From.ID)
		b.answer(ctx, cq.ID, msgInvalidButton, true)
		return
	}
	prompt, err := b.store.GetTelegramPrompt(ctx, hashToken(token))
	if errors.Is(err, agentotp.ErrNotFound) {
		b.log.WarnContext(ctx, "telegram callback with unknown token refused", "from", cq.From.ID, "chat_id", cq.Message.Chat.ID)
		b.answer(ctx, cq.ID, msgInvalidButton, true)
		return
	}
	if err != nil {
		b.log.ErrorContext(ctx, "telegram callback: load prompt", "err", err)
		b.answer(ctx, cq.ID, "Something went wrong; try again.", false)
		return
	}
	link, err := b.svc.TelegramLink(ctx, prompt.OwnerID)
	if err != nil || link.ChatID != cq.Message.Chat.ID || link.UserID != cq.From.ID || prompt.ChatID != cq.Message.Chat.ID {
		b.log.WarnContext(ctx, "telegram callback from outside the owner's linked chat refused",
			"request_id", prompt.RequestID, "from", cq.From.ID, "chat_id", cq.Message.Chat.ID)
		b.answer(ctx, cq.ID, msgNotYourChat, true)
		return
	}
	if approve && b.cfg.PasskeyOnly {
		b.answer(ctx, cq.ID, "Approving needs your passkey: open the request's page.", true)
		return
	}
	// The same audited decision as the owner API's, by the owner.
	r, err := b.svc.Decide(ctx, prompt.OwnerID, prompt.RequestID, relay.Decision{Approve: approve, Via: relay.ViaTelegram})
	if err != nil {
		var de *agentotp.Error
		if !errors.As(err, &de) {
			b.log.ErrorContext(ctx, "telegram decision failed", "request_id", prompt.RequestID, "err", err)
			b.answer(ctx, cq.ID, "Something went wrong; try again.", false)
			return
		}
		// Already decided, expired, cancelled: show how it stands.
		cur, gerr := b.svc.OwnerRequest(ctx, prompt.OwnerID, prompt.RequestID)
		if gerr != nil {
			b.answer(ctx, cq.ID, "This request can no longer be decided.", true)
			return
		}
		// Refresh before answering: once answered, the owner (or a test)
		// may change the request again, and this edit, made from the state
		// read above, must not land after the edit of a newer change.
		if cur.Status != agentotp.StatusPending {
			b.refresh(ctx, cur, "")
		}
		b.answer(ctx, cq.ID, "Not changed: the request is already "+statusWords(cur.Status)+".", true)
		return
	}
	if approve {
		b.answer(ctx, cq.ID, "Approved.", false)
	} else {
		b.answer(ctx, cq.ID, "Denied.", false)
	}
	b.log.InfoContext(ctx, "telegram decision", "request_id", r.ID, "approved", approve)
}

// statusWords describes a status in a few words.
func statusWords(s agentotp.Status) string {
	switch s {
	case agentotp.StatusPending:
		return "waiting for approval"
	case agentotp.StatusApproved:
		return "approved"
	case agentotp.StatusReceived:
		return "approved, code received"
	case agentotp.StatusConsumed:
		return "approved, code delivered"
	case agentotp.StatusDenied:
		return "denied"
	case agentotp.StatusExpired:
		return "expired"
	case agentotp.StatusCancelled:
		return "cancelled"
	}
	return string(s)
}

// Notify implements the relay's Notifier: it sends a prompt for each new request
// that waits for approval, adds a warning to the prompts of a pending
// request once a message is held for it, and edits the prompts of a
// request that was decided, expired, cancelled or consumed. Every call is
// bounded by CallTimeout, on the notifier's own goroutine.
func (b *Bot) Notify(ctx context.Context, ev agentotp.RequestChange) {
	r := &ev.Request
	switch ev.Action {
	case agentotp.AuditRequestCreated:
		if r.Status == agentotp.StatusPending && !r.Test {
			b.prompt(ctx, r, 0)
		}
	case agentotp.AuditMessageHeld:
		// The event's copy has no ciphertext (Held is false there); the
		// status and the metadata say a message is held.
		if r.Status == agentotp.StatusPending && r.Metadata != nil {
			b.showHeld(ctx, r)
		}
	case agentotp.AuditRequestApproved, agentotp.AuditRequestDenied, agentotp.AuditRequestExpired,
		agentotp.AuditRequestCancelled, agentotp.AuditRequestConsumed:
		b.refresh(ctx, r, ev.Actor)
	}
}

// prompt sends the approval prompt of r to its owner's linked chat (or to
// chatID, when not zero, which must be that chat).
func (b *Bot) prompt(ctx context.Context, r *agentotp.Request, chatID int64) {
	link, err := b.svc.TelegramLink(ctx, r.OwnerID)
	if agentotp.ErrorCode(err) == agentotp.ENotFound {
		return
	}
	if err != nil {
		b.log.ErrorContext(ctx, "telegram prompt: load link", "request_id", r.ID, "err", err)
		return
	}
	if chatID != 0 && chatID != link.ChatID {
		return
	}
	token := newPromptToken()
	p := &agentotp.TelegramPrompt{TokenHash: hashToken(token), RequestID: r.ID, OwnerID: r.OwnerID, ChatID: link.ChatID, CreatedAt: b.cfg.Now()}
	if err := b.store.CreateTelegramPrompt(ctx, p); err != nil {
		b.log.ErrorContext(ctx, "telegram prompt: store", "request_id", r.ID, "err", err)
		return
	}
	m, err := b.send(ctx, link.ChatID, b.render(ctx, r, ""), b.promptKeyboard(token, r.ID))
	if err != nil {
		b.log.WarnContext(ctx, "telegram prompt: sendMessage failed", "request_id", r.ID, "err", err)
		return
	}
	if err := b.store.SetTelegramPromptMessage(ctx, p.TokenHash, m.MessageID); err != nil {
		b.log.ErrorContext(ctx, "telegram prompt: record message", "request_id", r.ID, "err", err)
	}
}

// refresh edits every open prompt of r to show its status, without
// buttons; prompts of a final request are closed.
func (b *Bot) refresh(ctx context.Context, r *agentotp.Request, actor string) {
	ps, err := b.store.ListTelegramPrompts(ctx, r.ID)
	if err != nil {
		b.log.ErrorContext(ctx, "telegram refresh: load prompts", "request_id", r.ID, "err", err)
		return
	}
	text := b.render(ctx, r, actor)
	for _, p := range ps {
		if !p.ClosedAt.IsZero() || p.MessageID == 0 {
			continue
		}
		if err := b.edit(ctx, p.ChatID, p.MessageID, text, nil); err != nil {
			b.log.WarnContext(ctx, "telegram editMessageText failed", "request_id", r.ID, "err", err)
			continue
		}
		if r.Status.Final() {
			if err := b.store.CloseTelegramPrompt(ctx, p.TokenHash, b.cfg.Now()); err != nil {
				b.log.ErrorContext(ctx, "telegram refresh: close prompt", "request_id", r.ID, "err", err)
			}
		}
	}
}

// showHeld edits the open prompts of r in its owner's linked chat to add
// the held-message warning (see heldLine), keeping the Approve and Deny
// buttons. r comes from a request.message_held event; the request is read
// again so that a request decided meanwhile keeps its outcome and gets
// no buttons back. Prompts in a chat that is no longer linked are left
// alone: the metadata of a new message is not sent there.
//
// Only the hash of a prompt's token is stored, so the buttons cannot be
// sent again as they were: each edited prompt gets a new token, stored
// before the edit so that a tap on the new buttons always finds it. Once
// the message carries the new buttons, the new prompt owns the message
// and the old one is closed, so outcome edits are made once. An old
// button still in a client's view stays valid, as it was.
func (b *Bot) showHeld(ctx context.Context, r *agentotp.Request) {
	cur, err := b.svc.OwnerRequest(ctx, r.OwnerID, r.ID)
	if err != nil {
		b.log.ErrorContext(ctx, "telegram held message: load request", "request_id", r.ID, "err", err)
		return
	}
	if cur.Status != agentotp.StatusPending || cur.Metadata == nil || cur.ExpiredAt(b.cfg.Now()) {
		return
	}
	link, err := b.svc.TelegramLink(ctx, cur.OwnerID)
	if agentotp.ErrorCode(err) == agentotp.ENotFound {
		return
	}
	if err != nil {
		b.log.ErrorContext(ctx, "telegram held message: load link", "request_id", cur.ID, "err", err)
		return
	}
	ps, err := b.store.ListTelegramPrompts(ctx, cur.ID)
	if err != nil {
		b.log.ErrorContext(ctx, "telegram held message: load prompts", "request_id", cur.ID, "err", err)
		return
	}
	text := b.render(ctx, cur, "")
	for _, p := range ps {
		if !p.ClosedAt.IsZero() || p.MessageID == 0 || p.ChatID != link.ChatID {
			continue
		}
		token := newPromptToken()
		np := &agentotp.TelegramPrompt{TokenHash: hashToken(token), RequestID: cur.ID, OwnerID: cur.OwnerID, ChatID: p.ChatID, CreatedAt: b.cfg.Now()}
		if err := b.store.CreateTelegramPrompt(ctx, np); err != nil {
			b.log.ErrorContext(ctx, "telegram held message: store prompt", "request_id", cur.ID, "err", err)
			continue
		}
		if err := b.edit(ctx, p.ChatID, p.MessageID, text, b.promptKeyboard(token, cur.ID)); err != nil {
			// The message keeps its old buttons; the new prompt, with no
			// message, is never edited.
			b.log.WarnContext(ctx, "telegram editMessageText failed", "request_id", cur.ID, "err", err)
			continue
		}
		if err := b.store.SetTelegramPromptMessage(ctx, np.TokenHash, p.MessageID); err != nil {
			b.log.ErrorContext(ctx, "telegram held message: record message", "request_id", cur.ID, "err", err)
			continue
		}
		if err := b.store.CloseTelegramPrompt(ctx, p.TokenHash, b.cfg.Now()); err != nil {
			b.log.ErrorContext(ctx, "telegram held message: close replaced prompt", "request_id", cur.ID, "err", err)
		}
	}
}

// Bounds of message metadata in the held-message warning, in characters.
const (
	maxHeldSender  = 64
	maxHeldSubject = 80
	maxHeldSource  = 16
)

// heldLine returns the warning a prompt shows while a message caught for
// the request is held: where it came from and when, never its text or
// code (the relay masks the code in the subject it stores). Sender and
// subject are written by whoever sent the message, so they are kept on
// one line and cut to a bounded length.
func heldLine(md *agentotp.MessageMetadata) string {
	var sb strings.Builder
	sb.WriteString("⚠ Already caught: ")
	sb.WriteString(clip(sourceWord(md.Source), maxHeldSource))
	if s := clip(md.Sender, maxHeldSender); s != "" {
		sb.WriteString(" from " + s)
	}
	if s := clip(md.Subject, maxHeldSubject); s != "" {
		sb.WriteString(", “" + s + "”")
	}
	if !md.ReceivedAt.IsZero() {
		sb.WriteString(", " + md.ReceivedAt.UTC().Format("15:04 UTC"))
	}
	sb.WriteString(" — approving releases its code to this agent.")
	return sb.String()
}

// clip keeps untrusted text on one line (oneLine), trims it and cuts it
// to at most n characters, marking a cut with "…".
func clip(s string, n int) string {
	s = strings.TrimSpace(oneLine(strings.ToValidUTF8(s, "\uFFFD")))
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return strings.TrimSpace(string(rs[:n-1])) + "…"
}

// shortFingerprint keeps the head of a key fingerprint: enough to notice
// a swapped key.
func shortFingerprint(fp string) string {
	alg, sum, ok := strings.Cut(fp, ":")
	if !ok || len(sum) <= 16 {
		return fp
	}
	return alg + ":" + sum[:16] + "…"
}

// timeLeft formats the time until t, in whole seconds.
func timeLeft(now, t time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "none"
	}
	return d.String()
}

// render writes the prompt text of r: what the owner needs to decide, and
// the outcome once there is one. actor, when set, says who changed it.
func (b *Bot) render(ctx context.Context, r *agentotp.Request, actor string) string {
	agentName := r.AgentID
	if a, err := b.svc.OwnerAgent(ctx, r.OwnerID, r.AgentID); err == nil {
		agentName = a.Name + " (" + a.ID + ")"
	}
	var sb strings.Builder
	sb.WriteString("🔐 Verification code request\n\n")
	fmt.Fprintf(&sb, "Agent: %s\n", agentName)
	fmt.Fprintf(&sb, "Reason: %s\n", oneLine(r.Reason))
	if r.ExpectedSender != "" {
		fmt.Fprintf(&sb, "Expected sender: %s\n", oneLine(r.ExpectedSender))
	} else {
		sb.WriteString("Expected sender: (not given)\n")
	}
	fmt.Fprintf(&sb, "Sources: %s\n", sourcesWords(r.Filter.Sources))
	fmt.Fprintf(&sb, "Filter: %s\n", oneLine(r.Filter.Describe()))
	fmt.Fprintf(&sb, "Key: %s (%s)\n", shortFingerprint(r.KeyFingerprint), r.Encryption)
	if r.IncludeMessage {
		sb.WriteString("Asks for the full message text too.\n")
	}
	fmt.Fprintf(&sb, "Request: %s\n", r.ID)
	sb.WriteString("\n")
	if r.Status == agentotp.StatusPending && r.Metadata != nil {
		sb.WriteString(heldLine(r.Metadata) + "\n")
	}
	switch r.Status {
	case agentotp.StatusPending:
		fmt.Fprintf(&sb, "⏳ Time left: %s", timeLeft(b.cfg.Now(), r.ExpiresAt))
	case agentotp.StatusApproved, agentotp.StatusReceived:
		fmt.Fprintf(&sb, "✅ Approved by %s", decider(r.DecidedBy))
	case agentotp.StatusConsumed:
		fmt.Fprintf(&sb, "✅ Approved by %s — code delivered to the agent", decider(r.DecidedBy))
	case agentotp.StatusDenied:
		fmt.Fprintf(&sb, "❌ Denied by %s", decider(r.DecidedBy))
		if r.DenyReason != "" {
			fmt.Fprintf(&sb, ": %s", oneLine(r.DenyReason))
		}
	case agentotp.StatusExpired:
		sb.WriteString("⌛ Expired")
	case agentotp.StatusCancelled:
		sb.WriteString("🚫 Cancelled by the agent")
	}
	return sb.String()
}

func decider(by string) string {
	switch {
	case by == agentotp.DecidedByOwner:
		return "the owner"
	case strings.HasPrefix(by, "policy:"):
		return "policy " + strings.TrimPrefix(by, "policy:")
	case by == "":
		return "the owner"
	}
	return by
}

func sourcesWords(sources []agentotp.Channel) string {
	if len(sources) == 0 {
		return "SMS or email"
	}
	words := make([]string, len(sources))
	for i, s := range sources {
		words[i] = sourceWord(s)
	}
	return strings.Join(words, " or ")
}

// sourceWord names one message source.
func sourceWord(s agentotp.Channel) string {
	if s == agentotp.ChannelSMS {
		return "SMS"
	}
	return string(s)
}

// oneLine keeps agent- or sender-supplied text on one line, so it cannot
// fake lines of the prompt (such as an outcome): every control character
// (line feeds, vertical tabs, form feeds, NEL…) and the line and
// paragraph separators become spaces, and the bidirectional controls,
// which could make the rest of a line read backwards, are dropped.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\u2028', r == '\u2029', unicode.IsControl(r):
			return ' '
		case unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
}
