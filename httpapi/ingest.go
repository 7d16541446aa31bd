package httpapi

import (
	"net/http"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// messageBody is the JSON form of POST /v1/messages.
type messageBody struct {
	Source     agentotp.Channel `json:"source"`
	Sender     string           `json:"sender"`
	Subject    string           `json:"subject"`
	Text       string           `json:"text"`
	HTML       string           `json:"html"`
	ReceivedAt time.Time        `json:"received_at"`
	ExternalID string           `json:"external_id"`
}

// ingestMessage serves POST /v1/messages (source tokens) and POST
// /v1/test/messages (test keys): JSON, or a raw RFC 5322 message with
// Content-Type message/rfc822.
func (s *Server) ingestMessage(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var in relay.IncomingMessage
	switch mediaType(r) {
	case "message/rfc822":
		raw, err := readBody(w, r, maxRawEmail)
		if err != nil {
			s.writeError(w, r, err, 0)
			return
		}
		if len(raw) == 0 {
			s.writeError(w, r, agentotp.Errorf(agentotp.EValidation, "the message is empty"), 0)
			return
		}
		res, err := s.svc.IngestMail(r.Context(), p, agentotp.Mail{Raw: raw, FeederID: r.Header.Get("X-External-ID")})
		s.answerIngest(w, r, agentotp.ChannelEmail, res, err)
		return
	case "application/json", "":
		b, err := readBody(w, r, maxMessageBody)
		if err != nil {
			s.writeError(w, r, err, 0)
			return
		}
		var body messageBody
		if err := unmarshalStrict(b, &body, false); err != nil {
			s.writeError(w, r, err, 0)
			return
		}
		in = relay.IncomingMessage{Source: body.Source, Sender: body.Sender, Subject: body.Subject, Text: body.Text,
			HTML: body.HTML, ReceivedAt: body.ReceivedAt, ExternalID: body.ExternalID}
	default:
		s.writeError(w, r, agentotp.Errorf(agentotp.EUnsupportedMedia, "Content-Type must be application/json or message/rfc822"), 0)
		return
	}
	res, err := s.svc.Ingest(r.Context(), p, in)
	s.answerIngest(w, r, in.Source, res, err)
}

// answerIngest answers a message handed to the relay: 202 with what
// became of it, or the problem.
func (s *Server) answerIngest(w http.ResponseWriter, r *http.Request, source agentotp.Channel, res *agentotp.IngestResult, err error) {
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	s.metrics.ingested(source, res.Matched, res.Duplicate)
	writeJSON(w, s.log, http.StatusAccepted, res)
}
