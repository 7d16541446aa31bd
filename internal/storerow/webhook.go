package storerow

import (
	"strings"

	"github.com/agentotp/agentotp"
)

// WebhookColumns are the columns of the webhook outbox that ScanWebhook
// reads, in its order.
const WebhookColumns = `seq, id, owner_id, agent_id, request_id, url, status, occurred_at, created_at,
	state, attempts, next_attempt_at, last_attempt_at, last_status, last_error, delivered_at`

// ScanWebhook scans a webhook delivery row of WebhookColumns.
func ScanWebhook(s Scanner) (*agentotp.WebhookDelivery, error) {
	var d agentotp.WebhookDelivery
	var status, state string
	var occurred, created, next, last, delivered int64
	if err := s.Scan(&d.Seq, &d.ID, &d.OwnerID, &d.AgentID, &d.RequestID, &d.URL, &status, &occurred, &created,
		&state, &d.Attempts, &next, &last, &d.LastStatusCode, &d.LastError, &delivered); err != nil {
		return nil, err
	}
	d.Status, d.State = agentotp.Status(status), agentotp.DeliveryState(state)
	d.OccurredAt, d.CreatedAt, d.NextAttemptAt = FromMicros(occurred), FromMicros(created), FromMicros(next)
	d.LastAttemptAt, d.DeliveredAt = FromMicros(last), FromMicros(delivered)
	return &d, nil
}

// Truncate cuts s to at most n bytes, dropping a rune cut in half.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
