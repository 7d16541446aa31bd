package storerow

import "github.com/agentotp/agentotp"

// ScanTelegramLinkCode scans a link code row (owner_id, code_hash,
// created_at, expires_at).
func ScanTelegramLinkCode(s Scanner) (*agentotp.TelegramLinkCode, error) {
	var c agentotp.TelegramLinkCode
	var created, expires int64
	if err := s.Scan(&c.OwnerID, &c.CodeHash, &created, &expires); err != nil {
		return nil, err
	}
	c.CreatedAt, c.ExpiresAt = FromMicros(created), FromMicros(expires)
	return &c, nil
}

// TelegramLinkColumns are the columns that ScanTelegramLink reads.
const TelegramLinkColumns = `owner_id, chat_id, user_id, username, linked_at`

// ScanTelegramLink scans a Telegram link row of TelegramLinkColumns.
func ScanTelegramLink(s Scanner) (*agentotp.TelegramLink, error) {
	var l agentotp.TelegramLink
	var linked int64
	if err := s.Scan(&l.OwnerID, &l.ChatID, &l.UserID, &l.Username, &linked); err != nil {
		return nil, err
	}
	l.LinkedAt = FromMicros(linked)
	return &l, nil
}

// TelegramPromptColumns are the columns that ScanTelegramPrompt reads.
const TelegramPromptColumns = `token_hash, request_id, owner_id, chat_id, message_id, created_at, closed_at`

// ScanTelegramPrompt scans a Telegram prompt row of
// TelegramPromptColumns.
func ScanTelegramPrompt(s Scanner) (*agentotp.TelegramPrompt, error) {
	var p agentotp.TelegramPrompt
	var created, closed int64
	if err := s.Scan(&p.TokenHash, &p.RequestID, &p.OwnerID, &p.ChatID, &p.MessageID, &created, &closed); err != nil {
		return nil, err
	}
	p.CreatedAt, p.ClosedAt = FromMicros(created), FromMicros(closed)
	return &p, nil
}
