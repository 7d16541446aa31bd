package relay

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
)

// linkCodeAlphabet has no 0/O or 1/I, so a code read off a screen is
// typed right; 32 symbols give 5 bits each.
const linkCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// linkCodeLen is the number of symbols of a link code: 60 bits.
const linkCodeLen = 12

// newLinkCode returns a random link code formatted XXXX-XXXX-XXXX.
func newLinkCode() string {
	b := make([]byte, linkCodeLen)
	rand.Read(b) // never fails
	var sb strings.Builder
	for i, v := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(linkCodeAlphabet[v%32]) // 256 is a multiple of 32: uniform
	}
	return sb.String()
}

// normalizeLinkCode upper-cases a typed code and drops separators.
func normalizeLinkCode(code string) string {
	var sb strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
		case r < 0x80:
			sb.WriteRune(r)
		default:
			return "" // never a valid code
		}
	}
	return sb.String()
}

func hashLinkCode(code string) []byte {
	h := sha256.Sum256([]byte("agentotp/telegram-link/v1:" + normalizeLinkCode(code)))
	return h[:]
}

// TelegramLinkCode is a fresh one-time code for linking a chat.
type TelegramLinkCode struct {
	Code      string
	ExpiresAt time.Time
}

// NewTelegramLinkCode makes a one-time code, valid for
// agentotp.TelegramLinkCodeTTL, that links a Telegram chat to the owner
// when sent to the bot as "/link CODE". It replaces the owner's earlier
// code. Only its hash is stored.
func (s *Service) NewTelegramLinkCode(ctx context.Context, ownerID string) (*TelegramLinkCode, error) {
	now := s.Now()
	code := newLinkCode()
	c := &agentotp.TelegramLinkCode{OwnerID: ownerID, CodeHash: hashLinkCode(code), CreatedAt: now, ExpiresAt: now.Add(agentotp.TelegramLinkCodeTTL)}
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditTelegramLinkCode, now)
	e.Details = map[string]string{"expires_at": c.ExpiresAt.Format(time.RFC3339)}
	if err := s.store.SaveTelegramLinkCode(ctx, c, e); err != nil {
		return nil, fmt.Errorf("new telegram link code: %w", err)
	}
	s.log.InfoContext(ctx, "telegram link code created", "owner_id", ownerID)
	return &TelegramLinkCode{Code: code, ExpiresAt: c.ExpiresAt}, nil
}

// TelegramChat describes the chat and user that sent /link.
type TelegramChat struct {
	ChatID   int64
	UserID   int64
	Username string
}

// ErrBadLinkCode is returned for a link code that is unknown, used or
// expired.
var ErrBadLinkCode = agentotp.Errorf(agentotp.EValidation, "the link code is unknown, used or expired")

// LinkTelegram binds the chat to the owner whose live link code is code.
// Every live code is compared in constant time; a code works once.
func (s *Service) LinkTelegram(ctx context.Context, code string, chat TelegramChat) (*agentotp.TelegramLink, error) {
	if len(code) > 64 {
		return nil, ErrBadLinkCode
	}
	now := s.Now()
	codes, err := s.store.ListTelegramLinkCodes(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("link telegram: %w", err)
	}
	want := hashLinkCode(code)
	var found *agentotp.TelegramLinkCode
	for _, c := range codes {
		if subtle.ConstantTimeCompare(c.CodeHash, want) == 1 && found == nil {
			found = c
		}
	}
	if found == nil || normalizeLinkCode(code) == "" {
		return nil, ErrBadLinkCode
	}
	link := &agentotp.TelegramLink{OwnerID: found.OwnerID, ChatID: chat.ChatID, UserID: chat.UserID, Username: chat.Username, LinkedAt: now}
	e := s.audit(found.OwnerID, agentotp.ActorOwner, agentotp.AuditTelegramLinked, now)
	e.Details = map[string]string{"chat_id": strconv.FormatInt(chat.ChatID, 10), "user_id": strconv.FormatInt(chat.UserID, 10)}
	if chat.Username != "" {
		e.Details["username"] = chat.Username
	}
	err = s.store.LinkTelegramChat(ctx, link, found.CodeHash, e)
	switch {
	case errors.Is(err, agentotp.ErrNotFound):
		return nil, ErrBadLinkCode // used meanwhile
	case errors.Is(err, agentotp.ErrConflict):
		return nil, agentotp.Errorf(agentotp.EConflict, "this chat is linked to another owner; send /unlink there first")
	case err != nil:
		return nil, fmt.Errorf("link telegram: %w", err)
	}
	s.log.InfoContext(ctx, "telegram chat linked", "owner_id", found.OwnerID, "chat_id", chat.ChatID)
	return link, nil
}

var errNotLinked = agentotp.Errorf(agentotp.ENotFound, "no Telegram chat is linked")

// TelegramLink returns the owner's linked chat, NOT_FOUND when none.
func (s *Service) TelegramLink(ctx context.Context, ownerID string) (*agentotp.TelegramLink, error) {
	l, err := s.store.GetTelegramLink(ctx, ownerID)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errNotLinked
	}
	if err != nil {
		return nil, fmt.Errorf("telegram link: %w", err)
	}
	return l, nil
}

// TelegramLinkByChat returns the link of a chat, NOT_FOUND when none.
func (s *Service) TelegramLinkByChat(ctx context.Context, chatID int64) (*agentotp.TelegramLink, error) {
	l, err := s.store.GetTelegramLinkByChat(ctx, chatID)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errNotLinked
	}
	if err != nil {
		return nil, fmt.Errorf("telegram link: %w", err)
	}
	return l, nil
}

// UnlinkTelegram removes the owner's linked chat; via says who asked
// ("owner api", "telegram").
func (s *Service) UnlinkTelegram(ctx context.Context, ownerID, via string) error {
	now := s.Now()
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditTelegramUnlinked, now)
	e.Details = map[string]string{"via": via}
	err := s.store.UnlinkTelegramChat(ctx, ownerID, e)
	if errors.Is(err, agentotp.ErrNotFound) {
		return errNotLinked
	}
	if err != nil {
		return fmt.Errorf("unlink telegram: %w", err)
	}
	s.log.InfoContext(ctx, "telegram chat unlinked", "owner_id", ownerID, "via", via)
	return nil
}
