package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// TestChangeEncoding: a change survives its note, a long one still fits,
// and a payload that is not a note is an error.
func TestChangeEncoding(t *testing.T) {
	at := time.Date(2026, 12, 2, 17, 0, 0, 123456000, time.UTC)
	tests := []agentotp.Change{
		{Kind: agentotp.ChangeRequest, OwnerID: "own_1", ID: "req_1", Action: "request.created", Actor: "agent:agt_1", At: at, Origin: "h-1-00000000"},
		{Kind: agentotp.ChangeEnrollment, OwnerID: "own_1", ID: "enr_1", Origin: "h-1-00000000"},
	}
	for _, c := range tests {
		p, err := encodeChange(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeChange(p)
		if err != nil || got != c {
			t.Errorf("round trip of %+v: %+v, %v", c, got, err)
		}
	}
	long := tests[0]
	long.Actor = strings.Repeat("a", 9000)
	p, err := encodeChange(long)
	if err != nil || len(p) > maxChangePayload {
		t.Fatalf("long change: %d bytes, %v", len(p), err)
	}
	if got, err := decodeChange(p); err != nil || got.ID != long.ID || got.Actor != "" {
		t.Errorf("long change decoded as %+v, %v", got, err)
	}
	for _, bad := range []string{"", "{", `{"k":"x","o":"o","i":"i"}`, `{"k":"request"}`, "null"} {
		if _, err := decodeChange(bad); err == nil {
			t.Errorf("decodeChange(%q) succeeded", bad)
		}
	}
}

// FuzzDecodeChange: no payload makes decodeChange panic, and what it
// accepts encodes back to a payload it accepts alike.
func FuzzDecodeChange(f *testing.F) {
	f.Add(`{"k":"request","o":"own_1","i":"req_1","a":"x","b":"y","t":1,"s":"h"}`)
	f.Add(`{"k":"enrollment","o":"o","i":"i","s":""}`)
	f.Fuzz(func(t *testing.T, payload string) {
		c, err := decodeChange(payload)
		if err != nil {
			return
		}
		p, err := encodeChange(c)
		if err != nil {
			return // too long for a note: refused, not sent
		}
		if c2, err := decodeChange(p); err != nil || c2 != c {
			t.Errorf("%q: decoded %+v, re-decoded %+v, %v", payload, c, c2, err)
		}
	})
}
