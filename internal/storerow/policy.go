package storerow

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/agentotp/agentotp"
)

// PolicyColumns are the columns of the policies table, in the order of
// ScanPolicy.
const PolicyColumns = `id, owner_id, name, position, conditions, action, max_per_hour, enabled, created_at, updated_at`

// ScanPolicy scans a policy row of PolicyColumns.
func ScanPolicy(s Scanner) (*agentotp.Policy, error) {
	var p agentotp.Policy
	var conds string
	var maxPerHour sql.NullInt64
	var enabled, created, updated int64
	if err := s.Scan(&p.ID, &p.OwnerID, &p.Name, &p.Position, &conds, &p.Action, &maxPerHour, &enabled, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(conds), &p.Conditions); err != nil {
		return nil, fmt.Errorf("decode conditions of policy %s: %w", p.ID, err)
	}
	if maxPerHour.Valid {
		n := int(maxPerHour.Int64)
		p.MaxPerHour = &n
	}
	p.Enabled = enabled != 0
	p.CreatedAt, p.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &p, nil
}

// PolicyArgs returns the stored forms of p's conditions (JSON text) and
// hourly cap (NULL when p has none).
func PolicyArgs(p *agentotp.Policy) (conds string, maxPerHour any, err error) {
	b, err := json.Marshal(p.Conditions)
	if err != nil {
		return "", nil, fmt.Errorf("encode conditions: %w", err)
	}
	if p.MaxPerHour != nil {
		maxPerHour = int64(*p.MaxPerHour)
	}
	return string(b), maxPerHour, nil
}

// ClampPosition maps a wanted position onto 1..n, where 0 means n.
func ClampPosition(want, n int) int {
	if want <= 0 || want > n {
		return n
	}
	return want
}
