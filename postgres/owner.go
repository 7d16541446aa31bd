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

// CreateOwner stores a new owner together with its first credential (cred
// may be nil) and appends audit. An owner whose id exists already is an
// agentotp.ErrConflict.
func (db *Store) CreateOwner(ctx context.Context, o *agentotp.Owner, cred *agentotp.Credential, audit ...agentotp.AuditEntry) error {
	if err := db.insertWithCredential(ctx, cred, audit, `INSERT INTO owners (id, name, created_at) VALUES ($1, $2, $3)`,
		o.ID, o.Name, storerow.Micros(o.CreatedAt)); err != nil {
		return fmt.Errorf("postgres: create owner %s: %w", o.ID, err)
	}
	return nil
}

// GetOwner returns one owner.
func (db *Store) GetOwner(ctx context.Context, id string) (*agentotp.Owner, error) {
	o, err := storerow.ScanOwner(db.pool.QueryRow(ctx, `SELECT `+storerow.OwnerColumns+` FROM owners WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get owner %s: %w", id, notFound(err))
	}
	return o, nil
}

// ListOwners returns every owner, oldest first.
func (db *Store) ListOwners(ctx context.Context) ([]*agentotp.Owner, error) {
	return list(ctx, db, "list owners", storerow.ScanOwner, `SELECT `+storerow.OwnerColumns+` FROM owners ORDER BY created_at, id`)
}

// CreateAgent stores an agent and its API key's credential (cred may be
// nil) and appends audit. An agent whose id exists already is an
// agentotp.ErrConflict.
func (db *Store) CreateAgent(ctx context.Context, a *agentotp.Agent, cred *agentotp.Credential, audit ...agentotp.AuditEntry) error {
	if err := db.insertWithCredential(ctx, cred, audit, `INSERT INTO agents (`+storerow.AgentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, storerow.AgentArgs(a, db.sealSecret(a.ID, a.WebhookSecret))...); err != nil {
		return fmt.Errorf("postgres: create agent %s: %w", a.ID, err)
	}
	return nil
}

// GetAgent returns an agent of the owner; another owner's agent is
// agentotp.ErrNotFound.
func (db *Store) GetAgent(ctx context.Context, ownerID, id string) (*agentotp.Agent, error) {
	a, err := storerow.ScanAgent(db.pool.QueryRow(ctx,
		`SELECT `+storerow.AgentColumns+` FROM agents WHERE id = $1 AND owner_id = $2`, id, ownerID))
	if err != nil {
		return nil, fmt.Errorf("postgres: get agent %s: %w", id, notFound(err))
	}
	return db.openAgentSecret(a), nil
}

// ListAgents returns the owner's agents, oldest first.
func (db *Store) ListAgents(ctx context.Context, ownerID string) ([]*agentotp.Agent, error) {
	out, err := list(ctx, db, "list agents", storerow.ScanAgent,
		`SELECT `+storerow.AgentColumns+` FROM agents WHERE owner_id = $1 ORDER BY created_at, id`, ownerID)
	if err != nil {
		return nil, err
	}
	for _, a := range out {
		db.openAgentSecret(a)
	}
	return out, nil
}

// RotateAgentKey stores the agent's new key prefix and webhook secret and
// its new credential, and makes every unrevoked older credential of the
// agent end at oldKeyEnds, unless it ends earlier already. The webhook
// secret it had is kept until oldKeyEnds too (PreviousWebhookSecret), so
// that webhooks are signed with both during the grace period. An unknown
// agent, or another owner's, is agentotp.ErrNotFound.
func (db *Store) RotateAgentKey(ctx context.Context, a *agentotp.Agent, cred *agentotp.Credential, oldKeyEnds time.Time, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := keepPrevWebhookSecret(ctx, tx, a.ID, a.OwnerID, oldKeyEnds); err != nil {
			return err
		}
		if err := changed(tx.Exec(ctx, `UPDATE agents SET key_prefix = $1, webhook_secret = $2 WHERE id = $3 AND owner_id = $4`,
			a.KeyPrefix, db.sealSecret(a.ID, a.WebhookSecret), a.ID, a.OwnerID)); err != nil {
			return err
		}
		ends := storerow.Micros(oldKeyEnds)
		if _, err := tx.Exec(ctx, `UPDATE credentials SET expires_at = $1
			WHERE agent_id = $2 AND revoked_at = 0 AND (expires_at = 0 OR expires_at > $3)`,
			ends, a.ID, ends); err != nil {
			return err
		}
		if err := insertCredential(ctx, tx, cred); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: rotate key of agent %s: %w", a.ID, err)
	}
	return nil
}

// RevokeAgent marks the agent and all its credentials revoked at at. A row
// revoked already keeps its earlier time. An unknown agent, or another
// owner's, is agentotp.ErrNotFound.
func (db *Store) RevokeAgent(ctx context.Context, ownerID, id string, at time.Time, audit ...agentotp.AuditEntry) error {
	if err := db.revoke(ctx, "agents", "agent_id", ownerID, id, at, audit); err != nil {
		return fmt.Errorf("postgres: revoke agent %s: %w", id, err)
	}
	return nil
}

// revoke sets revoked_at on the row id of table (agents or sources) and on
// the credentials whose column credCol names it.
func (db *Store) revoke(ctx context.Context, table, credCol, ownerID, id string, at time.Time, audit []agentotp.AuditEntry) error {
	ts := storerow.Micros(at)
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := changed(tx.Exec(ctx, `UPDATE `+table+` SET revoked_at = CASE WHEN revoked_at = 0 THEN $1::bigint ELSE revoked_at END
			WHERE id = $2 AND owner_id = $3`, ts, id, ownerID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE credentials SET revoked_at = $1 WHERE `+credCol+` = $2 AND revoked_at = 0`,
			ts, id); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
}

// CreateSource stores a capture source and its token's credential (cred may
// be nil) and appends audit. A source whose id exists already is an
// agentotp.ErrConflict.
func (db *Store) CreateSource(ctx context.Context, s *agentotp.Source, cred *agentotp.Credential, audit ...agentotp.AuditEntry) error {
	if err := db.insertWithCredential(ctx, cred, audit, `INSERT INTO sources (`+storerow.SourceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`, storerow.SourceArgs(s)...); err != nil {
		return fmt.Errorf("postgres: create source %s: %w", s.ID, err)
	}
	return nil
}

// GetSource returns a source of the owner; another owner's source is
// agentotp.ErrNotFound.
func (db *Store) GetSource(ctx context.Context, ownerID, id string) (*agentotp.Source, error) {
	s, err := storerow.ScanSource(db.pool.QueryRow(ctx,
		`SELECT `+storerow.SourceColumns+` FROM sources WHERE id = $1 AND owner_id = $2`, id, ownerID))
	if err != nil {
		return nil, fmt.Errorf("postgres: get source %s: %w", id, notFound(err))
	}
	return s, nil
}

// ListSources returns the owner's sources, oldest first.
func (db *Store) ListSources(ctx context.Context, ownerID string) ([]*agentotp.Source, error) {
	return list(ctx, db, "list sources", storerow.ScanSource,
		`SELECT `+storerow.SourceColumns+` FROM sources WHERE owner_id = $1 ORDER BY created_at, id`, ownerID)
}

// RevokeSource marks the source and its credentials revoked at at. A row
// revoked already keeps its earlier time. An unknown source, or another
// owner's, is agentotp.ErrNotFound.
func (db *Store) RevokeSource(ctx context.Context, ownerID, id string, at time.Time, audit ...agentotp.AuditEntry) error {
	if err := db.revoke(ctx, "sources", "source_id", ownerID, id, at, audit); err != nil {
		return fmt.Errorf("postgres: revoke source %s: %w", id, err)
	}
	return nil
}

// insertWithCredential runs the INSERT query (a row whose key exists
// already is an agentotp.ErrConflict), stores cred (which may be nil) and
// appends audit, in one transaction.
func (db *Store) insertWithCredential(ctx context.Context, cred *agentotp.Credential, audit []agentotp.AuditEntry, query string, args ...any) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, query, args...); err != nil {
			return conflictOnDuplicate(err)
		}
		if err := insertCredential(ctx, tx, cred); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
}

// insertCredential stores cred, if not nil. A credential whose hash exists
// already is an agentotp.ErrConflict.
func insertCredential(ctx context.Context, tx pgx.Tx, cred *agentotp.Credential) error {
	if cred == nil {
		return nil
	}
	if len(cred.Hash) == 0 {
		return errors.New("credential has no hash")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO credentials (`+storerow.CredentialColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, storerow.CredentialArgs(cred)...); err != nil {
		return fmt.Errorf("insert %s credential: %w", cred.Kind, conflictOnDuplicate(err))
	}
	return nil
}

// CreateCredential stores one more credential (an owner token, say). A
// credential whose hash exists already is an agentotp.ErrConflict.
func (db *Store) CreateCredential(ctx context.Context, cred *agentotp.Credential) error {
	if cred == nil {
		return errors.New("postgres: create credential: nil credential")
	}
	if err := db.tx(ctx, func(tx pgx.Tx) error { return insertCredential(ctx, tx, cred) }); err != nil {
		return fmt.Errorf("postgres: create credential: %w", err)
	}
	return nil
}

// FindCredential returns the credential whose hash is hash, valid or not:
// the caller checks it with [agentotp.Credential.Verify].
func (db *Store) FindCredential(ctx context.Context, hash []byte) (*agentotp.Credential, error) {
	c, err := storerow.ScanCredential(db.pool.QueryRow(ctx, `SELECT `+storerow.CredentialColumns+` FROM credentials WHERE hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("postgres: find credential: %w", notFound(err))
	}
	return c, nil
}

// ReplaceOwnerTokens revokes owner tokens of the owner and stores its new
// one, in one transaction (see [agentotp.Store]).
func (db *Store) ReplaceOwnerTokens(ctx context.Context, ownerID string, revoke [][]byte, cred *agentotp.Credential, at time.Time, audit ...agentotp.AuditEntry) ([]string, error) {
	if cred == nil || cred.Kind != agentotp.CredentialOwner || cred.OwnerID != ownerID {
		return nil, errors.New("postgres: replace owner tokens: the new credential must be an owner token of the owner")
	}
	ts := storerow.Micros(at)
	var prefixes []string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		prefixes = prefixes[:0]
		const live = `kind = 'owner' AND owner_id = $1 AND revoked_at = 0`
		if revoke == nil {
			rows, err := tx.Query(ctx, `SELECT prefix FROM credentials WHERE `+live+` ORDER BY created_at`, ownerID)
			if err != nil {
				return err
			}
			for rows.Next() {
				var p string
				if err := rows.Scan(&p); err != nil {
					rows.Close()
					return err
				}
				prefixes = append(prefixes, p)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE credentials SET revoked_at = $2 WHERE `+live, ownerID, ts); err != nil {
				return err
			}
		}
		for _, h := range revoke {
			var p string
			if err := tx.QueryRow(ctx, `UPDATE credentials SET revoked_at = $2 WHERE hash = $3 AND `+live+` RETURNING prefix`,
				ownerID, ts, h).Scan(&p); err != nil {
				return notFound(err)
			}
			prefixes = append(prefixes, p)
		}
		if err := insertCredential(ctx, tx, cred); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: replace owner tokens of %s: %w", ownerID, err)
	}
	return prefixes, nil
}
