package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxEventLine bounds one line of the event stream.
const maxEventLine = 1 << 20

// WatchOTP follows the request over Server-Sent Events
// (GET /v1/otp/{id}/events): it yields the request as it stands now and
// again at each change, and stops after a status that is no longer
// waiting (otp_received or final), when ctx ends, or at an error, which it
// yields. A dropped connection is resumed where it left off (Last-Event-ID),
// with backoff, up to the client's retry count in a row.
//
//	for req, err := range otp.WatchOTP(ctx, id) {
//		if err != nil { … }
//		fmt.Println(req.Status)
//	}
func (c *Client) WatchOTP(ctx context.Context, id string) iter.Seq2[*OTPRequest, error] {
	return c.watch(ctx, id, false)
}

// watch is WatchOTP. With persistent, transient failures (see Transient:
// the relay restarting) are retried until ctx ends, not only the client's
// retry count in a row.
func (c *Client) watch(ctx context.Context, id string, persistent bool) iter.Seq2[*OTPRequest, error] {
	return func(yield func(*OTPRequest, error) bool) {
		lastID := ""
		delay := c.backoff
		failures := 0
		for {
			done, progressed, err := c.streamOnce(ctx, id, &lastID, yield)
			if done {
				return
			}
			if progressed {
				failures, delay = 0, c.backoff
			}
			pause := delay + time.Duration(rand.Int64N(int64(delay)/2+1))
			if err != nil {
				var e *Error
				retryable := errors.As(err, &e) && (e.Class == ErrNetwork || e.Class == ErrServer)
				giveUp := failures >= c.maxRetries && !(persistent && Transient(err))
				if !retryable || ctx.Err() != nil || giveUp {
					yield(nil, err)
					return
				}
				if e.RetryAfter > 0 {
					pause = max(pause, min(e.RetryAfter, retryAfterLimit))
				}
			}
			failures++
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				yield(nil, networkError(ctx.Err()))
				return
			case <-t.C:
			}
			delay = min(delay*2, waitBackoffMax)
		}
	}
}

// streamOnce reads one connection of the stream. done says the watch is
// over (a non-waiting status was yielded, or the consumer stopped);
// progressed that at least one event arrived.
func (c *Client) streamOnce(ctx context.Context, id string, lastID *string, yield func(*OTPRequest, error) bool) (done, progressed bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/v1/otp/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return false, false, &Error{Class: ErrValidation, Message: "cannot build the request", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", c.userAgent)
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, false, networkError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return false, false, problemError(resp, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	var evID, evType string
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if line == "" { // dispatch
			if data.Len() > 0 && (evType == "" || evType == "status") {
				var r OTPRequest
				if err := json.Unmarshal([]byte(data.String()), &r); err != nil {
					return false, progressed, &Error{Class: ErrUnexpected, Message: "an event is not a request object", Err: err}
				}
				if evID != "" {
					*lastID = evID
				}
				progressed = true
				if !yield(&r, nil) || !r.Status.Waiting() {
					return true, true, nil
				}
			}
			evID, evType = "", ""
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment: the heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			evID = value
		case "event":
			evType = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return false, progressed, networkError(ctx.Err())
		}
		return false, progressed, networkError(err)
	}
	// The relay closed the stream before a final state: resume.
	return false, progressed, networkError(io.ErrUnexpectedEOF)
}

// WaitForOTPEvents is WaitForOTP over the event stream instead of
// long-polls: it returns the request once it is no longer pending or
// approved, or, when timeout passes first, the request as it stands and
// an ErrTimeout error. Like WaitForOTP it waits across a relay restart:
// a stream that ends early, a refused connection or a 502/503/504 is
// retried (Last-Event-ID resumes it) until timeout.
func (c *Client) WaitForOTPEvents(ctx context.Context, id string, timeout time.Duration) (*OTPRequest, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *OTPRequest
	for r, err := range c.watch(wctx, id, true) {
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				if last == nil {
					// No event in time: read the status once.
					req, err := c.GetOTPStatus(ctx, id)
					if Transient(err) {
						return nil, waitTimeout(id, nil, err)
					}
					if err != nil || !req.Status.Waiting() {
						return req, err
					}
					last = req
				}
				return last, timeoutError(id, string(last.Status))
			}
			return last, err
		}
		last = r
	}
	if last == nil {
		return nil, fmt.Errorf("%w: the event stream ended without an event", ErrUnexpected)
	}
	return last, nil
}
