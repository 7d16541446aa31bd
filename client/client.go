// Package client is the Go SDK of agentotp. Its names are those of the
// agentotp integration pattern in every language (requestOTP,
// getOTPStatus, consumeOTP, …; see docs/design.md, "SDKs") in Go form:
// RequestOTP, GetOTPStatus, ConsumeOTP, CancelOTPRequest,
// GenerateKeyPair, ExportPublicKey, and error classes that work with
// errors.Is.
//
//	otp := client.New(os.Getenv("AGENT_OTP_API_KEY"))
//	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
//	req, err := otp.RequestOTP(ctx, client.RequestOptions{
//		Reason: "Sign up for Acme", PublicKey: client.ExportPublicKey(pub), WaitForOTP: true,
//	})
//	if err == nil && req.Status == client.StatusOTPReceived {
//		res, _ := otp.ConsumeOTP(ctx, req.ID, priv)
//		fmt.Println(res.Code)
//	}
//
// Waiting uses the relay's long-poll (GET /v1/otp/{id}?wait=…), never a
// sleep loop. Calls are retried, with backoff, only where retrying cannot
// repeat an effect: GET and DELETE on network errors and 5xx, and POST only
// when the connection could not be made.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultBaseURL is used when neither WithBaseURL nor AGENT_OTP_BASE_URL
// nor AGENTOTP_URL is set.
const DefaultBaseURL = "http://127.0.0.1:8787"

// Client talks to the agent API of one relay with one API key.
type Client struct {
	apiKey     string
	baseURL    string
	http       *http.Client
	maxRetries int
	backoff    time.Duration
	userAgent  string
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the relay's URL.
func WithBaseURL(u string) Option { return func(c *Client) { c.baseURL = strings.TrimRight(u, "/") } }

// WithHTTPClient sets the HTTP client (its Timeout must exceed long-poll
// waits; the default has none and relies on contexts).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithMaxRetries sets how many times a retryable call is retried (default 3).
func WithMaxRetries(n int) Option { return func(c *Client) { c.maxRetries = n } }

// WithBackoff sets the first retry delay (default 250 ms, doubling, with jitter).
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// New returns a client for apiKey (ak_live_… or ak_test_…). The relay's
// URL is WithBaseURL, else $AGENT_OTP_BASE_URL (the integration guide's
// name, as the TypeScript and Python SDKs read it), else $AGENTOTP_URL,
// else DefaultBaseURL.
func New(apiKey string, opts ...Option) *Client {
	c := &Client{apiKey: apiKey, baseURL: DefaultBaseURL, http: &http.Client{}, maxRetries: 3, backoff: 250 * time.Millisecond, userAgent: "agentotp-go"}
	for _, name := range []string{"AGENT_OTP_BASE_URL", "AGENTOTP_URL"} {
		if u := os.Getenv(name); u != "" {
			c.baseURL = strings.TrimRight(u, "/")
			break
		}
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Status of a request.
type Status string

// The statuses of a request.
const (
	StatusPendingApproval Status = "pending_approval"
	StatusApproved        Status = "approved"
	StatusOTPReceived     Status = "otp_received"
	StatusConsumed        Status = "consumed"
	StatusDenied          Status = "denied"
	StatusExpired         Status = "expired"
	StatusCancelled       Status = "cancelled"
)

// Waiting reports whether the request may still change on its own
// (pending approval, or approved and waiting for the message).
func (s Status) Waiting() bool { return s == StatusPendingApproval || s == StatusApproved }

// Filter narrows which message may feed a request.
type Filter struct {
	Sources        []string  `json:"sources,omitempty"`
	SenderPattern  string    `json:"sender_pattern,omitempty"`
	ContentPattern string    `json:"content_pattern,omitempty"`
	ReceivedAfter  time.Time `json:"received_after,omitzero"`
}

// Metadata describes the message that fed a request; never its text.
type Metadata struct {
	MessageID  string    `json:"message_id,omitempty"`
	Source     string    `json:"source"`
	Sender     string    `json:"sender"`
	Subject    string    `json:"subject,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	Confidence float64   `json:"confidence,omitempty"`
	Domain     string    `json:"domain,omitempty"`
}

// OTPRequest is the relay's request object.
type OTPRequest struct {
	ID                   string     `json:"id"`
	OwnerID              string     `json:"owner_id"`
	AgentID              string     `json:"agent_id"`
	Status               Status     `json:"status"`
	Reason               string     `json:"reason"`
	ExpectedSender       *string    `json:"expected_sender"`
	Filter               *Filter    `json:"filter"`
	Encryption           Algorithm  `json:"encryption"`
	PublicKeyFingerprint string     `json:"public_key_fingerprint"`
	IncludeMessage       bool       `json:"include_message"`
	WebhookURL           *string    `json:"webhook_url"`
	ApprovalURL          string     `json:"approval_url"`
	Test                 bool       `json:"test"`
	CreatedAt            time.Time  `json:"created_at"`
	ExpiresAt            time.Time  `json:"expires_at"`
	DecidedAt            *time.Time `json:"decided_at"`
	DecidedBy            *string    `json:"decided_by"`
	DenyReason           *string    `json:"deny_reason"`
	Metadata             *Metadata  `json:"metadata"`
	ConsumedAt           *time.Time `json:"consumed_at"`
	// Approval is the decision's statement once decided: check it with
	// VerifyApproval to know that the owner, not the relay, approved.
	Approval *Approval `json:"approval"`
}

// RequestOptions are the arguments of RequestOTP.
type RequestOptions struct {
	Reason         string
	ExpectedSender string
	Filter         *Filter
	// PublicKey is ExportPublicKey of the agent's key.
	PublicKey string
	// TTL of the request (60 s – 1 h; 0: the relay's default, 5 min).
	TTL time.Duration
	// WaitForOTP makes RequestOTP wait until the request is no longer
	// pending or approved, or Timeout passes.
	WaitForOTP bool
	// Timeout bounds the wait (0: 120 s).
	Timeout        time.Duration
	WebhookURL     string
	IncludeMessage bool
}

type requestBody struct {
	Reason         string  `json:"reason"`
	PublicKey      string  `json:"public_key"`
	ExpectedSender string  `json:"expected_sender,omitempty"`
	Filter         *Filter `json:"filter,omitempty"`
	TTL            int     `json:"ttl,omitempty"`
	WebhookURL     string  `json:"webhook_url,omitempty"`
	IncludeMessage bool    `json:"include_message,omitempty"`
}

// RequestOTP asks the relay for one code. With WaitForOTP it then waits
// (long-poll) and returns the request in the status it reached: check
// Status. A wait that runs out returns the request as it
// stands, still waiting, and no error; a wait that fails otherwise (the
// context ends, the network fails) returns the created request together
// with the error, so that it can be cancelled.
func (c *Client) RequestOTP(ctx context.Context, opts RequestOptions) (*OTPRequest, error) {
	body := requestBody{
		Reason: opts.Reason, PublicKey: opts.PublicKey, ExpectedSender: opts.ExpectedSender,
		Filter: opts.Filter, WebhookURL: opts.WebhookURL, IncludeMessage: opts.IncludeMessage,
		TTL: int(opts.TTL / time.Second),
	}
	var req OTPRequest
	if err := c.do(ctx, http.MethodPost, "/v1/otp/request", body, &req); err != nil {
		return nil, err
	}
	if !opts.WaitForOTP || !req.Status.Waiting() {
		return &req, nil
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 120 * time.Second
	}
	got, err := c.WaitForOTP(ctx, req.ID, timeout)
	switch {
	case errors.Is(err, ErrTimeout):
		if got == nil {
			// The relay never answered within the timeout: the request
			// as created is the last known.
			got = &req
		}
		return got, nil
	case err != nil:
		// The request exists: hand it back with the error, so that the
		// caller can cancel it or wait again.
		return &req, err
	}
	return got, nil
}

// GetOTPStatus returns the request now.
func (c *Client) GetOTPStatus(ctx context.Context, id string) (*OTPRequest, error) {
	var req OTPRequest
	if err := c.do(ctx, http.MethodGet, "/v1/otp/"+url.PathEscape(id), nil, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// WaitOTPStatus long-polls once: it returns when the request leaves
// pending_approval/approved or after wait (1–55 s).
func (c *Client) WaitOTPStatus(ctx context.Context, id string, wait time.Duration) (*OTPRequest, error) {
	secs := int(wait.Round(time.Second) / time.Second)
	secs = max(1, min(55, secs))
	var req OTPRequest
	if err := c.do(ctx, http.MethodGet, "/v1/otp/"+url.PathEscape(id)+"?wait="+strconv.Itoa(secs), nil, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// WaitForOTP waits until the request is no longer pending or approved. It
// returns the request and, if timeout passed first, an ErrTimeout error
// along with the request as it stands. It waits across a relay restart:
// see WaitForOTPWith.
func (c *Client) WaitForOTP(ctx context.Context, id string, timeout time.Duration) (*OTPRequest, error) {
	return c.WaitForOTPWith(ctx, id, WaitOptions{Timeout: timeout})
}

// WaitOptions are the arguments of WaitForOTPWith.
type WaitOptions struct {
	// Timeout bounds the whole wait. Long-polls last whole seconds, so
	// the wait ends once less than a second is left; under a second
	// there is no time for a long-poll: the status is read once.
	Timeout time.Duration
	// Poll bounds one long-poll (1–55 s; 0: 55 s), so that OnWait is
	// called at least that often while the relay answers.
	Poll time.Duration
	// OnWait, when set, is called before each long-poll with the request
	// as last seen (nil before the relay first answered) and, when the
	// previous attempt failed transiently and is being retried, its
	// error.
	OnWait func(last *OTPRequest, retrying error)
}

// Bounds of the retries of a wait across a relay restart.
const (
	waitBackoffMax  = 5 * time.Second  // the longest pause between tries of our own choosing
	retryAfterLimit = 30 * time.Second // the longest Retry-After honoured
)

// WaitForOTPWith is WaitForOTP with options. A failure that a restarting
// relay causes — the connection refused or reset, 502, 503 or 504 (with or
// without Retry-After, honoured up to 30 s), an empty or cut-short answer
// — is transient: the wait tries again with backoff (from the client's
// backoff, doubling, at most 5 s between tries) until Timeout. Any other
// error ends the wait at once. If Timeout passes first, the error is
// ErrTimeout with the request as last seen (nil if the relay never
// answered) and, when the relay was unreachable at the end, the transient
// error inside it.
func (c *Client) WaitForOTPWith(ctx context.Context, id string, o WaitOptions) (*OTPRequest, error) {
	poll := o.Poll
	if poll <= 0 || poll > 55*time.Second {
		poll = 55 * time.Second
	}
	deadline := time.Now().Add(o.Timeout)
	var last *OTPRequest
	var retrying error
	base := c.backoff
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	delay := base
	for {
		left := time.Until(deadline)
		if (left < time.Second && last != nil) || (left <= 0 && retrying != nil) {
			return last, waitTimeout(id, last, retrying)
		}
		if o.OnWait != nil {
			o.OnWait(last, retrying)
		}
		var req OTPRequest
		var err error
		started, secs := time.Now(), 0
		if left < time.Second && last == nil {
			// Too little time for one long-poll: read the status once.
			err, _ = c.once(ctx, http.MethodGet, "/v1/otp/"+url.PathEscape(id), "", nil, &req)
		} else {
			// Whole seconds, rounded down: a wait never outlasts its
			// timeout.
			secs = max(1, min(55, int(min(left, poll)/time.Second)))
			err, _ = c.once(ctx, http.MethodGet, "/v1/otp/"+url.PathEscape(id)+"?wait="+strconv.Itoa(secs), "", nil, &req)
		}
		if err == nil && req.Status == "" {
			err = cutShort(200, errors.New("the answer holds no status"))
		}
		if err == nil {
			// A long-poll answered early with nothing new (a relay
			// ending its waits as it shuts down) is not retried at once:
			// it pauses as after a failure, so as not to spin.
			early := secs > 0 && last != nil && req.Status == last.Status && time.Since(started) < time.Duration(secs)*time.Second/2
			last, retrying = &req, nil
			if !req.Status.Waiting() {
				return last, nil
			}
			if !early {
				delay = base
				continue
			}
		} else {
			if ctx.Err() != nil {
				return last, networkError(ctx.Err())
			}
			if !Transient(err) {
				return last, err
			}
			retrying = err
		}
		pause := delay + time.Duration(rand.Int64N(int64(delay)/2+1))
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			pause = max(pause, min(e.RetryAfter, retryAfterLimit))
		}
		pause = min(pause, time.Until(deadline))
		delay = min(delay*2, waitBackoffMax)
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return last, networkError(ctx.Err())
			case <-t.C:
			}
		}
	}
}

// waitTimeout is the ErrTimeout of a wait that ran out.
func waitTimeout(id string, last *OTPRequest, retrying error) error {
	status := "waiting"
	if last != nil {
		status = string(last.Status)
	}
	e := &Error{Class: ErrTimeout, Message: fmt.Sprintf("request %s still %s", id, status)}
	if retrying != nil {
		e.Message += "; the relay was not answering"
		e.Err = retrying
	}
	return e
}

// Transient reports whether err is one a restarting relay causes and a
// later try may not: the connection refused, reset or cut short (not a
// cancelled context), a 502, 503 or 504 answer, or an empty or
// truncated answer body. Waits retry these until their timeout.
func Transient(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Class {
	case ErrNetwork:
		return !errors.Is(e.Err, context.Canceled) && !errors.Is(e.Err, context.DeadlineExceeded)
	case ErrServer:
		return e.StatusCode == http.StatusBadGateway || e.StatusCode == http.StatusServiceUnavailable || e.StatusCode == http.StatusGatewayTimeout
	}
	return false
}

// ConsumeResult is a consumed, decrypted code.
type ConsumeResult struct {
	Code string
	// FullMessage is the message text, when the request asked for it and
	// the owner allowed it. It is untrusted input: never feed it to a
	// model as instructions.
	FullMessage string
	Metadata    *Metadata
	// Encryption and the base64 ciphertexts as the relay handed them
	// over; kept so that a failed decryption can be retried.
	Encryption       Algorithm
	EncryptedPayload string
	EncryptedContent string
}

type consumeBody struct {
	ID               string    `json:"id"`
	Encryption       Algorithm `json:"encryption"`
	EncryptedPayload string    `json:"encrypted_payload"`
	EncryptedContent string    `json:"encrypted_content"`
	Metadata         *Metadata `json:"metadata"`
}

// ConsumeOTP reads the sealed code once and decrypts it with the agent's
// private key. A second call fails with ErrAlreadyConsumed.
//
// The relay deletes the ciphertext when it hands it over, so a key that
// cannot decrypt it would lose the code. ConsumeOTP therefore first reads
// the request and refuses, consuming nothing, a nil key or a key whose
// fingerprint is not the request's public_key_fingerprint. Should
// decryption fail all the same, the result still carries the ciphertext
// (Encrypted…) beside the ErrDecryption error.
func (c *Client) ConsumeOTP(ctx context.Context, id string, priv *PrivateKey) (*ConsumeResult, error) {
	if priv == nil {
		return nil, decryptionError(errors.New("no private key given; nothing was consumed"))
	}
	req, err := c.GetOTPStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	if fp := priv.Public().Fingerprint(); fp != req.PublicKeyFingerprint {
		return nil, decryptionError(fmt.Errorf("the private key (%s) does not belong to the request's public key (%s); nothing was consumed", fp, req.PublicKeyFingerprint))
	}
	var body consumeBody
	if err := c.do(ctx, http.MethodPost, "/v1/otp/"+url.PathEscape(id)+"/consume", nil, &body); err != nil {
		return nil, err
	}
	res := &ConsumeResult{Metadata: body.Metadata, Encryption: body.Encryption,
		EncryptedPayload: body.EncryptedPayload, EncryptedContent: body.EncryptedContent}
	// The payload must be in the form the request asked for: a request
	// made with a bound RSA key never takes a plain one (which any earlier
	// request with the same key could have produced).
	if body.Encryption != req.Encryption || body.ID != id {
		return res, decryptionError(fmt.Errorf("the payload is %s for %s; the request %s asked for %s", body.Encryption, body.ID, id, req.Encryption))
	}
	code, err := DecryptOTPPayloadAs(priv, req.Encryption, id, body.EncryptedPayload)
	if err != nil {
		return res, err
	}
	res.Code = code
	if body.EncryptedContent != "" {
		if res.FullMessage, err = DecryptOTPPayloadAs(priv, req.Encryption, id, body.EncryptedContent); err != nil {
			return res, err
		}
	}
	return res, nil
}

// CancelOTPRequest cancels a live request.
func (c *Client) CancelOTPRequest(ctx context.Context, id string) (*OTPRequest, error) {
	var req OTPRequest
	if err := c.do(ctx, http.MethodDelete, "/v1/otp/"+url.PathEscape(id), nil, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// TestMessage is a message a test key posts to feed its own filtered
// requests (POST /v1/test/messages).
type TestMessage struct {
	Source     string    `json:"source"`
	Sender     string    `json:"sender"`
	Subject    string    `json:"subject,omitempty"`
	Text       string    `json:"text,omitempty"`
	HTML       string    `json:"html,omitempty"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
	ExternalID string    `json:"external_id,omitempty"`
}

// IngestResult says whether a posted message fed a request.
type IngestResult struct {
	MessageID string `json:"message_id"`
	Matched   bool   `json:"matched"`
	// Reason says, when Matched is false and the message is not a
	// duplicate, why: IngestNoMatch or IngestNoCode. Never anything of
	// the message's text.
	Reason    string `json:"reason,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Reasons a posted message fed no request (IngestResult.Reason).
const (
	// IngestNoMatch: no waiting request's filter takes the message (or
	// the one that did was taken meanwhile).
	IngestNoMatch = "no_match"
	// IngestNoCode: a waiting request's filter takes the message, but
	// no code could be read in it.
	IngestNoCode = "no_code"
)

// SendTestMessage posts a message with a test key, so that an agent's
// filters can be tested end to end.
func (c *Client) SendTestMessage(ctx context.Context, m TestMessage) (*IngestResult, error) {
	var res IngestResult
	if err := c.do(ctx, http.MethodPost, "/v1/test/messages", m, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

type problem struct {
	Code       string       `json:"code"`
	Message    string       `json:"message"`
	Detail     string       `json:"detail"`
	Errors     []FieldError `json:"errors"`
	RetryAfter int          `json:"retry_after"`
	DenyReason string       `json:"deny_reason"`
}

// do sends one API call, retrying where that is safe.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return &Error{Class: ErrValidation, Message: "cannot encode the request", Err: err}
		}
	}
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		err, retryable := c.once(ctx, method, path, "application/json", payload, out)
		if err == nil || !retryable || attempt >= c.maxRetries || ctx.Err() != nil {
			return err
		}
		pause := delay + time.Duration(rand.Int64N(int64(delay)/2+1))
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			pause = max(pause, min(e.RetryAfter, retryAfterLimit))
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return networkError(ctx.Err())
		case <-t.C:
		}
		delay *= 2
	}
}

// doRaw posts a non-JSON body once (it is not retried: a message may
// already have been taken).
func (c *Client) doRaw(ctx context.Context, path, contentType string, payload []byte, out any) error {
	err, _ := c.once(ctx, http.MethodPost, path, contentType, payload, out)
	return err
}

// once makes one attempt and says whether a failure may be retried.
func (c *Client) once(ctx context.Context, method, path, contentType string, payload []byte, out any) (error, bool) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return &Error{Class: ErrValidation, Message: "cannot build the request", Err: err}, false
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return networkError(ctx.Err()), false
		}
		// A refused connection never reached the relay: safe to retry any
		// method. Other network errors may have, so only idempotent ones.
		return networkError(err), method != http.MethodPost || errors.Is(err, syscall.ECONNREFUSED) || isDialError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return networkError(err), method != http.MethodPost
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				if truncatedJSON(data, err) {
					// An empty or cut-short answer (a relay shutting down
					// mid-answer): the call may be tried again like a
					// dropped connection, where that is safe.
					return cutShort(resp.StatusCode, err), method != http.MethodPost
				}
				return &Error{Class: ErrUnexpected, StatusCode: resp.StatusCode, Message: "the relay's answer is not the expected JSON", Err: err}, false
			}
		}
		return nil, false
	}
	e := problemError(resp, data)
	// A 5xx to a POST may come after the relay acted (a proxy's 504): a
	// retried consume would lose the code, a retried request would ask the
	// owner twice. Only GET and DELETE are retried on 5xx.
	return e, resp.StatusCode >= 500 && method != http.MethodPost
}

// problemError turns a relay's error answer into an *Error.
func problemError(resp *http.Response, data []byte) *Error {
	var p problem
	_ = json.Unmarshal(data, &p)
	e := &Error{Class: classOf(resp.StatusCode, p.Code), StatusCode: resp.StatusCode, Code: p.Code, Message: p.Message, Fields: p.Errors, DenyReason: p.DenyReason}
	if e.Message == "" {
		e.Message = p.Detail
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if p.RetryAfter > 0 {
		e.RetryAfter = time.Duration(p.RetryAfter) * time.Second
	} else if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// truncatedJSON reports whether data failed to decode because it is empty
// or ends too soon, rather than because it is something else.
func truncatedJSON(data []byte, err error) bool {
	if len(bytes.TrimSpace(data)) == 0 {
		return true
	}
	var se *json.SyntaxError
	return errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &se) && se.Offset >= int64(len(data)))
}

// cutShort is the error of an answer that arrived incomplete: a network
// error, so that it is retried and waited across like a dropped
// connection.
func cutShort(status int, err error) error {
	return &Error{Class: ErrNetwork, StatusCode: status, Message: "the relay's answer was cut short", Err: err}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// String describes the request briefly, for logs.
func (r *OTPRequest) String() string {
	return fmt.Sprintf("%s (%s)", r.ID, r.Status)
}
