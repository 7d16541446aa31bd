package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/drain"
	"github.com/agentotp/agentotp/relay"
)

// createRequestBody is the body of POST /v1/otp/request.
type createRequestBody struct {
	Reason         string           `json:"reason"`
	PublicKey      string           `json:"public_key"`
	ExpectedSender string           `json:"expected_sender"`
	Filter         *agentotp.Filter `json:"filter"`
	TTL            *int             `json:"ttl"`
	WebhookURL     string           `json:"webhook_url"`
	IncludeMessage bool             `json:"include_message"`
}

func (s *Server) createRequest(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body createRequestBody
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	in := relay.CreateRequestInput{
		Reason: body.Reason, ExpectedSender: body.ExpectedSender, Filter: body.Filter,
		PublicKey: body.PublicKey, WebhookURL: body.WebhookURL, IncludeMessage: body.IncludeMessage,
	}
	if body.TTL != nil {
		// Range-check the integer before it becomes a Duration, which
		// would wrap a huge value into range.
		if *body.TTL <= 0 || *body.TTL > int(agentotp.MaxTTL/time.Second) {
			s.writeError(w, r, agentotp.FieldErr("ttl", "must be between %d and %d seconds", int(agentotp.MinTTL.Seconds()), int(agentotp.MaxTTL.Seconds())), 0)
			return
		}
		in.TTL = time.Duration(*body.TTL) * time.Second
	}
	req, err := s.svc.CreateRequest(r.Context(), p, in)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	w.Header().Set("Location", "/v1/otp/"+req.ID)
	writeJSON(w, s.log, http.StatusCreated, s.requestView(r.Context(), req))
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	id := r.PathValue("id")
	if ws := r.URL.Query().Get("wait"); ws != "" {
		s.longPoll(w, r, p, id, ws)
		return
	}
	req, err := s.svc.GetRequest(r.Context(), p, id)
	s.answerRequest(w, r, req, err)
}

// longPoll answers GET /v1/otp/{id}?wait=N. It is the frame a waiting
// long-poll sleeps in (under net/http's and the middlewares'), so it
// keeps little on the stack: the answer is built in answerRequest, after
// the wait.
func (s *Server) longPoll(w http.ResponseWriter, r *http.Request, p *relay.Principal, id, ws string) {
	n, ok := s.startLongPoll(w, r, ws)
	if !ok {
		return
	}
	releaseSlot, ok := s.holdWait(w, r, p)
	if !ok {
		return
	}
	defer releaseSlot()
	// A shutdown ends the wait at once (the drain signal) and the
	// answer is the request as it stands, as when the wait runs out.
	req, err := s.svc.WaitRequest(r.Context(), p, id, n, drain.Done(r.Context()))
	if errors.Is(err, relay.ErrWaitStopped) {
		// Close this connection after the answer (over HTTP/2, a
		// GOAWAY): the client's next call goes to the next relay.
		w.Header().Set("Connection", "close")
		if req, err = s.svc.GetRequest(r.Context(), p, id); err != nil && !isDomainError(err) {
			s.log.WarnContext(r.Context(), "shutting down: a long-poll's request could not be read", "err", err)
			err = shuttingDown()
		}
	}
	s.answerRequest(w, r, req, err)
}

// startLongPoll checks ?wait= (answering 422 when it is out of range) and
// moves the connection's write deadline past the wait: long-polls outlive
// the server's write timeout.
//
//go:noinline
func (s *Server) startLongPoll(w http.ResponseWriter, r *http.Request, ws string) (time.Duration, bool) {
	n, err := strconv.Atoi(ws)
	max := int(s.cfg.MaxWait.Seconds())
	if err != nil || n < 1 || n > max {
		s.writeError(w, r, agentotp.FieldErr("wait", "must be an integer between 1 and %d", max), 0)
		return 0, false
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Duration(n+10) * time.Second))
	return time.Duration(n) * time.Second, true
}

// answerRequest writes the agent's view of req, or err.
//
//go:noinline
func (s *Server) answerRequest(w http.ResponseWriter, r *http.Request, req *agentotp.Request, err error) {
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, s.requestView(r.Context(), req))
}

type consumeJSON struct {
	ID               string                    `json:"id"`
	Encryption       string                    `json:"encryption"`
	EncryptedPayload string                    `json:"encrypted_payload"`
	EncryptedContent string                    `json:"encrypted_content,omitempty"`
	Metadata         *agentotp.MessageMetadata `json:"metadata"`
}

func (s *Server) consume(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	c, err := s.svc.Consume(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	out := consumeJSON{
		ID: c.Request.ID, Encryption: c.Request.Encryption,
		EncryptedPayload: base64.StdEncoding.EncodeToString(c.Payload),
		Metadata:         c.Request.Metadata,
	}
	if len(c.Content) > 0 {
		out.EncryptedContent = base64.StdEncoding.EncodeToString(c.Content)
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	req, err := s.svc.Cancel(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, conflictIfFinal(err))
		return
	}
	writeJSON(w, s.log, http.StatusOK, s.requestView(r.Context(), req))
}

// conflictIfFinal makes an event on a final request a 409 that keeps the
// code of its state (docs/api.md, "DELETE /v1/otp/{id}").
func conflictIfFinal(err error) int {
	switch agentotp.ErrorCode(err) {
	case agentotp.EOTPAlreadyConsumed, agentotp.EOTPExpired, agentotp.EOTPCancelled, agentotp.EOTPApprovalDenied:
		return http.StatusConflict
	}
	return 0
}

// requestEvents streams the request object as Server-Sent Events: one
// `status` event now and one at each change the agent can see, until a
// final status or otp_received. Each event's id is a digest of the object
// sent, so a client that reconnects with Last-Event-ID gets no repeat of
// the state it has. Changes the agent must not see (a message held while
// the request waits for approval) produce no event and no new id. A
// stream holds one of the credential's slots for open waits while open.
func (s *Server) requestEvents(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	ctx := r.Context()
	id := r.PathValue("id")
	if drain.Started(ctx) { // a stream opened as the relay stops
		s.writeError(w, r, shuttingDown(), 0)
		return
	}
	releaseSlot, ok := s.holdWait(w, r, p)
	if !ok {
		return
	}
	defer releaseSlot()
	req, err := s.svc.GetRequest(ctx, p, id)
	if err != nil { // unknown or another agent's: a problem, not a stream
		s.writeError(w, r, err, 0)
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if !req.Status.Live() && last != "" && last == s.eventID(r.Context(), req) {
		// Finished, and the client has its last state: 204 stops an
		// EventSource from reconnecting.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush() // the headers now, not at the first change
	token := bearer(r)
	draining := drain.Done(ctx)
	nextBeat := time.Now().Add(s.cfg.SSEHeartbeat)
	for {
		changed, release := s.svc.WatchRequest(id)
		req, err = s.svc.GetRequest(ctx, p, id)
		if err != nil {
			release()
			return
		}
		b, _ := json.Marshal(s.requestView(r.Context(), req))
		if id := eventIDOf(b); id != last {
			if _, err := fmt.Fprintf(w, "id: %s\nevent: status\ndata: %s\n\n", id, b); err != nil {
				release()
				return
			}
			_ = rc.Flush()
			last = id
		}
		if !req.Status.Live() {
			release()
			return
		}
		expiry := req.ExpiresAt
	wait:
		for {
			switch s.parkStream(ctx, changed, earliest(expiry, nextBeat), draining) {
			case streamChanged:
				break wait
			case streamDeadline:
				if !time.Now().Before(expiry) {
					break wait
				}
				if time.Now().Before(nextBeat) {
					continue // woken for a deadline that moved
				}
				nextBeat = nextBeat.Add(s.cfg.SSEHeartbeat)
				if now := time.Now(); nextBeat.Before(now) { // a beat late: none owed
					nextBeat = now.Add(s.cfg.SSEHeartbeat)
				}
				// A revoked or rotated-out key loses its stream.
				if _, err := s.svc.Authenticate(ctx, token); err != nil {
					release()
					return
				}
				if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
					release()
					return
				}
				_ = rc.Flush()
			case streamDraining:
				// The relay is stopping: end the stream cleanly, with
				// a hint to reconnect soon; the client resumes with
				// Last-Event-ID once the relay is back.
				fmt.Fprintf(w, "retry: %d\n\n", drainReconnectMillis)
				_ = rc.Flush()
				release()
				return
			default: // the client went away
				release()
				return
			}
		}
		release()
	}
}

// drainRetryAfter is the Retry-After, in seconds, of a wait or stream
// refused because the relay is shutting down, and drainReconnectMillis the
// SSE reconnection time an event stream gets when the relay stops.
const (
	drainRetryAfter      = 2
	drainReconnectMillis = 2000
)

// shuttingDown is the answer to a wait or stream the relay cannot serve
// because it is stopping: 503, retry in a moment.
func shuttingDown() error {
	return &agentotp.Error{Code: agentotp.EServiceUnavailable, RetryAfter: drainRetryAfter,
		Message: "the relay is restarting; retry in a moment"}
}

// isDomainError reports whether err is one of the relay's answers (not
// found, another agent's, …) rather than a failure to read.
func isDomainError(err error) bool {
	var e *agentotp.Error
	return errors.As(err, &e)
}

// eventID is the SSE event id of the request as the agent sees it: a
// digest of the object sent.
func (s *Server) eventID(ctx context.Context, req *agentotp.Request) string {
	b, _ := json.Marshal(s.requestView(ctx, req))
	return eventIDOf(b)
}

func eventIDOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
