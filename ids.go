package agentotp

import (
	"crypto/rand"
	"encoding/base64"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters drawn uniformly from base62 by
// rejection sampling of crypto/rand bytes.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		rand.Read(buf) // never fails (crypto/rand panics on an unusable source)
		for _, b := range buf {
			if b >= 248 { // 248 = 4·62: keep the distribution uniform
				continue
			}
			out = append(out, base62[b%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// NewID returns a new opaque id with the given prefix ("otp_", "agt_", …):
// 22 base62 characters, about 131 bits.
func NewID(prefix string) string { return prefix + randomBase62(22) }

// NewToken returns a new bearer token with the given prefix: 40 base62
// characters, about 238 bits.
func NewToken(prefix string) string { return prefix + randomBase62(40) }

// NewWebhookSecret returns whsec_ and the base64 of 32 random bytes, the
// Standard Webhooks secret form.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}
