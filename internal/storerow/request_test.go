package storerow

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

func TestCursor(t *testing.T) {
	for _, c := range []struct {
		at int64
		id string
	}{{0, "otp_1"}, {1893456000000000, "otp_a:b:c"}, {-5, "x"}} {
		at, id, err := DecodeCursor(EncodeCursor(c.at, c.id))
		if err != nil || at != c.at || id != c.id {
			t.Errorf("cursor of (%d, %q) decodes to (%d, %q, %v)", c.at, c.id, at, id, err)
		}
	}
	for _, bad := range []string{"***", EncodeCursor(1, "")[:2], "MTIz", "YWJjOmRlZg"} { // "123", "abc:def"
		if _, _, err := DecodeCursor(bad); err == nil {
			t.Errorf("DecodeCursor(%q) succeeded", bad)
		}
	}
}

// FuzzDecodeCursor: no cursor makes DecodeCursor panic, and one it
// accepts is one EncodeCursor could have made.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(1700000000000000, "otp_1"))
	f.Add("%%%")
	f.Add("")
	f.Fuzz(func(t *testing.T, c string) {
		at, id, err := DecodeCursor(c)
		if err != nil {
			return
		}
		if at2, id2, err := DecodeCursor(EncodeCursor(at, id)); err != nil || at2 != at || id2 != id {
			t.Errorf("%q: decoded %d %q, re-decoded %d %q, %v", c, at, id, at2, id2, err)
		}
	})
}

// values is a row held in memory: Scan copies its values into dest the
// way database/sql converts them (int64 into *int64, string into
// *string, []byte into *[]byte, a string or nil into *sql.NullString).
type values []any

func (v values) Scan(dest ...any) error {
	if len(dest) != len(v) {
		return errors.New("column count")
	}
	for i, d := range dest {
		if sc, ok := d.(interface{ Scan(any) error }); ok {
			if err := sc.Scan(v[i]); err != nil {
				return err
			}
			continue
		}
		dv := reflect.ValueOf(d).Elem()
		if v[i] == nil {
			dv.Set(reflect.Zero(dv.Type()))
			continue
		}
		dv.Set(reflect.ValueOf(v[i]).Convert(dv.Type()))
	}
	return nil
}

// TestRequestRoundTrip: a request encoded with RequestInsertArgs scans
// back as it was, and a final one loses its ciphertext.
func TestRequestRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 18, 0, 0, 123000, time.UTC)
	for _, tt := range []struct {
		name string
		r    agentotp.Request
	}{
		{"waiting", agentotp.Request{ID: "otp_1", OwnerID: "own_1", AgentID: "agt_1", Status: agentotp.StatusReceived,
			Test: true, IncludeMessage: true, CreatedAt: at, ExpiresAt: at.Add(time.Minute), UpdatedAt: at,
			Payload: []byte("sealed"), Content: []byte("body"), Version: 3,
			Metadata: &agentotp.MessageMetadata{}}},
		{"final", agentotp.Request{ID: "otp_2", OwnerID: "own_1", AgentID: "agt_1", Status: agentotp.StatusConsumed,
			CreatedAt: at, ExpiresAt: at.Add(time.Minute), ConsumedAt: at.Add(time.Second), DecidedAt: at,
			Payload: []byte("sealed"), Version: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			row, err := EncodeRequest(&tt.r)
			if err != nil {
				t.Fatal(err)
			}
			args := RequestInsertArgs(&tt.r, row)
			for i, a := range args { // database/sql hands []byte NULL back as nil
				if b, ok := a.([]byte); ok && len(b) == 0 {
					args[i] = nil
				}
			}
			got, err := ScanRequest(values(args))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.r
			if want.Status.Final() {
				want.Payload, want.Content = nil, nil
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				t.Errorf("round trip:\n got %s\nwant %s", gj, wj)
			}
			if n := len(RequestUpdateArgs(&tt.r, row, "id", int64(1))); n != 21 {
				t.Errorf("RequestUpdateArgs: %d values, want 21", n)
			}
		})
	}
}
