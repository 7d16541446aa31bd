package smsgate_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/agentotp/agentotp/smsgate"
)

const sample = `{"deviceId":"ffffffffceb0b1db0000018e937c815b","event":"sms:received","id":"Ey6ECgOkVVFjz3CL48B8C",` +
	`"payload":{"messageId":"abc123","message":"Your Acme code is 604918","phoneNumber":"+15551234567","simNumber":1,` +
	`"receivedAt":"2024-06-22T15:46:11.000+07:00"},"webhookId":"LreFUt-Z3sSq0JufY9uWB"}`

func TestParseSMS(t *testing.T) {
	w, err := smsgate.Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if w.Event != smsgate.EventSMSReceived || w.ID != "Ey6ECgOkVVFjz3CL48B8C" || w.DeviceID == "" || w.WebhookID != "LreFUt-Z3sSq0JufY9uWB" {
		t.Fatalf("envelope: %+v", w)
	}
	s, err := w.SMS()
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 6, 22, 8, 46, 11, 0, time.UTC)
	if s.Message != "Your Acme code is 604918" || s.PhoneNumber != "+15551234567" || s.SimNumber == nil || *s.SimNumber != 1 || !s.ReceivedAt.Equal(want) {
		t.Fatalf("sms: %+v", s)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, body string
		sms        bool // the error comes from SMS(), not Parse
	}{
		{"not JSON", `{"event":`, false},
		{"array", `[1,2]`, false},
		{"no event", `{"id":"x","payload":{}}`, false},
		{"no id", `{"event":"sms:received","payload":{}}`, false},
		{"id not a string", `{"event":"sms:received","id":5}`, false},
		{"no payload", `{"event":"sms:received","id":"x"}`, true},
		{"null payload", `{"event":"sms:received","id":"x","payload":null}`, true},
		{"payload not an object", `{"event":"sms:received","id":"x","payload":"hi"}`, true},
		{"no message", `{"event":"sms:received","id":"x","payload":{"phoneNumber":"+1555"}}`, true},
		{"blank message", `{"event":"sms:received","id":"x","payload":{"phoneNumber":"+1555","message":"  "}}`, true},
		{"no phone", `{"event":"sms:received","id":"x","payload":{"message":"code 1234"}}`, true},
		{"simNumber not a number", `{"event":"sms:received","id":"x","payload":{"message":"a","phoneNumber":"1","simNumber":"one"}}`, true},
		{"other event", `{"event":"sms:sent","id":"x","payload":{"message":"a","phoneNumber":"1"}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := smsgate.Parse([]byte(tt.body))
			if !tt.sms {
				if !errors.Is(err, smsgate.ErrMalformed) {
					t.Fatalf("Parse = %v, %v; want ErrMalformed", w, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s, err := w.SMS(); !errors.Is(err, smsgate.ErrMalformed) {
				t.Fatalf("SMS = %+v, %v; want ErrMalformed", s, err)
			}
		})
	}
}

func TestReceivedAtLenient(t *testing.T) {
	w, err := smsgate.Parse([]byte(`{"event":"sms:received","id":"x","payload":{"message":"a","phoneNumber":"1","receivedAt":"yesterday"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.SMS()
	if err != nil || !s.ReceivedAt.IsZero() {
		t.Fatalf("SMS = %+v, %v; want a zero ReceivedAt", s, err)
	}
}

func TestSignature(t *testing.T) {
	key := []byte("sk_test_token")
	body := []byte(sample)
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := smsgate.Sign(key, body, ts)
	if len(sig) != 64 {
		t.Fatalf("signature %q is not 64 hex digits", sig)
	}
	tests := []struct {
		name      string
		key, body []byte
		ts, sig   string
		want      bool
	}{
		{"valid", key, body, ts, sig, true},
		{"upper-case hex", key, body, ts, upper(sig), true},
		{"other key", []byte("sk_other"), body, ts, sig, false},
		{"body changed", key, append([]byte(sample), ' '), ts, sig, false},
		{"timestamp changed", key, body, strconv.FormatInt(now.Unix()+1, 10), sig, false},
		{"not hex", key, body, ts, "zz" + sig[2:], false},
		{"truncated", key, body, ts, sig[:62], false},
		{"empty", key, body, ts, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := smsgate.ValidSignature(tt.key, tt.body, tt.ts, tt.sig); got != tt.want {
				t.Errorf("ValidSignature = %v; want %v", got, tt.want)
			}
		})
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		ts   string
		want error
	}{
		{strconv.FormatInt(now.Unix(), 10), nil},
		{strconv.FormatInt(now.Unix()-299, 10), nil},
		{strconv.FormatInt(now.Unix()+299, 10), nil},
		{strconv.FormatInt(now.Unix()-301, 10), smsgate.ErrStale},
		{strconv.FormatInt(now.Unix()+301, 10), smsgate.ErrStale},
		{"", smsgate.ErrUnsigned},
		{"soon", smsgate.ErrStale},
		{"-5", smsgate.ErrStale},
		{"1800000000000", smsgate.ErrStale}, // milliseconds
		{"99999999999999999999999", smsgate.ErrStale},
	}
	for _, tt := range tests {
		if err := smsgate.CheckTimestamp(tt.ts, now); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("CheckTimestamp(%q) = %v; want %v", tt.ts, err, tt.want)
		}
	}
}
