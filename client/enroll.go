package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Enrollment is a started enrollment: the relay's device authorization
// response (RFC 8628 §3.2). Show UserCode and VerificationURIComplete to
// the person who runs the agent; keep DeviceCode to yourself.
type Enrollment struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// EnrollOptions is what an agent tells the owner about itself.
type EnrollOptions struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Test        bool   `json:"test,omitempty"`
}

// Enroll asks the relay for an API key of its own (POST
// /v1/agents/enroll). It needs no key: a Client made with New("") will
// do. The owner then approves or denies it; WaitEnrollment collects the
// key.
func (c *Client) Enroll(ctx context.Context, opts EnrollOptions) (*Enrollment, error) {
	var e Enrollment
	if err := c.enrollPost(ctx, "/v1/agents/enroll", opts, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// PollEnrollment makes one poll with the enrollment's device code (POST
// /v1/agents/enroll/token), holding up to wait while the owner has not
// decided. It returns the new agent's key once; otherwise an *Error whose
// Code is the RFC 8628 error: authorization_pending (ErrNotReady),
// slow_down (ErrRateLimit, with RetryAfter), access_denied
// (ErrApprovalDenied), expired_token (ErrExpired), invalid_grant
// (ErrNotFound: unknown, or collected already).
func (c *Client) PollEnrollment(ctx context.Context, deviceCode string, wait time.Duration) (*NewAgent, error) {
	path := "/v1/agents/enroll/token"
	if s := int(wait / time.Second); s > 0 {
		path += "?wait=" + strconv.Itoa(min(s, 55))
	}
	var n NewAgent
	if err := c.enrollPost(ctx, path, map[string]string{"device_code": deviceCode}, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// WaitEnrollment polls until the owner decides or the enrollment expires,
// long-polling, and returns the new agent's key. It honours slow_down.
func (c *Client) WaitEnrollment(ctx context.Context, e *Enrollment) (*NewAgent, error) {
	interval := time.Duration(max(e.Interval, 1)) * time.Second
	deadline := time.Now().Add(time.Duration(e.ExpiresIn)*time.Second + interval)
	for {
		if time.Now().After(deadline) {
			return nil, &Error{Class: ErrExpired, Code: "expired_token", Message: "the enrollment expired before the owner decided"}
		}
		started := time.Now()
		n, err := c.PollEnrollment(ctx, e.DeviceCode, 55*time.Second)
		if err == nil {
			return n, nil
		}
		var ae *Error
		if !errors.As(err, &ae) {
			return nil, err
		}
		switch ae.Code {
		case "authorization_pending":
		case "slow_down":
			interval = max(interval, ae.RetryAfter)
		default:
			if ae.Class != ErrNetwork && ae.Class != ErrServer {
				return nil, err
			}
		}
		// Polls start at least the interval apart.
		if left := interval - time.Since(started); left > 0 {
			t := time.NewTimer(left)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, networkError(ctx.Err())
			case <-t.C:
			}
		}
	}
}

// enrollPost posts JSON without a credential: enrollment is how an agent
// gets one.
func (c *Client) enrollPost(ctx context.Context, path string, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return &Error{Class: ErrValidation, Message: "cannot encode the request", Err: err}
	}
	u, err := url.Parse(c.baseURL + path)
	if err != nil {
		return &Error{Class: ErrValidation, Message: "bad relay URL", Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return &Error{Class: ErrValidation, Message: "cannot build the request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return networkError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return networkError(err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return &Error{Class: ErrUnexpected, StatusCode: resp.StatusCode, Message: "the relay's answer is not the expected JSON", Err: err}
		}
		return nil
	}
	e := problemError(resp, data)
	switch e.Code {
	case "authorization_pending":
		e.Class = ErrNotReady
	case "slow_down":
		e.Class = ErrRateLimit
	case "access_denied":
		e.Class = ErrApprovalDenied
	case "expired_token":
		e.Class = ErrExpired
	case "invalid_grant":
		e.Class = ErrNotFound
	}
	return e
}
