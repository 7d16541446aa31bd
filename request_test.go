package agentotp

import (
	"testing"
	"time"
)

func TestTransition(t *testing.T) {
	tests := []struct {
		from     Status
		ev       Event
		held     bool
		want     Status
		wantCode string
	}{
		{StatusPending, EventApprove, false, StatusApproved, ""},
		{StatusPending, EventApprove, true, StatusReceived, ""},
		{StatusPending, EventDeny, false, StatusDenied, ""},
		{StatusPending, EventDeny, true, StatusDenied, ""},
		{StatusPending, EventMatch, false, StatusPending, ""},
		{StatusPending, EventMatch, true, "", EConflict},
		{StatusPending, EventCancel, false, StatusCancelled, ""},
		{StatusPending, EventExpire, true, StatusExpired, ""},
		{StatusPending, EventConsume, false, "", EOTPNotReady},
		{StatusPending, EventConsume, true, "", EOTPNotReady},
		{StatusApproved, EventMatch, false, StatusReceived, ""},
		{StatusApproved, EventCancel, false, StatusCancelled, ""},
		{StatusApproved, EventExpire, false, StatusExpired, ""},
		{StatusApproved, EventConsume, false, "", EOTPNotReady},
		{StatusApproved, EventApprove, false, "", EConflict},
		{StatusApproved, EventDeny, false, "", EConflict},
		{StatusReceived, EventConsume, true, StatusConsumed, ""},
		{StatusReceived, EventCancel, true, StatusCancelled, ""},
		{StatusReceived, EventExpire, true, StatusExpired, ""},
		{StatusReceived, EventMatch, true, "", EConflict},
		{StatusReceived, EventDeny, true, "", EConflict},
		{StatusConsumed, EventConsume, false, "", EOTPAlreadyConsumed},
		{StatusConsumed, EventCancel, false, "", EOTPAlreadyConsumed},
		{StatusDenied, EventConsume, false, "", EOTPApprovalDenied},
		{StatusDenied, EventApprove, false, "", EOTPApprovalDenied},
		{StatusExpired, EventConsume, false, "", EOTPExpired},
		{StatusExpired, EventExpire, false, "", EOTPExpired},
		{StatusCancelled, EventCancel, false, "", EOTPCancelled},
		{StatusCancelled, EventMatch, false, "", EOTPCancelled},
		{Status("bogus"), EventApprove, false, "", EConflict},
		{StatusPending, Event("bogus"), false, "", EConflict},
	}
	for _, tt := range tests {
		got, err := Transition(tt.from, tt.ev, tt.held)
		if code := ErrorCode(err); code != tt.wantCode || got != tt.want {
			t.Errorf("Transition(%s, %s, held=%v) = %q, %v (code %q); want %q, code %q", tt.from, tt.ev, tt.held, got, err, code, tt.want, tt.wantCode)
		}
	}
}

// TestEveryPairIsDecided checks that the machine answers every status ×
// event pair with either a known next status or a coded error.
func TestEveryPairIsDecided(t *testing.T) {
	events := []Event{EventApprove, EventDeny, EventMatch, EventConsume, EventCancel, EventExpire}
	for _, s := range Statuses {
		for _, ev := range events {
			for _, held := range []bool{false, true} {
				next, err := Transition(s, ev, held)
				if err == nil && !next.Valid() {
					t.Errorf("Transition(%s, %s) gave unknown status %q", s, ev, next)
				}
				if err != nil && ErrorCode(err) == EInternal {
					t.Errorf("Transition(%s, %s) gave an uncoded error %v", s, ev, err)
				}
				if s.Final() && err == nil {
					t.Errorf("final status %s left by %s", s, ev)
				}
			}
		}
	}
}

func TestRequestLifecycle(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r := &Request{ID: "otp_1", Status: StatusPending, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	md := MessageMetadata{Source: ChannelSMS, Sender: "ACME", ReceivedAt: now}
	if err := r.Match([]byte("ct"), nil, md, now); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusPending || !r.Held() {
		t.Fatalf("held match: status %s held %v", r.Status, r.Held())
	}
	if err := r.Approve(DecidedByOwner, now); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusReceived || r.DecidedBy != "owner" {
		t.Fatalf("approve released: %s %s", r.Status, r.DecidedBy)
	}
	payload, _, err := r.Consume(now)
	if err != nil || string(payload) != "ct" {
		t.Fatalf("consume = %q, %v", payload, err)
	}
	if r.Status != StatusConsumed || r.Payload != nil || r.ConsumedAt.IsZero() {
		t.Fatalf("after consume: %s payload %v", r.Status, r.Payload)
	}
	if _, _, err := r.Consume(now); ErrorCode(err) != EOTPAlreadyConsumed {
		t.Fatalf("second consume: %v", err)
	}
}

func TestDenyDeletesHeldCode(t *testing.T) {
	now := time.Now()
	r := &Request{Status: StatusPending}
	if err := r.Match([]byte("ct"), []byte("content"), MessageMetadata{}, now); err != nil {
		t.Fatal(err)
	}
	if err := r.Deny(DecidedByOwner, "not me", now); err != nil {
		t.Fatal(err)
	}
	if r.Payload != nil || r.Content != nil || r.Metadata != nil || r.DenyReason != "not me" {
		t.Fatalf("deny left %v %v %v %q", r.Payload, r.Content, r.Metadata, r.DenyReason)
	}
}

func TestExpireDeletesCode(t *testing.T) {
	now := time.Now()
	r := &Request{Status: StatusApproved, ExpiresAt: now}
	if err := r.Match([]byte("ct"), nil, MessageMetadata{}, now); err != nil {
		t.Fatal(err)
	}
	if !r.ExpiredAt(now) {
		t.Fatal("not expired at its ExpiresAt")
	}
	if err := r.Expire(now); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusExpired || r.Payload != nil {
		t.Fatalf("after expire %s %v", r.Status, r.Payload)
	}
}

func TestMatchRefusesEmptyPayload(t *testing.T) {
	r := &Request{Status: StatusApproved}
	if err := r.Match(nil, nil, MessageMetadata{}, time.Now()); err == nil || r.Status != StatusApproved {
		t.Fatalf("empty payload accepted: %v %s", err, r.Status)
	}
}
