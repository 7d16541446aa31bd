package agentotp

import (
	"context"
	"time"
)

// Audit actions of the Telegram link.
const (
	AuditTelegramLinkCode = "telegram.link_code_created"
	AuditTelegramLinked   = "telegram.linked"
	AuditTelegramUnlinked = "telegram.unlinked"
)

// TelegramLinkCodeTTL is how long a link code stays valid.
const TelegramLinkCodeTTL = 10 * time.Minute

// TelegramLink binds an owner to one Telegram chat: approval prompts go
// there, and only taps in that chat by that user count.
type TelegramLink struct {
	OwnerID  string
	ChatID   int64
	UserID   int64 // the Telegram user who linked the chat
	Username string
	LinkedAt time.Time
}

// TelegramLinkCode is an owner's one-time link code, kept as its SHA-256
// hash only.
type TelegramLinkCode struct {
	OwnerID   string
	CodeHash  []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TelegramPrompt is an approval prompt the bot sent: the hash of the
// opaque token in its buttons' callback data, the request it stands for,
// and the message to edit when the request changes.
type TelegramPrompt struct {
	TokenHash []byte
	RequestID string
	OwnerID   string
	ChatID    int64
	MessageID int64 // 0 until Telegram confirmed the message
	CreatedAt time.Time
	ClosedAt  time.Time // set once the request is final, or when a newer prompt record (fresh buttons) replaced this one
}

// TelegramStore keeps the Telegram bot's state. It is part of Store.
type TelegramStore interface {
	// SaveTelegramLinkCode stores the owner's link code, replacing any
	// earlier one.
	SaveTelegramLinkCode(ctx context.Context, c *TelegramLinkCode, audit ...AuditEntry) error
	// ListTelegramLinkCodes returns every link code that is still valid
	// at now.
	ListTelegramLinkCodes(ctx context.Context, now time.Time) ([]*TelegramLinkCode, error)
	// LinkTelegramChat uses up the owner's link code whose hash is
	// codeHash and stores link, replacing the owner's earlier link. A
	// code that is gone (used, replaced) is ErrNotFound; a chat linked to
	// another owner is ErrConflict. Either way nothing changes.
	LinkTelegramChat(ctx context.Context, link *TelegramLink, codeHash []byte, audit ...AuditEntry) error
	// GetTelegramLink returns the owner's link.
	GetTelegramLink(ctx context.Context, ownerID string) (*TelegramLink, error)
	// GetTelegramLinkByChat returns the link of a chat.
	GetTelegramLinkByChat(ctx context.Context, chatID int64) (*TelegramLink, error)
	// UnlinkTelegramChat removes the owner's link (ErrNotFound if none).
	UnlinkTelegramChat(ctx context.Context, ownerID string, audit ...AuditEntry) error

	// CreateTelegramPrompt stores a prompt about to be sent.
	CreateTelegramPrompt(ctx context.Context, p *TelegramPrompt) error
	// SetTelegramPromptMessage records the message id Telegram gave the
	// prompt.
	SetTelegramPromptMessage(ctx context.Context, tokenHash []byte, messageID int64) error
	// GetTelegramPrompt returns the prompt whose token hashes to tokenHash.
	GetTelegramPrompt(ctx context.Context, tokenHash []byte) (*TelegramPrompt, error)
	// ListTelegramPrompts returns the prompts of a request, oldest first.
	ListTelegramPrompts(ctx context.Context, requestID string) ([]*TelegramPrompt, error)
	// CloseTelegramPrompt marks a prompt closed at at.
	CloseTelegramPrompt(ctx context.Context, tokenHash []byte, at time.Time) error
}
