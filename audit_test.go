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

var testAuditKey = []byte("0123456789abcdef0123456789abcdef")

func chain(n int) []AuditEntry {
	var es []AuditEntry
	prev := ""
	for i := 0; i < n; i++ {
		e := AuditEntry{Seq: int64(i + 1), ID: "evt_" + string(rune('a'+i)), OwnerID: "own_1", At: time.Unix(int64(i), 0), Actor: "owner", Action: AuditRequestApproved, Details: map[string]string{"k": "v"}}
		e.Seal(testAuditKey, prev)
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
		b := AuditVerifier{Key: testAuditKey}.Verify("", tt.mutate(chain(5)))
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

// TestAuditVerifierKeyed: a keyed chain verifies only with its key; a row
// rewritten (with every later row) under an unkeyed hash or another key
// breaks at that row; unkeyed rows pass only up to LegacyMaxSeq and as
// sealed; VerifyOwner notices a sealed legacy head cut off.
func TestAuditVerifierKeyed(t *testing.T) {
	v := AuditVerifier{Key: testAuditKey}
	other := []byte("another key, just as long, 32 b!")
	resealFrom := func(es []AuditEntry, from int, seal func(e *AuditEntry, prev string)) []AuditEntry {
		es[from].Details = map[string]string{"k": "forged"}
		for i := from; i < len(es); i++ {
			seal(&es[i], es[i-1].Hash)
		}
		return es
	}
	legacy := func(e *AuditEntry, prev string) {
		e.PrevHash, e.Chain, e.Hash = prev, AuditChainLegacy, e.ComputeHash(prev)
	}
	for _, tt := range []struct {
		name    string
		v       AuditVerifier
		es      func() []AuditEntry
		wantBad int64
	}{
		{"intact", v, func() []AuditEntry { return chain(5) }, 0},
		{"no key", AuditVerifier{}, func() []AuditEntry { return chain(5) }, 1},
		{"wrong key", AuditVerifier{Key: other}, func() []AuditEntry { return chain(5) }, 1},
		{"rewritten unkeyed", v, func() []AuditEntry { return resealFrom(chain(5), 2, legacy) }, 3},
		{"rewritten with another key", v, func() []AuditEntry {
			return resealFrom(chain(5), 2, func(e *AuditEntry, prev string) { e.Seal(other, prev) })
		}, 3},
		{"unknown version", v, func() []AuditEntry { es := chain(3); es[1].Chain = 7; return es }, 2},
		{"legacy rows then keyed", AuditVerifier{Key: testAuditKey, LegacyMaxSeq: 2}, func() []AuditEntry {
			es := chain(4)
			legacy(&es[0], "")
			legacy(&es[1], es[0].Hash)
			es[2].Seal(testAuditKey, es[1].Hash)
			es[3].Seal(testAuditKey, es[2].Hash)
			return es
		}, 0},
		{"legacy head differs from the seal", AuditVerifier{Key: testAuditKey, LegacyMaxSeq: 2, LegacyHeads: map[string]AuditHead{"own_1": {Seq: 2, Hash: strings.Repeat("0", 64)}}}, func() []AuditEntry {
			es := chain(2)
			legacy(&es[0], "")
			legacy(&es[1], es[0].Hash)
			return es
		}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.v.Verify("", tt.es())
			switch {
			case tt.wantBad == 0 && b != nil:
				t.Errorf("break %+v", b)
			case tt.wantBad != 0 && (b == nil || b.Seq != tt.wantBad):
				t.Errorf("break %+v, want at seq %d", b, tt.wantBad)
			}
		})
	}
	es := chain(3)
	legacy(&es[0], "")
	legacy(&es[1], es[0].Hash)
	lv := AuditVerifier{Key: testAuditKey, LegacyMaxSeq: 2, LegacyHeads: map[string]AuditHead{"own_1": {Seq: 2, Hash: es[1].Hash}}}
	if b := lv.VerifyOwner("own_1", es[:1]); b == nil || b.Seq != 2 {
		t.Errorf("legacy head cut off: %+v", b)
	}
	if b := lv.VerifyOwner("own_1", nil); b == nil {
		t.Error("all rows of a sealed owner gone: no break")
	}
}

func TestCheckHead(t *testing.T) {
	es := chain(5)
	for _, tt := range []struct {
		name   string
		es     []AuditEntry
		head   AuditHead
		reason string
	}{
		{"held", es, AuditHead{Seq: 3, Hash: es[2].Hash}, ""},
		{"head is last", es, AuditHead{Seq: 5, Hash: es[4].Hash}, ""},
		{"truncated", es[:3], AuditHead{Seq: 5, Hash: es[4].Hash}, "truncated"},
		{"rewritten", es, AuditHead{Seq: 3, Hash: es[3].Hash}, "rewritten"},
		{"empty", nil, AuditHead{Seq: 1, Hash: es[0].Hash}, "truncated"},
	} {
		b := CheckHead(tt.es, tt.head)
		if (tt.reason == "") != (b == nil) || (b != nil && !strings.Contains(b.Reason, tt.reason)) {
			t.Errorf("%s: %+v", tt.name, b)
		}
	}
}

func TestParseAuditHead(t *testing.T) {
	h := strings.Repeat("ab", 32)
	if got, err := ParseAuditHead(" 12:" + strings.ToUpper(h) + "\n"); err != nil || got.Seq != 12 || got.Hash != h || got.String() != "12:"+h {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"", "12", "12:", ":" + h, "0:" + h, "-1:" + h, "x:" + h, "12:" + h[:63], "12:" + h + "0", "12:" + strings.Repeat("zz", 32)} {
		if _, err := ParseAuditHead(bad); err == nil || ErrorCode(err) != EValidation {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseAuditHead(f *testing.F) {
	f.Add("12:" + strings.Repeat("ab", 32))
	f.Add("")
	f.Add("9999999999999999999:" + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseAuditHead(s)
		if err != nil {
			return
		}
		back, err := ParseAuditHead(h.String())
		if err != nil || back != h || h.Seq < 1 {
			t.Fatalf("%q: %+v, round trip %+v %v", s, h, back, err)
		}
	})
}

// BenchmarkAuditHash: the cost of chaining one entry, unkeyed (legacy)
// and keyed.
func BenchmarkAuditHash(b *testing.B) {
	e := chain(1)[0]
	b.Run("sha256", func(b *testing.B) {
		for b.Loop() {
			e.ComputeHash("prev")
		}
	})
	b.Run("hmac", func(b *testing.B) {
		for b.Loop() {
			e.ComputeMAC(testAuditKey, "prev")
		}
	})
}
