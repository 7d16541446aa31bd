package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// SaveTelegramLinkCode stores the owner's link code, replacing an earlier one.
func (db *Store) SaveTelegramLinkCode(ctx context.Context, c *agentotp.TelegramLinkCode, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO telegram_link_codes (owner_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (owner_id) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at`,
			c.OwnerID, c.CodeHash, storerow.Micros(c.CreatedAt), storerow.Micros(c.ExpiresAt)); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: save telegram link code of owner %s: %w", c.OwnerID, err)
	}
	return nil
}

// ListTelegramLinkCodes returns the link codes still valid at now.
func (db *Store) ListTelegramLinkCodes(ctx context.Context, now time.Time) ([]*agentotp.TelegramLinkCode, error) {
	return list(ctx, db, "list telegram link codes", storerow.ScanTelegramLinkCode, `SELECT owner_id, code_hash, created_at, expires_at FROM telegram_link_codes
		WHERE expires_at > $1 ORDER BY owner_id`, storerow.Micros(now))
}

// LinkTelegramChat uses up the owner's code and stores the link.
func (db *Store) LinkTelegramChat(ctx context.Context, link *agentotp.TelegramLink, codeHash []byte, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := changed(tx.Exec(ctx, `DELETE FROM telegram_link_codes WHERE owner_id = $1 AND code_hash = $2`, link.OwnerID, codeHash)); err != nil {
			return err
		}
		var other string
		err := tx.QueryRow(ctx, `SELECT owner_id FROM telegram_links WHERE chat_id = $1 AND owner_id <> $2`, link.ChatID, link.OwnerID).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("chat %d is linked to another owner: %w", link.ChatID, agentotp.ErrConflict)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO telegram_links (owner_id, chat_id, user_id, username, linked_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (owner_id) DO UPDATE SET chat_id = excluded.chat_id, user_id = excluded.user_id,
				username = excluded.username, linked_at = excluded.linked_at`,
			link.OwnerID, link.ChatID, link.UserID, link.Username, storerow.Micros(link.LinkedAt)); err != nil {
			return conflictOnDuplicate(err)
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: link telegram chat of owner %s: %w", link.OwnerID, err)
	}
	return nil
}

// GetTelegramLink returns the owner's link.
func (db *Store) GetTelegramLink(ctx context.Context, ownerID string) (*agentotp.TelegramLink, error) {
	l, err := storerow.ScanTelegramLink(db.pool.QueryRow(ctx, `SELECT `+storerow.TelegramLinkColumns+` FROM telegram_links WHERE owner_id = $1`, ownerID))
	if err != nil {
		return nil, fmt.Errorf("postgres: get telegram link of owner %s: %w", ownerID, notFound(err))
	}
	return l, nil
}

// GetTelegramLinkByChat returns the link of a chat.
func (db *Store) GetTelegramLinkByChat(ctx context.Context, chatID int64) (*agentotp.TelegramLink, error) {
	l, err := storerow.ScanTelegramLink(db.pool.QueryRow(ctx, `SELECT `+storerow.TelegramLinkColumns+` FROM telegram_links WHERE chat_id = $1`, chatID))
	if err != nil {
		return nil, fmt.Errorf("postgres: get telegram link of chat %d: %w", chatID, notFound(err))
	}
	return l, nil
}

// UnlinkTelegramChat removes the owner's link.
func (db *Store) UnlinkTelegramChat(ctx context.Context, ownerID string, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := changed(tx.Exec(ctx, `DELETE FROM telegram_links WHERE owner_id = $1`, ownerID)); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: unlink telegram chat of owner %s: %w", ownerID, err)
	}
	return nil
}

// CreateTelegramPrompt stores a prompt.
func (db *Store) CreateTelegramPrompt(ctx context.Context, p *agentotp.TelegramPrompt) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO telegram_prompts (`+storerow.TelegramPromptColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			p.TokenHash, p.RequestID, p.OwnerID, p.ChatID, p.MessageID, storerow.Micros(p.CreatedAt), storerow.Micros(p.ClosedAt))
		return conflictOnDuplicate(err)
	})
	if err != nil {
		return fmt.Errorf("postgres: create telegram prompt for %s: %w", p.RequestID, err)
	}
	return nil
}

// updatePrompt runs one UPDATE on a prompt; a missing prompt is
// agentotp.ErrNotFound.
func (db *Store) updatePrompt(ctx context.Context, what, query string, args ...any) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		return changed(tx.Exec(ctx, query, args...))
	})
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	return nil
}

// SetTelegramPromptMessage records the prompt's message id.
func (db *Store) SetTelegramPromptMessage(ctx context.Context, tokenHash []byte, messageID int64) error {
	return db.updatePrompt(ctx, "set telegram prompt message", `UPDATE telegram_prompts SET message_id = $1 WHERE token_hash = $2`, messageID, tokenHash)
}

// CloseTelegramPrompt marks a prompt closed.
func (db *Store) CloseTelegramPrompt(ctx context.Context, tokenHash []byte, at time.Time) error {
	return db.updatePrompt(ctx, "close telegram prompt", `UPDATE telegram_prompts SET closed_at = $1 WHERE token_hash = $2`, storerow.Micros(at), tokenHash)
}

// GetTelegramPrompt returns a prompt by its token's hash.
func (db *Store) GetTelegramPrompt(ctx context.Context, tokenHash []byte) (*agentotp.TelegramPrompt, error) {
	p, err := storerow.ScanTelegramPrompt(db.pool.QueryRow(ctx, `SELECT `+storerow.TelegramPromptColumns+` FROM telegram_prompts WHERE token_hash = $1`, tokenHash))
	if err != nil {
		return nil, fmt.Errorf("postgres: get telegram prompt: %w", notFound(err))
	}
	return p, nil
}

// ListTelegramPrompts returns the prompts of a request, oldest first.
func (db *Store) ListTelegramPrompts(ctx context.Context, requestID string) ([]*agentotp.TelegramPrompt, error) {
	return list(ctx, db, "list telegram prompts", storerow.ScanTelegramPrompt,
		`SELECT `+storerow.TelegramPromptColumns+` FROM telegram_prompts WHERE request_id = $1 ORDER BY created_at, token_hash`, requestID)
}
