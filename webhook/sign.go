// Package webhook delivers agentotp's outbound webhooks: a worker drains
// the store's durable outbox, POSTs each status change signed per the
// Standard Webhooks specification (webhook-id, webhook-timestamp,
// webhook-signature, and the same signature in X-OTP-Signature), retries
// with exponential backoff and jitter on timeouts, 5xx and 429 (honouring
// Retry-After) for up to a day, stops on 410, and keeps the order of each
// request's events (not of all the events sent to one URL).
//
// Targets are dialled through a guard that checks the address actually
// connected to (in the dialer's Control function, so a DNS answer that
// changes between check and connect cannot slip through) and refuses
// loopback, private, link-local, unique-local, CGNAT, multicast,
// unspecified and cloud-metadata addresses unless private targets are
// allowed. Redirects are never followed.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification, and
// X-OTP-Signature, the same signature under the name that agentotp's
// earlier webhook receivers read.
const (
	HeaderID           = "webhook-id"
	HeaderTimestamp    = "webhook-timestamp"
	HeaderSignature    = "webhook-signature"
	HeaderOTPSignature = "X-OTP-Signature"
)

// SecretPrefix starts every webhook secret.
const SecretPrefix = "whsec_"

// DecodeSecret returns the key bytes of a whsec_ secret: the base64 after
// the prefix, as the Standard Webhooks libraries read it.
func DecodeSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhook: the secret does not start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhook: the secret is not whsec_ and base64")
	}
	return key, nil
}

// Sign returns the webhook-signature value of a message: "v1," and the
// base64 of HMAC-SHA256(key, id "." unix-seconds "." body).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body)), nil
}

// SignAll returns the webhook-signature value of a message signed with
// each of secrets: their "v1,…" signatures separated by spaces (Standard
// Webhooks), in the order given. A receiver accepts any that matches.
func SignAll(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhook: no secret to sign with")
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, id, ts, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "%s.%d.", id, ts)
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received message the way a receiver does: the
// timestamp within tolerance of now, and one of the space-separated
// signatures a valid v1 signature (compared in constant time). It is the
// relay's own check of what it sends; agents use client.VerifyWebhook.
func Verify(secret, id, timestamp, signatures string, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := DecodeSecret(secret)
	if err != nil {
		return err
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook: bad timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook: timestamp outside the tolerance")
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(signatures) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("webhook: no matching signature")
}
