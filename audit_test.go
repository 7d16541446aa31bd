package agentotp

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func chain(n int) []AuditEntry {
	var es []AuditEntry
	prev := ""
	for i := 0; i < n; i++ {
		e := AuditEntry{Seq: int64(i + 1), ID: "evt_" + string(rune('a'+i)), OwnerID: "own_1", At: time.Unix(int64(i), 0), Actor: "owner", Action: AuditRequestApproved, Details: map[string]string{"k": "v"}}
		e.PrevHash = prev
		e.Hash = e.ComputeHash(prev)
		prev = e.Hash
		es = append(es, e)
	}
	return es
}

func TestVerifyChain(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func([]AuditEntry) []AuditEntry
		wantBad int64 // 0: chain holds
	}{
		{"intact", func(es []AuditEntry) []AuditEntry { return es }, 0},
		{"edited", func(es []AuditEntry) []AuditEntry { es[2].Details = map[string]string{"k": "w"}; return es }, 3},
		{"edited actor", func(es []AuditEntry) []AuditEntry { es[1].Actor = "system"; return es }, 2},
		{"deleted", func(es []AuditEntry) []AuditEntry { return append(es[:1], es[2:]...) }, 3},
		{"reordered", func(es []AuditEntry) []AuditEntry { es[1], es[2] = es[2], es[1]; return es }, 3},
	}
	for _, tt := range tests {
		b := VerifyChain("", tt.mutate(chain(5)))
		switch {
		case tt.wantBad == 0 && b != nil:
			t.Errorf("%s: break %+v", tt.name, b)
		case tt.wantBad != 0 && (b == nil || b.Seq != tt.wantBad):
			t.Errorf("%s: break %+v, want at seq %d", tt.name, b, tt.wantBad)
		}
	}
}

func TestCredentialVerify(t *testing.T) {
	now := time.Now()
	c := &Credential{Hash: HashToken("ak_live_abc")}
	if !c.Verify("ak_live_abc", now) || c.Verify("ak_live_abd", now) {
		t.Fatal("verify by hash")
	}
	c.ExpiresAt = now
	if c.Verify("ak_live_abc", now) {
		t.Fatal("expired credential verified")
	}
	c.ExpiresAt, c.RevokedAt = time.Time{}, now.Add(-time.Second)
	if c.Verify("ak_live_abc", now) {
		t.Fatal("revoked credential verified")
	}
	if got := TokenPrefix("ak_live_ABCDEFGH"); got != "ak_live_ABCD" {
		t.Errorf("TokenPrefix = %q", got)
	}
	for tok, want := range map[string]CredentialKind{"ak_live_x": CredentialAgent, "ak_test_x": CredentialAgent, "ok_x": CredentialOwner, "sk_x": CredentialSource, "xx": ""} {
		if got := KindOfToken(tok); got != want {
			t.Errorf("KindOfToken(%q) = %q", tok, got)
		}
	}
}

func TestWriteAuditExport(t *testing.T) {
	es := chain(2)
	es[0].Actor = "=HYPERLINK(\"x\")"
	es[1].Details = map[string]string{"k": "v"}

	var jl bytes.Buffer
	if err := WriteAuditJSONL(&jl, es); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(jl.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines; want 2", len(lines))
	}
	for i, l := range lines {
		var e AuditEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Hash != es[i].Hash {
			t.Fatalf("line %d: %v %q", i, err, l)
		}
	}

	var cb bytes.Buffer
	if err := WriteAuditCSV(&cb, es); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if !slices.Equal(rows[0], AuditCSVHeader) {
		t.Fatalf("header %q", rows[0])
	}
	if got := rows[1][3]; got != "'=HYPERLINK(\"x\")" {
		t.Errorf("actor cell %q: formula not defused", got)
	}
	if got := rows[2][8]; got != `{"k":"v"}` {
		t.Errorf("details cell %q", got)
	}
	if got := rows[1][2]; got != es[0].At.UTC().Format(time.RFC3339Nano) {
		t.Errorf("at cell %q", got)
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{"": "", "owner": "owner", "=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx", "a=b": "a=b"} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q; want %q", in, got, want)
		}
	}
}
