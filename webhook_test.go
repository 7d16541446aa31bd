package agentotp

import (
	"testing"
	"time"
)

func TestWebhookBody(t *testing.T) {
	d := WebhookDelivery{ID: "evt_1", RequestID: "otp_1", Status: StatusReceived, URL: "https://x.example/?token=s3cret",
		OccurredAt: time.Date(2030, 1, 2, 3, 4, 5, 678000, time.FixedZone("X", 3600))}
	const want = `{"type":"otp.status","request_id":"otp_1","status":"otp_received","occurred_at":"2030-01-02T02:04:05.000678Z"}`
	if got := string(d.Body()); got != want {
		t.Fatalf("Body = %s; want %s", got, want)
	}
}

func TestWebhookEvents(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	entry := func(id string, st Status) AuditEntry {
		return AuditEntry{ID: id, RequestID: "otp_1", At: at, Details: map[string]string{"status": string(st)}}
	}
	tests := []struct {
		name  string
		prev  Status
		now   Status
		audit []AuditEntry
		want  []string // id:status
	}{
		{"created", "", StatusPending, []AuditEntry{entry("e1", StatusPending)}, []string{"e1:pending_approval"}},
		{"test key at once", "", StatusReceived,
			[]AuditEntry{entry("e1", StatusPending), entry("e2", StatusApproved), entry("e3", StatusReceived)},
			[]string{"e1:pending_approval", "e2:approved", "e3:otp_received"}},
		{"held message changes nothing", StatusPending, StatusPending, []AuditEntry{entry("e1", StatusPending)}, nil},
		{"approval releases a held code", StatusPending, StatusReceived, []AuditEntry{entry("e1", StatusReceived)}, []string{"e1:otp_received"}},
		{"audit without status", StatusApproved, StatusCancelled, []AuditEntry{{ID: "e1", RequestID: "otp_1"}}, []string{":cancelled"}},
		{"another request's entry is ignored", StatusApproved, StatusExpired,
			[]AuditEntry{{ID: "x", RequestID: "otp_2", Details: map[string]string{"status": "denied"}}}, []string{":expired"}},
		{"entries short of the final status", "", StatusApproved, []AuditEntry{entry("e1", StatusPending)}, []string{"e1:pending_approval", ":approved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Request{ID: "otp_1", OwnerID: "own_1", AgentID: "agt_1", Status: tt.now, UpdatedAt: at}
			var got []string
			for _, d := range WebhookEvents(tt.prev, r, tt.audit) {
				got = append(got, d.ID+":"+string(d.Status))
				if d.RequestID != "otp_1" || d.AgentID != "agt_1" || d.OwnerID != "own_1" || !d.OccurredAt.Equal(at) {
					t.Errorf("delivery fields: %+v", d)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v; want %v", got, tt.want)
				}
			}
		})
	}
}
