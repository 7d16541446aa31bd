// Package mcp is agentotp's Model Context Protocol server: it gives any
// MCP-capable agent a get_verification_code tool (and a request / check /
// cancel trio for clients that cannot hold a call open), built on the
// official SDK github.com/modelcontextprotocol/go-sdk.
//
// The server is an agent of the relay: it holds the agent's API key and
// makes a fresh HPKE X25519 key pair in memory for every request, so the
// code is decrypted inside this process and nowhere else. Tools return the
// code only — never the message text or subject, which a sender controls
// and could fill with instructions for the model.
package mcp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentotp/agentotp/client"
)

// Tool names.
const (
	ToolGet     = "get_verification_code"
	ToolRequest = "request_verification_code"
	ToolCheck   = "check_verification_code"
	ToolCancel  = "cancel_verification_code"
)

// Config configures the server.
type Config struct {
	// Client is the agent API client, with the agent's key and the relay's URL.
	Client *client.Client
	// Version is reported to MCP clients.
	Version string
	// DefaultTimeout is how long get_verification_code waits when the
	// call names no timeout_seconds (default 300 s).
	DefaultTimeout time.Duration
	// MaxTimeout bounds timeout_seconds (default 3600 s).
	MaxTimeout time.Duration
	// ProgressEvery is how often a waiting call sends a progress
	// notification (default 10 s), so that clients do not time out.
	ProgressEvery time.Duration
	// MaxPending bounds the requests whose private keys the server holds
	// for check_verification_code (default 100).
	MaxPending int
	Logger     *slog.Logger
}

// Server is the agentotp MCP server.
type Server struct {
	cfg Config
	otp *client.Client
	log *slog.Logger
	sdk *mcpsdk.Server

	mu   sync.Mutex
	keys map[string]*heldKey // request id → private key, for check_verification_code
}

type heldKey struct {
	priv    *client.PrivateKey
	expires time.Time
}

// New returns a server with the four tools.
func New(cfg Config) *Server {
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 300 * time.Second
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = time.Hour
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 10 * time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100
	}
	if cfg.Version == "" {
		cfg.Version = "v1"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, otp: cfg.Client, log: log, keys: map[string]*heldKey{}}
	s.sdk = mcpsdk.NewServer(&mcpsdk.Implementation{Name: "agentotp", Title: "agentotp: one-time codes with the owner's approval", Version: cfg.Version},
		&mcpsdk.ServerOptions{
			Instructions: "Use get_verification_code when a website or service sends a one-time verification code (by SMS or email) " +
				"that you need to continue. The owner approves each request; you get the code only, never the message.",
			Logger: log,
		})
	s.addTools()
	return s
}

// SDK returns the underlying go-sdk server.
func (s *Server) SDK() *mcpsdk.Server { return s.sdk }

// RunStdio serves one client over standard input and output until it
// disconnects or ctx ends.
func (s *Server) RunStdio(ctx context.Context) error {
	return s.sdk.Run(ctx, &mcpsdk.StdioTransport{})
}

// HTTPHandler returns the streamable HTTP transport. With a non-empty
// token, every request must carry "Authorization: Bearer <token>".
func (s *Server) HTTPHandler(token string) http.Handler {
	h := mcpsdk.NewStreamableHTTPHandler(func(*http.Request) *mcpsdk.Server { return s.sdk }, &mcpsdk.StreamableHTTPOptions{Logger: s.log})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentotp-mcp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// codeFilter is the part of a tool's arguments that narrows the message.
type codeFilter struct {
	Reason         string   `json:"reason" jsonschema:"why you need the code, shown to the owner who approves it (1-500 characters), e.g. 'Sign up for Acme with user@example.com'"`
	ExpectedSender string   `json:"expected_sender,omitempty" jsonschema:"who will send the code, shown to the owner, e.g. 'Acme Inc'"`
	Sources        []string `json:"sources,omitempty" jsonschema:"where the code arrives: 'sms', 'email' or both (default both)"`
	SenderPattern  string   `json:"sender_pattern,omitempty" jsonschema:"glob on the sender address or number, e.g. '*@acme.com'"`
}

func (f codeFilter) options(pub *client.PublicKey, ttl time.Duration) client.RequestOptions {
	o := client.RequestOptions{Reason: f.Reason, ExpectedSender: f.ExpectedSender, PublicKey: client.ExportPublicKey(pub), TTL: ttl}
	if len(f.Sources) > 0 || f.SenderPattern != "" {
		o.Filter = &client.Filter{Sources: f.Sources, SenderPattern: f.SenderPattern}
	}
	return o
}

// GetInput is the argument of get_verification_code.
type GetInput struct {
	codeFilter
	TimeoutSeconds int `json:"timeout_seconds,omitempty" jsonschema:"how long to wait for approval and the message, in seconds (default 300, at most 3600)"`
}

// CodeOutput is a delivered code.
type CodeOutput struct {
	Code      string `json:"code" jsonschema:"the verification code, exactly as to be typed"`
	RequestID string `json:"request_id"`
}

// RequestInput is the argument of request_verification_code.
type RequestInput struct {
	codeFilter
	TTLSeconds int `json:"ttl_seconds,omitempty" jsonschema:"how long the request stays open, 60-3600 seconds (default 300)"`
}

// RequestOutput describes an open request.
type RequestOutput struct {
	RequestID   string    `json:"request_id"`
	Status      string    `json:"status"`
	ApprovalURL string    `json:"approval_url,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// CheckInput is the argument of check_verification_code.
type CheckInput struct {
	RequestID   string `json:"request_id" jsonschema:"the request_id that request_verification_code returned"`
	WaitSeconds int    `json:"wait_seconds,omitempty" jsonschema:"wait up to this many seconds (0-55) for the code before answering (default 0)"`
}

// CheckOutput is the state of a request, with the code once it is there.
type CheckOutput struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
	Code      string `json:"code,omitempty" jsonschema:"the verification code, once status is consumed"`
}

// CancelInput is the argument of cancel_verification_code.
type CancelInput struct {
	RequestID string `json:"request_id" jsonschema:"the request to cancel"`
}

// CancelOutput is a cancelled request.
type CancelOutput struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
}

func (s *Server) addTools() {
	yes, no := true, false
	maxSeconds := int(s.cfg.MaxTimeout.Seconds()) // schema.go
	mcpsdk.AddTool(s.sdk, &mcpsdk.Tool{
		Name:  ToolGet,
		Title: "Get a verification code",
		Description: "Ask the owner for one verification code (the one-time code a website sends by SMS or email), wait for their approval " +
			"and for the message, and return the code. Call it right after you trigger the website to send the code. " +
			"Returns only the code, never the message. If the owner denies, do not ask again without the user's say-so.",
		Annotations: &mcpsdk.ToolAnnotations{ReadOnlyHint: false, DestructiveHint: &no, OpenWorldHint: &yes},
		InputSchema: inputSchema[GetInput](maxSeconds),
	}, s.getCode)
	mcpsdk.AddTool(s.sdk, &mcpsdk.Tool{
		Name:  ToolRequest,
		Title: "Request a verification code (without waiting)",
		Description: "Open a request for one verification code and return at once with its request_id. " +
			"Then call check_verification_code with the request_id until it returns the code. For clients that cannot keep a call open.",
		Annotations: &mcpsdk.ToolAnnotations{DestructiveHint: &no, OpenWorldHint: &yes},
		InputSchema: inputSchema[RequestInput](maxSeconds),
	}, s.requestCode)
	mcpsdk.AddTool(s.sdk, &mcpsdk.Tool{
		Name:        ToolCheck,
		Title:       "Check a verification code request",
		Description: "Check a request made with request_verification_code. When the code has arrived it is returned (once); otherwise the status says what it waits for.",
		Annotations: &mcpsdk.ToolAnnotations{DestructiveHint: &no, OpenWorldHint: &yes},
		InputSchema: inputSchema[CheckInput](maxSeconds),
	}, s.checkCode)
	mcpsdk.AddTool(s.sdk, &mcpsdk.Tool{
		Name:        ToolCancel,
		Title:       "Cancel a verification code request",
		Description: "Cancel a request you no longer need.",
		Annotations: &mcpsdk.ToolAnnotations{DestructiveHint: &yes, IdempotentHint: true, OpenWorldHint: &yes},
		InputSchema: inputSchema[CancelInput](maxSeconds),
	}, s.cancelCode)
}

// progress sends progress notifications for one tool call, when the
// client asked for them (it sent a progress token).
type progress struct {
	req   *mcpsdk.CallToolRequest
	start time.Time
	total float64
}

func (p *progress) send(ctx context.Context, msg string) {
	token := p.req.Params.GetProgressToken()
	if token == nil || p.req.Session == nil {
		return
	}
	_ = p.req.Session.NotifyProgress(ctx, &mcpsdk.ProgressNotificationParams{
		ProgressToken: token, Progress: time.Since(p.start).Seconds(), Total: p.total, Message: msg,
	})
}

// statusMessage says what a waiting request waits for.
func statusMessage(r *client.OTPRequest) string {
	switch r.Status {
	case client.StatusPendingApproval:
		return "waiting for the owner's approval: " + r.ApprovalURL
	case client.StatusApproved:
		return "approved; waiting for the message with the code"
	}
	return string(r.Status)
}

// toolError turns a relay outcome into an error the model can act on.
func toolError(r *client.OTPRequest, err error) error {
	status := client.Status("")
	if r != nil {
		status = r.Status
	}
	switch {
	case status == client.StatusDenied || errors.Is(err, client.ErrApprovalDenied):
		reason := ""
		if r != nil && r.DenyReason != nil {
			reason = *r.DenyReason
		}
		var ce *client.Error
		if reason == "" && errors.As(err, &ce) {
			reason = ce.DenyReason
		}
		msg := "the owner denied this request"
		if reason != "" {
			msg += " (reason: " + reason + ")"
		}
		return errors.New(msg + "; do not ask again unless the user says so")
	case status == client.StatusExpired || errors.Is(err, client.ErrExpired):
		return errors.New("the request expired before a code arrived; ask again only if the website sent a new code")
	case status == client.StatusCancelled || errors.Is(err, client.ErrCancelled):
		return errors.New("the request was cancelled")
	case status == client.StatusConsumed || errors.Is(err, client.ErrAlreadyConsumed):
		return errors.New("the code of this request was already read; a code is given out once")
	case errors.Is(err, client.ErrAuthentication):
		return errors.New("the relay refused the API key (AGENTOTP_API_KEY): the MCP server is misconfigured")
	case errors.Is(err, client.ErrValidation):
		var ce *client.Error
		if errors.As(err, &ce) && len(ce.Fields) > 0 {
			parts := make([]string, 0, len(ce.Fields))
			for _, f := range ce.Fields {
				parts = append(parts, f.Field+": "+f.Message)
			}
			return errors.New("invalid arguments: " + strings.Join(parts, "; "))
		}
		return fmt.Errorf("invalid arguments: %w", err)
	case errors.Is(err, client.ErrRateLimit):
		return fmt.Errorf("rate limited by the relay; wait before asking again: %w", err)
	case errors.Is(err, client.ErrNotFound):
		return errors.New("no such request")
	case errors.Is(err, client.ErrNetwork), errors.Is(err, client.ErrServer):
		return fmt.Errorf("the relay cannot be reached right now; try again later: %w", err)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("the request ended in status %s", status)
}

func (s *Server) getCode(ctx context.Context, req *mcpsdk.CallToolRequest, in GetInput) (*mcpsdk.CallToolResult, CodeOutput, error) {
	timeout := s.cfg.DefaultTimeout
	if in.TimeoutSeconds < 0 || time.Duration(in.TimeoutSeconds)*time.Second > s.cfg.MaxTimeout {
		return nil, CodeOutput{}, fmt.Errorf("invalid arguments: timeout_seconds must be between 1 and %d", int(s.cfg.MaxTimeout.Seconds()))
	}
	if in.TimeoutSeconds > 0 {
		timeout = time.Duration(in.TimeoutSeconds) * time.Second
	}
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		return nil, CodeOutput{}, fmt.Errorf("make a key pair: %w", err)
	}
	// The request lives at least as long as the wait (the relay caps it at an hour).
	ttl := min(max(timeout+30*time.Second, 5*time.Minute), time.Hour)
	r, err := s.otp.RequestOTP(ctx, in.options(pub, ttl))
	if err != nil {
		return nil, CodeOutput{}, toolError(nil, err)
	}
	s.log.InfoContext(ctx, "mcp: request created", "request_id", r.ID, "status", r.Status)
	p := &progress{req: req, start: time.Now(), total: timeout.Seconds()}
	if r.Status.Waiting() {
		// The wait outlasts a relay restart: the SDK retries a refused
		// connection, a 502/503/504 or a cut-short answer until timeout.
		seen := r
		onWait := func(last *client.OTPRequest, retrying error) {
			if last != nil {
				seen = last
			}
			if retrying != nil {
				p.send(ctx, "the relay is not answering; still trying")
				return
			}
			p.send(ctx, statusMessage(seen))
		}
		got, err := s.otp.WaitForOTPWith(ctx, r.ID, client.WaitOptions{Timeout: timeout, Poll: s.cfg.ProgressEvery, OnWait: onWait})
		switch {
		case ctx.Err() != nil:
			s.cancelQuietly(r.ID)
			return nil, CodeOutput{}, ctx.Err()
		case errors.Is(err, client.ErrTimeout):
			s.cancelQuietly(r.ID)
			if got != nil {
				seen = got
			}
			return nil, CodeOutput{}, fmt.Errorf("no code within %s (last status: %s); request %s was cancelled. "+
				"Ask the user whether the code was sent, then call again", timeout, seen.Status, r.ID)
		case err != nil:
			return nil, CodeOutput{}, toolError(seen, err)
		}
		r = got
	}
	if r.Status != client.StatusOTPReceived {
		return nil, CodeOutput{}, toolError(r, nil)
	}
	p.send(ctx, "code received")
	res, err := s.otp.ConsumeOTP(ctx, r.ID, priv)
	if err != nil {
		return nil, CodeOutput{}, toolError(r, err)
	}
	s.log.InfoContext(ctx, "mcp: code delivered to the client", "request_id", r.ID)
	out := CodeOutput{Code: res.Code, RequestID: r.ID}
	return &mcpsdk.CallToolResult{Content: []mcpsdk.Content{&mcpsdk.TextContent{Text: res.Code}}}, out, nil
}

// cancelQuietly cancels a request the server gives up on, whatever ctx.
func (s *Server) cancelQuietly(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.otp.CancelOTPRequest(ctx, id); err != nil {
		s.log.Debug("mcp: cancel abandoned request", "request_id", id, "err", err)
	}
}

// room reports an error when the server holds MaxPending keys already;
// it first drops those of requests that have ended by their TTL. The
// caller holds s.mu.
func (s *Server) room() error {
	now := time.Now()
	for k, h := range s.keys {
		if now.After(h.expires) {
			delete(s.keys, k)
		}
	}
	if len(s.keys) >= s.cfg.MaxPending {
		return fmt.Errorf("%d requests are open already; check or cancel some first", len(s.keys))
	}
	return nil
}

// holdKey keeps priv for check_verification_code until expires.
func (s *Server) holdKey(id string, priv *client.PrivateKey, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.room(); err != nil {
		return err
	}
	s.keys[id] = &heldKey{priv: priv, expires: expires}
	return nil
}

func (s *Server) heldKey(id string) *client.PrivateKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.keys[id]; ok {
		return h.priv
	}
	return nil
}

func (s *Server) dropKey(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, id)
}

func (s *Server) requestCode(ctx context.Context, _ *mcpsdk.CallToolRequest, in RequestInput) (*mcpsdk.CallToolResult, RequestOutput, error) {
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		return nil, RequestOutput{}, fmt.Errorf("make a key pair: %w", err)
	}
	s.mu.Lock()
	err = s.room() // checked before the owner is asked
	s.mu.Unlock()
	if err != nil {
		return nil, RequestOutput{}, err
	}
	r, err := s.otp.RequestOTP(ctx, in.options(pub, time.Duration(in.TTLSeconds)*time.Second))
	if err != nil {
		return nil, RequestOutput{}, toolError(nil, err)
	}
	if err := s.holdKey(r.ID, priv, r.ExpiresAt.Add(time.Minute)); err != nil {
		s.cancelQuietly(r.ID)
		return nil, RequestOutput{}, err
	}
	s.log.InfoContext(ctx, "mcp: request created", "request_id", r.ID, "status", r.Status)
	out := RequestOutput{RequestID: r.ID, Status: string(r.Status), ApprovalURL: r.ApprovalURL, ExpiresAt: r.ExpiresAt}
	text := fmt.Sprintf("Request %s is open (%s). Call %s with this request_id to get the code once it has arrived; it expires at %s.",
		r.ID, statusMessage(r), ToolCheck, r.ExpiresAt.Format(time.RFC3339))
	return &mcpsdk.CallToolResult{Content: []mcpsdk.Content{&mcpsdk.TextContent{Text: text}}}, out, nil
}

func (s *Server) checkCode(ctx context.Context, _ *mcpsdk.CallToolRequest, in CheckInput) (*mcpsdk.CallToolResult, CheckOutput, error) {
	if in.WaitSeconds < 0 || in.WaitSeconds > 55 {
		return nil, CheckOutput{}, errors.New("invalid arguments: wait_seconds must be between 0 and 55")
	}
	priv := s.heldKey(in.RequestID)
	if priv == nil {
		return nil, CheckOutput{}, fmt.Errorf("request %q was not opened by %s in this MCP server (or it ended and its key was dropped)", in.RequestID, ToolRequest)
	}
	var r *client.OTPRequest
	var err error
	if in.WaitSeconds > 0 {
		// Waits across a relay restart, like get_verification_code.
		r, err = s.otp.WaitForOTPWith(ctx, in.RequestID, client.WaitOptions{Timeout: time.Duration(in.WaitSeconds) * time.Second})
		if errors.Is(err, client.ErrTimeout) && r != nil {
			err = nil // still waiting: said below
		}
	} else {
		r, err = s.otp.GetOTPStatus(ctx, in.RequestID)
	}
	if err != nil {
		if errors.Is(err, client.ErrNotFound) {
			s.dropKey(in.RequestID)
		}
		return nil, CheckOutput{}, toolError(nil, err)
	}
	switch r.Status {
	case client.StatusPendingApproval, client.StatusApproved:
		out := CheckOutput{RequestID: r.ID, Status: string(r.Status)}
		text := fmt.Sprintf("No code yet: %s. Call %s again later.", statusMessage(r), ToolCheck)
		return &mcpsdk.CallToolResult{Content: []mcpsdk.Content{&mcpsdk.TextContent{Text: text}}}, out, nil
	case client.StatusOTPReceived:
		res, err := s.otp.ConsumeOTP(ctx, r.ID, priv)
		if err != nil {
			if !errors.Is(err, client.ErrNetwork) {
				s.dropKey(r.ID)
			}
			return nil, CheckOutput{}, toolError(r, err)
		}
		s.dropKey(r.ID)
		s.log.InfoContext(ctx, "mcp: code delivered to the client", "request_id", r.ID)
		out := CheckOutput{RequestID: r.ID, Status: string(client.StatusConsumed), Code: res.Code}
		return &mcpsdk.CallToolResult{Content: []mcpsdk.Content{&mcpsdk.TextContent{Text: res.Code}}}, out, nil
	}
	s.dropKey(r.ID)
	return nil, CheckOutput{}, toolError(r, nil)
}

func (s *Server) cancelCode(ctx context.Context, _ *mcpsdk.CallToolRequest, in CancelInput) (*mcpsdk.CallToolResult, CancelOutput, error) {
	r, err := s.otp.CancelOTPRequest(ctx, in.RequestID)
	if err != nil {
		if !errors.Is(err, client.ErrNetwork) {
			s.dropKey(in.RequestID)
		}
		return nil, CancelOutput{}, toolError(nil, err)
	}
	s.dropKey(in.RequestID)
	out := CancelOutput{RequestID: r.ID, Status: string(r.Status)}
	return &mcpsdk.CallToolResult{Content: []mcpsdk.Content{&mcpsdk.TextContent{Text: "Request " + r.ID + " cancelled."}}}, out, nil
}
