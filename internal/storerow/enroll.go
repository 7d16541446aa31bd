package storerow

import (
	"database/sql"

	"github.com/agentotp/agentotp"
)

// EnrollmentColumns are the columns of the enrollments table, in the
// order of ScanEnrollment and EnrollmentArgs.
const EnrollmentColumns = `id, owner_id, name, description, test, user_code_hash, device_code_hash, client_addr, user_agent,
	status, created_at, expires_at, decided_at, decided_by, issued_at, agent_id, version`

// ScanEnrollment scans an enrollment row of EnrollmentColumns.
func ScanEnrollment(s Scanner) (*agentotp.Enrollment, error) {
	var e agentotp.Enrollment
	var test, created, expires, decided, issued int64
	var status string
	var agentID sql.NullString
	if err := s.Scan(&e.ID, &e.OwnerID, &e.Name, &e.Description, &test, &e.UserCodeHash, &e.DeviceCodeHash, &e.ClientAddr, &e.UserAgent,
		&status, &created, &expires, &decided, &e.DecidedBy, &issued, &agentID, &e.Version); err != nil {
		return nil, err
	}
	e.Test = test != 0
	e.Status = agentotp.EnrollmentStatus(status)
	e.CreatedAt, e.ExpiresAt, e.DecidedAt, e.IssuedAt = FromMicros(created), FromMicros(expires), FromMicros(decided), FromMicros(issued)
	e.AgentID = agentID.String
	return &e, nil
}

// EnrollmentArgs are the values of EnrollmentColumns for e.
func EnrollmentArgs(e *agentotp.Enrollment) []any {
	return []any{e.ID, e.OwnerID, e.Name, e.Description, BoolInt(e.Test), e.UserCodeHash, e.DeviceCodeHash, e.ClientAddr, e.UserAgent,
		string(e.Status), Micros(e.CreatedAt), Micros(e.ExpiresAt), Micros(e.DecidedAt), e.DecidedBy, Micros(e.IssuedAt),
		NullString(e.AgentID), e.Version}
}
