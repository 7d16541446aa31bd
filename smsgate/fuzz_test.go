package smsgate_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp/smsgate"
)

// FuzzParse feeds arbitrary bodies to the decoder: it must never panic,
// must fail only with ErrMalformed, and what it accepts must hold its
// invariants (required fields set, limits kept, UTF-8 text).
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"event":"sms:sent","id":"x","payload":{"messageId":"m","phoneNumber":"+1","sentAt":"2024-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"event":"system:ping","id":"p","payload":{"health":{"status":"pass"}}}`))
	f.Add([]byte(`{"event":"sms:received","id":"x","payload":{"message":"\u0000","phoneNumber":" "}}`))
	f.Add([]byte(`{"event":"sms:received","id":"x","payload":{"message":"a","phoneNumber":"1","simNumber":null,"receivedAt":"2024-06-22T15:46:11+07:00"}}`))
	f.Add([]byte(`{"event":"sms:received","id":"\xff","payload":[]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := smsgate.Parse(body)
		if err != nil {
			if !errors.Is(err, smsgate.ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if w.Event == "" || w.ID == "" || len(w.ID) > smsgate.MaxIDLen || !utf8.ValidString(w.ID) {
			t.Fatalf("Parse accepted an invalid envelope: %+v", w)
		}
		s, err := w.SMS()
		if err != nil {
			if !errors.Is(err, smsgate.ErrMalformed) {
				t.Fatalf("SMS error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if w.Event != smsgate.EventSMSReceived || s.PhoneNumber == "" || s.Message == "" ||
			len(s.Message) > smsgate.MaxMessageLen || !utf8.ValidString(s.Message) || !utf8.ValidString(s.PhoneNumber) {
			t.Fatalf("SMS accepted an invalid payload: %+v", s)
		}
	})
}

// FuzzSignature checks that no signature or timestamp input panics, and
// that only the exact HMAC verifies.
func FuzzSignature(f *testing.F) {
	key := []byte("sk_fuzz")
	f.Add([]byte(sample), "1800000000", smsgate.Sign(key, []byte(sample), "1800000000"))
	f.Add([]byte("{}"), "", "")
	f.Add([]byte("x"), "-1", "00")
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string) {
		now := time.Unix(1_800_000_000, 0)
		_ = smsgate.CheckTimestamp(ts, now)
		if smsgate.ValidSignature(key, body, ts, sig) {
			if want := smsgate.Sign(key, body, ts); !equalFoldHex(want, strings.TrimSpace(sig)) {
				t.Fatalf("ValidSignature accepted %q; the signature is %q", sig, want)
			}
		}
	})
}

func equalFoldHex(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if y >= 'A' && y <= 'F' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
