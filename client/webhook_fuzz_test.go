package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzVerifyWebhook: any headers and body are judged without a panic, and
// only a body signed with the secret verifies.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add("evt_1", "1700000000", "v1,abc", []byte(`{"type":"otp.status"}`), true)
	f.Add("", "", "", []byte{}, false)
	f.Add("x", "-1", "v1, v2,xyz v1,", []byte("\x00\xff"), true)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, _ := base64.StdEncoding.DecodeString(secret[6:])
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte, sign bool) {
		h := http.Header{}
		now := strconv.FormatInt(time.Now().Unix(), 10)
		if sign {
			ts = now
			m := hmac.New(sha256.New, key)
			m.Write([]byte(id + "." + ts + "."))
			m.Write(body)
			sigs = "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)) + " " + sigs
		}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sigs)
		err := VerifyWebhook(secret, h, body, time.Minute)
		valid := sign && id != "" && h.Get("webhook-id") == id && h.Get("webhook-signature") == sigs
		if valid && err != nil {
			t.Fatalf("a correctly signed webhook failed: %v", err)
		}
		if !sign && err == nil && ts != now {
			t.Fatalf("an unsigned webhook with a stale timestamp verified")
		}
	})
}
