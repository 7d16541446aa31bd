package storerow

import (
	"time"

	"github.com/agentotp/agentotp"
)

// IMAPColumns are the columns of the imap_sources table, in the order
// of ScanIMAPSource.
const IMAPColumns = `source_id, owner_id, host, port, tls_mode, username, password_sealed, mailbox,
	poll_interval_ms, mark_as_read, created_at, updated_at, version, uid_validity, last_uid,
	state, last_error, last_error_at, last_connected_at, last_message_at, status_at`

// ScanIMAPSource scans an IMAP source row of IMAPColumns; its password
// is still sealed.
func ScanIMAPSource(s Scanner) (*agentotp.IMAPSource, error) {
	var (
		src                                      agentotp.IMAPSource
		port, pollMS, markRead, created, updated int64
		validity, lastUID                        int64
		errAt, connectedAt, messageAt, statusAt  int64
	)
	if err := s.Scan(&src.SourceID, &src.OwnerID, &src.Host, &port, &src.TLSMode, &src.Username, &src.PasswordSealed,
		&src.Mailbox, &pollMS, &markRead, &created, &updated, &src.Version, &validity, &lastUID,
		&src.Status.State, &src.Status.LastError, &errAt, &connectedAt, &messageAt, &statusAt); err != nil {
		return nil, err
	}
	src.Port = int(port)
	src.PollInterval = time.Duration(pollMS) * time.Millisecond
	src.MarkAsRead = markRead != 0
	src.CreatedAt, src.UpdatedAt = FromMicros(created), FromMicros(updated)
	src.UIDValidity, src.LastUID = uint32(validity), uint32(lastUID)
	src.Status.LastErrorAt, src.Status.LastConnectedAt = FromMicros(errAt), FromMicros(connectedAt)
	src.Status.LastMessageAt, src.Status.UpdatedAt = FromMicros(messageAt), FromMicros(statusAt)
	return &src, nil
}
