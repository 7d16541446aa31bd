package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/smsgate"
)

// smsGateAck answers a webhook event that carries no SMS for the relay.
type smsGateAck struct {
	Ignored bool   `json:"ignored"`
	Event   string `json:"event"`
}

// ingestSMSGate serves POST /v1/ingest/sms-gate: the android-sms-gateway
// webhook. Its credential is its signature: X-Signature = hex
// HMAC-SHA256(source token, body ‖ X-Timestamp), with X-Timestamp within
// five minutes. ?source=src_… names the source; without it every SMS
// source's token is tried. An sms:received event is ingested as an SMS,
// de-duplicated on the event id; other events are acknowledged (200) and
// ignored. The gateway retries on any non-2xx, so a repeat is 202 with
// "duplicate": true and changes nothing. The signature is always checked:
// a gateway whose signature verifies is never refused for other clients'
// failures; one that does not verify counts as a failure of its client's
// address, and past the limit of failures is answered 429.
func (s *Server) ingestSMSGate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, smsgate.MaxBody)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	ts, sig := r.Header.Get(smsgate.HeaderTimestamp), r.Header.Get(smsgate.HeaderSignature)
	p, err := s.smsGateSource(r, body, ts, sig)
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	if !s.checkLimit(w, r, s.sourceRL, p.KeyHash, time.Now()) { // limiter.go
		return
	}
	hook, err := smsgate.Parse(body)
	if err != nil {
		s.writeError(w, r, agentotp.Errorf(agentotp.EValidation, "%v", err), 0)
		return
	}
	if hook.Event != smsgate.EventSMSReceived {
		writeJSON(w, s.log, http.StatusOK, smsGateAck{Ignored: true, Event: hook.Event})
		return
	}
	sms, err := hook.SMS()
	if err != nil {
		s.writeError(w, r, agentotp.Errorf(agentotp.EValidation, "%v", err), 0)
		return
	}
	// The phone's clock may be off by as much as the signature's timestamp
	// is allowed to be; within that window the relay's clock decides. An
	// SMS the phone received clearly earlier keeps its time, so that it
	// cannot feed a request made after it.
	received := time.Time{}
	if !sms.ReceivedAt.IsZero() && sms.ReceivedAt.Before(s.svc.Now().Add(-smsgate.MaxSkew)) {
		received = sms.ReceivedAt
	}
	res, err := s.svc.Ingest(r.Context(), p, relay.IncomingMessage{
		Source: agentotp.ChannelSMS, Sender: sms.PhoneNumber, Text: sms.Message,
		ReceivedAt: received, ExternalID: "sms-gate:" + hook.ID,
	})
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	s.metrics.ingested(agentotp.ChannelSMS, res.Matched, res.Duplicate)
	writeJSON(w, s.log, http.StatusAccepted, res)
}

// smsGateSource checks the webhook's timestamp and signature and returns
// the source whose token signed it.
func (s *Server) smsGateSource(r *http.Request, body []byte, ts, sig string) (*relay.Principal, error) {
	if ts == "" || sig == "" {
		return nil, agentotp.Errorf(agentotp.EAuthentication, "the webhook is not signed: X-Signature and X-Timestamp are required")
	}
	if err := smsgate.CheckTimestamp(ts, s.svc.Now()); err != nil {
		if errors.Is(err, smsgate.ErrStale) {
			return nil, agentotp.Errorf(agentotp.EAuthentication, "X-Timestamp is not within 5 minutes of the relay's clock (Unix seconds expected)")
		}
		return nil, agentotp.Errorf(agentotp.EAuthentication, "the webhook is not signed: X-Signature and X-Timestamp are required")
	}
	return s.svc.SourceSigned(r.Context(), r.URL.Query().Get("source"), func(key []byte) bool {
		return smsgate.ValidSignature(key, body, ts, sig)
	})
}
