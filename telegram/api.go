package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The Bot API objects the bot reads and writes, with Telegram's JSON
// names (https://core.telegram.org/bots/api). Fields the bot does not use
// are left out; decoding ignores them.

// Update is one incoming update of getUpdates.
type Update struct {
	UpdateID      int64          `json:"update_id"`
	Message       *Message       `json:"message,omitempty"`
	CallbackQuery *CallbackQuery `json:"callback_query,omitempty"`
}

// User is a Telegram user or bot.
type User struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	Username  string `json:"username,omitempty"`
}

// Chat is a private chat, group or channel.
type Chat struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"` // private, group, supergroup, channel
	Title    string `json:"title,omitempty"`
	Username string `json:"username,omitempty"`
}

// Message is a chat message.
type Message struct {
	MessageID   int64                 `json:"message_id"`
	From        *User                 `json:"from,omitempty"`
	Chat        Chat                  `json:"chat"`
	Date        int64                 `json:"date"`
	Text        string                `json:"text,omitempty"`
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// CallbackQuery is a tap on an inline keyboard button.
type CallbackQuery struct {
	ID           string   `json:"id"`
	From         User     `json:"from"`
	Message      *Message `json:"message,omitempty"`
	ChatInstance string   `json:"chat_instance"`
	Data         string   `json:"data,omitempty"`
}

// InlineKeyboardMarkup is the inline keyboard under a message.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// InlineKeyboardButton is one button of an inline keyboard.
type InlineKeyboardButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	// URL opens a page instead of sending a callback (exactly one of the
	// two is set).
	URL string `json:"url,omitempty"`
}

// Parameters of the methods the bot calls.

// GetUpdatesParams are the parameters of getUpdates.
type GetUpdatesParams struct {
	Offset         int64    `json:"offset,omitempty"`
	Limit          int      `json:"limit,omitempty"`
	Timeout        int      `json:"timeout"`
	AllowedUpdates []string `json:"allowed_updates"`
}

// SendMessageParams are the parameters of sendMessage.
type SendMessageParams struct {
	ChatID             int64                 `json:"chat_id"`
	Text               string                `json:"text"`
	ReplyMarkup        *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	LinkPreviewOptions *LinkPreviewOptions   `json:"link_preview_options,omitempty"`
}

// LinkPreviewOptions controls link previews of a message.
type LinkPreviewOptions struct {
	IsDisabled bool `json:"is_disabled"`
}

// EditMessageTextParams are the parameters of editMessageText. An empty
// inline keyboard removes the buttons.
type EditMessageTextParams struct {
	ChatID      int64                 `json:"chat_id"`
	MessageID   int64                 `json:"message_id"`
	Text        string                `json:"text"`
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// AnswerCallbackQueryParams are the parameters of answerCallbackQuery.
type AnswerCallbackQueryParams struct {
	CallbackQueryID string `json:"callback_query_id"`
	Text            string `json:"text,omitempty"`
	ShowAlert       bool   `json:"show_alert,omitempty"`
}

// response is the envelope of every Bot API answer.
type response struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// APIError is a Bot API refusal ({"ok":false,…}).
type APIError struct {
	Method      string
	Code        int // error_code, usually the HTTP status
	Description string
	RetryAfter  time.Duration // set for 429
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
}

// maxResponse bounds a Bot API response body.
const maxResponse = 4 << 20

// client calls the Bot API. The bot token is part of every URL; errors
// never include the URL, so the token cannot reach a log.
type client struct {
	base string // https://api.telegram.org/bot<token>/
	http *http.Client
}

func newClient(apiURL, token string, hc *http.Client) *client {
	return &client{base: strings.TrimRight(apiURL, "/") + "/bot" + token + "/", http: hc}
}

// call POSTs params as JSON to method and decodes the result into out
// (which may be nil).
func (c *client) call(ctx context.Context, method string, params, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: encode: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, scrub(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, scrub(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("telegram %s: read response: %w", method, scrub(err))
	}
	if len(raw) > maxResponse {
		return fmt.Errorf("telegram %s: response larger than %d bytes", method, maxResponse)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return &APIError{Method: method, Code: resp.StatusCode, Description: "response is not Bot API JSON"}
	}
	if !r.OK {
		e := &APIError{Method: method, Code: r.ErrorCode, Description: truncate(r.Description, 200)}
		if e.Code == 0 {
			e.Code = resp.StatusCode
		}
		if r.Parameters != nil && r.Parameters.RetryAfter > 0 {
			e.RetryAfter = time.Duration(r.Parameters.RetryAfter) * time.Second
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			return fmt.Errorf("telegram %s: decode result: %w", method, err)
		}
	}
	return nil
}

// scrub drops the URL (which holds the token) from an HTTP client error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
