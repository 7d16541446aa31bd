// Package telegramtest is a fake Telegram Bot API server for tests: it
// runs on loopback, implements the methods the bot uses (getUpdates,
// sendMessage, editMessageText, answerCallbackQuery) with Telegram's JSON
// shapes, lets a test play the user (messages, button taps) and records
// every call the bot makes.
package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp/telegram"
)

// Server is a Bot API server on loopback that implements the methods
// the bot uses (getUpdates, sendMessage, editMessageText,
// answerCallbackQuery) with Telegram's JSON shapes and checks: the token
// in the path, a JSON body with only known parameters, Telegram's limits
// (text ≤ 4096 characters, callback_data ≤ 64 bytes), edits of messages
// that exist, answers to callback queries that were issued, once.
type Server struct {
	t     testing.TB
	token string
	srv   *httptest.Server
	bot   telegram.User

	mu         sync.Mutex
	queue      []telegram.Update
	nextUpdate int64
	nextMsg    int64
	nextCQ     int
	messages   map[[2]int64]*telegram.Message // by chat and message id
	openCQ     map[string]bool                // issued, unanswered callback queries
	calls      []Call                         // every call but getUpdates, in order
	polls      []telegram.GetUpdatesParams
	wake       chan struct{} // closed when an update is queued
	callAdded  chan struct{} // closed when a call is recorded
	// failNext makes the next n calls of a method fail with the given
	// status and body (a Telegram error object).
	failNext map[string][]failure
	// hold, when set for a method, makes its calls wait until the channel
	// is closed (or the client goes away).
	hold map[string]chan struct{}
}

type failure struct {
	status int
	body   string
}

// Call is one call the bot made, with its decoded parameters.
type Call struct {
	Method string
	Send   *telegram.SendMessageParams
	Edit   *telegram.EditMessageTextParams
	Answer *telegram.AnswerCallbackQueryParams
	Result *telegram.Message // the message sendMessage or editMessageText returned
}

// NewServer starts a fake Bot API server; it stops when the test ends.
func NewServer(t testing.TB) *Server {
	f := &Server{
		t: t, token: "123456789:AAFakeTokenForTestsOnly-abcdefghijk",
		bot:      telegram.User{ID: 123456789, IsBot: true, FirstName: "agentotp", Username: "agentotp_test_bot"},
		messages: map[[2]int64]*telegram.Message{}, openCQ: map[string]bool{},
		nextUpdate: 1000, nextMsg: 1,
		wake: make(chan struct{}), callAdded: make(chan struct{}),
		failNext: map[string][]failure{}, hold: map[string]chan struct{}{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func writeTG(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func tgError(w http.ResponseWriter, status int, desc string) {
	writeTG(w, status, map[string]any{"ok": false, "error_code": status, "description": desc})
}

func tgOK(w http.ResponseWriter, result any) {
	writeTG(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+f.token+"/")
	if !ok {
		tgError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		tgError(w, http.StatusBadRequest, "Bad Request: want a POST with a JSON body")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	if fs := f.failNext[method]; len(fs) > 0 {
		f.failNext[method] = fs[1:]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fs[0].status)
		io.WriteString(w, fs[0].body)
		return
	}
	hold := f.hold[method]
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	switch method {
	case "getUpdates":
		f.getUpdates(w, r, body)
	case "sendMessage":
		var p telegram.SendMessageParams
		if err := decodeStrict(body, &p); err != nil {
			tgError(w, http.StatusBadRequest, "Bad Request: "+err.Error())
			return
		}
		f.sendMessage(w, &p)
	case "editMessageText":
		var p telegram.EditMessageTextParams
		if err := decodeStrict(body, &p); err != nil {
			tgError(w, http.StatusBadRequest, "Bad Request: "+err.Error())
			return
		}
		f.editMessageText(w, &p)
	case "answerCallbackQuery":
		var p telegram.AnswerCallbackQueryParams
		if err := decodeStrict(body, &p); err != nil {
			tgError(w, http.StatusBadRequest, "Bad Request: "+err.Error())
			return
		}
		f.answerCallbackQuery(w, &p)
	default:
		tgError(w, http.StatusNotFound, "Not Found: method not found")
	}
}

func (f *Server) getUpdates(w http.ResponseWriter, r *http.Request, body []byte) {
	var p telegram.GetUpdatesParams
	if err := decodeStrict(body, &p); err != nil {
		tgError(w, http.StatusBadRequest, "Bad Request: "+err.Error())
		return
	}
	deadline := time.NewTimer(time.Duration(p.Timeout) * time.Second)
	defer deadline.Stop()
	f.mu.Lock()
	f.polls = append(f.polls, p)
	f.mu.Unlock()
	for {
		f.mu.Lock()
		// Updates below the offset are confirmed: Telegram forgets them.
		kept := f.queue[:0]
		for _, u := range f.queue {
			if u.UpdateID >= p.Offset {
				kept = append(kept, u)
			}
		}
		f.queue = kept
		if len(f.queue) > 0 || p.Timeout == 0 {
			n := len(f.queue)
			if p.Limit > 0 && n > p.Limit {
				n = p.Limit
			}
			out := append([]telegram.Update{}, f.queue[:n]...)
			f.mu.Unlock()
			tgOK(w, out)
			return
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			tgOK(w, []telegram.Update{})
			return
		case <-r.Context().Done():
			return
		}
	}
}

// record appends a call and wakes waiters; f.mu must be held.
func (f *Server) record(c Call) {
	f.calls = append(f.calls, c)
	close(f.callAdded)
	f.callAdded = make(chan struct{})
}

func checkKeyboard(kb *telegram.InlineKeyboardMarkup) string {
	if kb == nil {
		return ""
	}
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			if b.Text == "" {
				return "Bad Request: text buttons are unallowed in the inline keyboard"
			}
			switch {
			case b.URL != "" && b.CallbackData != "":
				return "Bad Request: can't parse inline keyboard button: exactly one of the optional fields must be used"
			case b.URL != "":
				// The Bot API takes http(s) and tg:// links, and refuses
				// links to hosts no user could reach.
				u, err := url.Parse(b.URL)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "tg") || u.Hostname() == "localhost" || net.ParseIP(u.Hostname()) != nil {
					return "Bad Request: BUTTON_URL_INVALID"
				}
			case len(b.CallbackData) > 64 || len(b.CallbackData) == 0:
				return "Bad Request: BUTTON_DATA_INVALID"
			}
		}
	}
	return ""
}

func (f *Server) sendMessage(w http.ResponseWriter, p *telegram.SendMessageParams) {
	if p.ChatID == 0 {
		tgError(w, http.StatusBadRequest, "Bad Request: chat not found")
		return
	}
	if p.Text == "" || utf8.RuneCountInString(p.Text) > 4096 {
		tgError(w, http.StatusBadRequest, "Bad Request: message text is empty or too long")
		return
	}
	if msg := checkKeyboard(p.ReplyMarkup); msg != "" {
		tgError(w, http.StatusBadRequest, msg)
		return
	}
	f.mu.Lock()
	id := f.nextMsg
	f.nextMsg++
	typ := "private"
	if p.ChatID < 0 {
		typ = "group"
	}
	from := f.bot
	m := &telegram.Message{MessageID: id, From: &from, Chat: telegram.Chat{ID: p.ChatID, Type: typ}, Date: time.Now().Unix(), Text: p.Text, ReplyMarkup: p.ReplyMarkup}
	f.messages[[2]int64{p.ChatID, id}] = m
	res := *m
	f.record(Call{Method: "sendMessage", Send: p, Result: &res})
	f.mu.Unlock()
	tgOK(w, res)
}

func sameMarkup(a, b *telegram.InlineKeyboardMarkup) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	empty := func(j []byte) bool { return string(j) == "null" || string(j) == `{"inline_keyboard":[]}` }
	return string(ja) == string(jb) || empty(ja) && empty(jb)
}

func (f *Server) editMessageText(w http.ResponseWriter, p *telegram.EditMessageTextParams) {
	if msg := checkKeyboard(p.ReplyMarkup); msg != "" {
		tgError(w, http.StatusBadRequest, msg)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[[2]int64{p.ChatID, p.MessageID}]
	if !ok {
		tgError(w, http.StatusBadRequest, "Bad Request: message to edit not found")
		return
	}
	if m.Text == p.Text && sameMarkup(m.ReplyMarkup, p.ReplyMarkup) {
		tgError(w, http.StatusBadRequest, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
		return
	}
	m.Text = p.Text
	m.ReplyMarkup = p.ReplyMarkup
	if p.ReplyMarkup != nil && len(p.ReplyMarkup.InlineKeyboard) == 0 {
		m.ReplyMarkup = nil
	}
	res := *m
	f.record(Call{Method: "editMessageText", Edit: p, Result: &res})
	writeTG(w, http.StatusOK, map[string]any{"ok": true, "result": res})
}

func (f *Server) answerCallbackQuery(w http.ResponseWriter, p *telegram.AnswerCallbackQueryParams) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.openCQ[p.CallbackQueryID] {
		tgError(w, http.StatusBadRequest, "Bad Request: query is too old and response timeout expired or query ID is invalid")
		return
	}
	delete(f.openCQ, p.CallbackQueryID)
	f.record(Call{Method: "answerCallbackQuery", Answer: p})
	tgOK(w, true)
}

// Push queues an update and wakes a waiting getUpdates.
func (f *Server) Push(u telegram.Update) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextUpdate++
	u.UpdateID = f.nextUpdate
	f.queue = append(f.queue, u)
	close(f.wake)
	f.wake = make(chan struct{})
}

func chatOf(chatID, userID int64) telegram.Chat {
	if chatID == userID {
		return telegram.Chat{ID: chatID, Type: "private", Username: fmt.Sprintf("user%d", userID)}
	}
	return telegram.Chat{ID: chatID, Type: "group", Title: "a group"}
}

func userOf(id int64) telegram.User {
	return telegram.User{ID: id, FirstName: fmt.Sprintf("User %d", id), Username: fmt.Sprintf("user%d", id)}
}

// SendText queues a text message from user in chat.
func (f *Server) SendText(chatID, userID int64, text string) {
	u := userOf(userID)
	f.mu.Lock()
	f.nextMsg++
	id := f.nextMsg
	f.mu.Unlock()
	f.Push(telegram.Update{Message: &telegram.Message{MessageID: id, From: &u, Chat: chatOf(chatID, userID), Date: time.Now().Unix(), Text: text}})
}

// Tap queues a callback query: user taps a button with data under the
// message msg (as the user's client shows it) and returns the query id.
func (f *Server) Tap(userID int64, msg telegram.Message, data string) string {
	f.mu.Lock()
	f.nextCQ++
	id := fmt.Sprintf("cq%d", f.nextCQ)
	f.openCQ[id] = true
	f.mu.Unlock()
	m := msg
	f.Push(telegram.Update{CallbackQuery: &telegram.CallbackQuery{ID: id, From: userOf(userID), Message: &m,
		ChatInstance: fmt.Sprintf("ci%d", msg.Chat.ID), Data: data}})
	return id
}

// FailNext makes the next n calls of method fail.
func (f *Server) FailNext(method string, n, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failNext[method] = append(f.failNext[method], failure{status, body})
	}
}

// Hold makes calls of method wait until release is called.
func (f *Server) Hold(method string) (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.hold[method] = ch
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.hold, method)
			f.mu.Unlock()
			close(ch)
		})
	}
}

// Polls returns the parameters of every getUpdates call served so far.
func (f *Server) Polls() []telegram.GetUpdatesParams {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]telegram.GetUpdatesParams(nil), f.polls...)
}

// Message returns the fake's current copy of a message.
func (f *Server) Message(chatID, id int64) telegram.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[[2]int64{chatID, id}]
	if !ok {
		f.t.Fatalf("no message %d in chat %d", id, chatID)
	}
	return *m
}

// Cursor reads the fake's recorded calls in order.
type Cursor struct {
	f    *Server
	next int
}

// Take waits for the next n calls and returns them. It fails the test if
// they do not come within a generous deadline (a hang guard, not a timing
// assertion).
func (c *Cursor) Take(t testing.TB, n int) []Call {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.f.mu.Lock()
		if len(c.f.calls) >= c.next+n {
			out := append([]Call(nil), c.f.calls[c.next:c.next+n]...)
			c.next += n
			c.f.mu.Unlock()
			return out
		}
		got := append([]Call(nil), c.f.calls[c.next:]...)
		added := c.f.callAdded
		c.f.mu.Unlock()
		select {
		case <-added:
		case <-deadline:
			t.Fatalf("waited for %d Bot API calls; got %d: %s", n, len(got), DescribeCalls(got))
		}
	}
}

// DescribeCalls renders calls for a test failure message.
func DescribeCalls(cs []Call) string {
	var parts []string
	for _, c := range cs {
		switch {
		case c.Send != nil:
			parts = append(parts, fmt.Sprintf("sendMessage(chat %d, %q)", c.Send.ChatID, c.Send.Text))
		case c.Edit != nil:
			parts = append(parts, fmt.Sprintf("editMessageText(chat %d, msg %d, %q)", c.Edit.ChatID, c.Edit.MessageID, c.Edit.Text))
		case c.Answer != nil:
			parts = append(parts, fmt.Sprintf("answerCallbackQuery(%s, %q)", c.Answer.CallbackQueryID, c.Answer.Text))
		default:
			parts = append(parts, c.Method)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Token is the bot token the fake accepts.
func (f *Server) Token() string { return f.token }

// URL is the fake's base URL, the bot's API URL.
func (f *Server) URL() string { return f.srv.URL }

// Cursor returns a cursor at the first recorded call.
func (f *Server) Cursor() *Cursor { return &Cursor{f: f} }

// CallCount returns how many calls (other than getUpdates) were recorded.
func (f *Server) CallCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}
