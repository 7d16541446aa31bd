package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// PutIMAPSource stores the IMAP settings of a source, replacing earlier
// ones. A change of host, port, username or mailbox resets the cursor and
// the status in the same statement, so that a cursor never outlives the
// mailbox it counts in.
func (db *Store) PutIMAPSource(ctx context.Context, s *agentotp.IMAPSource, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var owner string
		err := tx.QueryRow(ctx, `SELECT owner_id FROM sources WHERE id = $1`, s.SourceID).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && owner != s.OwnerID) {
			return agentotp.ErrNotFound
		}
		if err != nil {
			return err
		}
		var created, validity, lastUID int64
		err = tx.QueryRow(ctx, `INSERT INTO imap_sources (source_id, owner_id, host, port, tls_mode, username,
				password_sealed, mailbox, poll_interval_ms, mark_as_read, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (source_id) DO UPDATE SET
				host = excluded.host, port = excluded.port, tls_mode = excluded.tls_mode,
				username = excluded.username, password_sealed = excluded.password_sealed,
				mailbox = excluded.mailbox, poll_interval_ms = excluded.poll_interval_ms,
				mark_as_read = excluded.mark_as_read, updated_at = excluded.updated_at,
				version = imap_sources.version + 1,
				uid_validity = CASE WHEN `+imapSameMailbox+` THEN imap_sources.uid_validity ELSE 0 END,
				last_uid = CASE WHEN `+imapSameMailbox+` THEN imap_sources.last_uid ELSE 0 END,
				state = CASE WHEN `+imapSameMailbox+` THEN imap_sources.state ELSE '' END,
				last_error = '', last_error_at = 0,
				last_connected_at = CASE WHEN `+imapSameMailbox+` THEN imap_sources.last_connected_at ELSE 0 END,
				last_message_at = CASE WHEN `+imapSameMailbox+` THEN imap_sources.last_message_at ELSE 0 END
			RETURNING version, created_at, uid_validity, last_uid`,
			s.SourceID, s.OwnerID, s.Host, s.Port, s.TLSMode, s.Username, s.PasswordSealed, s.Mailbox,
			s.PollInterval.Milliseconds(), storerow.BoolInt(s.MarkAsRead), storerow.Micros(s.CreatedAt), storerow.Micros(s.UpdatedAt),
		).Scan(&s.Version, &created, &validity, &lastUID)
		if err != nil {
			return err
		}
		s.CreatedAt = storerow.FromMicros(created)
		s.UIDValidity, s.LastUID = uint32(validity), uint32(lastUID)
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: put imap settings of %s: %w", s.SourceID, err)
	}
	return nil
}

// imapSameMailbox is true in an upsert when the new settings name the
// mailbox the stored ones name.
const imapSameMailbox = `(imap_sources.host = excluded.host AND imap_sources.port = excluded.port
	AND imap_sources.username = excluded.username AND imap_sources.mailbox = excluded.mailbox)`

// GetIMAPSource returns the IMAP settings of a source of the owner.
func (db *Store) GetIMAPSource(ctx context.Context, ownerID, sourceID string) (*agentotp.IMAPSource, error) {
	s, err := storerow.ScanIMAPSource(db.pool.QueryRow(ctx,
		`SELECT `+storerow.IMAPColumns+` FROM imap_sources WHERE source_id = $1 AND owner_id = $2`, sourceID, ownerID))
	if err != nil {
		return nil, fmt.Errorf("postgres: get imap settings of %s: %w", sourceID, notFound(err))
	}
	return s, nil
}

// ListIMAPSources returns the owner's IMAP settings, by source id.
func (db *Store) ListIMAPSources(ctx context.Context, ownerID string) ([]*agentotp.IMAPSource, error) {
	return list(ctx, db, "list imap settings", storerow.ScanIMAPSource, `SELECT `+storerow.IMAPColumns+` FROM imap_sources WHERE owner_id = $1 ORDER BY source_id`, ownerID)
}

// ListActiveIMAPSources returns the IMAP settings of all sources that are
// not revoked, by source id.
func (db *Store) ListActiveIMAPSources(ctx context.Context) ([]*agentotp.IMAPSource, error) {
	return list(ctx, db, "list imap settings", storerow.ScanIMAPSource, `SELECT `+storerow.IMAPColumns+` FROM imap_sources
		WHERE source_id IN (SELECT id FROM sources WHERE revoked_at = 0) ORDER BY source_id`)
}

// DeleteIMAPSource removes the IMAP settings of a source of the owner.
func (db *Store) DeleteIMAPSource(ctx context.Context, ownerID, sourceID string, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := changed(tx.Exec(ctx, `DELETE FROM imap_sources WHERE source_id = $1 AND owner_id = $2`, sourceID, ownerID)); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete imap settings of %s: %w", sourceID, err)
	}
	return nil
}

// SaveIMAPCursor stores the connector's cursor while version is current.
func (db *Store) SaveIMAPCursor(ctx context.Context, sourceID string, version int64, uidValidity, lastUID uint32) error {
	err := db.updateIMAP(ctx, sourceID, version,
		`UPDATE imap_sources SET uid_validity = $1, last_uid = $2 WHERE source_id = $3 AND version = $4`,
		int64(uidValidity), int64(lastUID), sourceID, version)
	if err != nil {
		return fmt.Errorf("postgres: save imap cursor of %s: %w", sourceID, err)
	}
	return nil
}

// SetIMAPStatus stores the connector's status while version is current.
func (db *Store) SetIMAPStatus(ctx context.Context, sourceID string, version int64, st agentotp.IMAPStatus) error {
	err := db.updateIMAP(ctx, sourceID, version,
		`UPDATE imap_sources SET state = $1, last_error = $2, last_error_at = $3, last_connected_at = $4,
			last_message_at = $5, status_at = $6 WHERE source_id = $7 AND version = $8`,
		st.State, st.LastError, storerow.Micros(st.LastErrorAt), storerow.Micros(st.LastConnectedAt),
		storerow.Micros(st.LastMessageAt), storerow.Micros(st.UpdatedAt), sourceID, version)
	if err != nil {
		return fmt.Errorf("postgres: set imap status of %s: %w", sourceID, err)
	}
	return nil
}

// updateIMAP runs a conditional update of one row and tells a missing row
// (ErrNotFound) from a changed one (ErrConflict).
func (db *Store) updateIMAP(ctx context.Context, sourceID string, version int64, query string, args ...any) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, query, args...)
		if err != nil {
			return err
		}
		if res.RowsAffected() == 1 {
			return nil
		}
		var v int64
		err = tx.QueryRow(ctx, `SELECT version FROM imap_sources WHERE source_id = $1`, sourceID).Scan(&v)
		if err != nil {
			return notFound(err)
		}
		return fmt.Errorf("%w: settings are at version %d, not %d", agentotp.ErrConflict, v, version)
	})
}
