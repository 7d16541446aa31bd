package web_test

import (
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite"
)

// tamperAudit edits the first audit row behind the store's back, as an
// attacker with the database file could: the append-only trigger goes
// first.
func tamperAudit(h *harness) error {
	raw, err := sql.Open("sqlite", h.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer raw.Close()
	if _, err := raw.Exec(`DROP TRIGGER audit_no_update`); err != nil {
		return fmt.Errorf("drop trigger: %w", err)
	}
	if _, err := raw.Exec(`UPDATE audit SET actor = 'nobody' WHERE seq = (SELECT min(seq) FROM audit WHERE owner_id = ?)`, h.ownerID); err != nil {
		return fmt.Errorf("edit: %w", err)
	}
	return nil
}
