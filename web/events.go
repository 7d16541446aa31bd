package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentotp/agentotp/internal/drain"
)

// events streams the owner's live feed as Server-Sent Events:
//
//   - event "pending": the pending page's lists, rendered, at connect and
//     after every change;
//   - event "request": the id of a request that changed.
//
// It follows the broker's per-owner feed. A slow reader misses ids, never
// blocks the relay; the next event re-renders the lists anyway. The
// stream ends when the session does, and when the relay shuts down (a
// clean end of stream, after which the page's EventSource reconnects). A session may keep
// Config.MaxStreamsPerSession feeds open at once, and all sessions
// Config.MaxStreams; beyond that a new one is refused with 429.
func (s *Server) events(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	releaseSlot, ok := s.streams.Acquire(sess.ID)
	if !ok {
		s.log.WarnContext(ctx, "dashboard: too many live feeds open", "session", sess.ID)
		w.Header().Set("Retry-After", strconv.Itoa(streamRetryAfter))
		s.renderError(w, r, http.StatusTooManyRequests, "Too many live views",
			"Too many pages with live updates are open. Close some tabs and reload this page.")
		return
	}
	defer releaseSlot()
	changes, release := s.svc.WatchOwner(sess.OwnerID)
	defer release()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	sendPending := func() error {
		v, err := s.loadPending(ctx, sess.OwnerID)
		if err != nil {
			return err
		}
		html, err := s.renderFragment("pending", "pending_lists", v)
		if err != nil {
			return err
		}
		return writeEvent(w, "pending", html)
	}
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil {
		return
	}
	if err := sendPending(); err != nil {
		s.log.WarnContext(ctx, "dashboard: live feed", "err", err)
		return
	}
	// A request page names the request and the version it shows: if the
	// request changed between rendering the page and this subscription,
	// no broker event will come for that change, so say so now.
	if id := r.URL.Query().Get("request"); id != "" {
		shown, _ := strconv.ParseInt(r.URL.Query().Get("v"), 10, 64)
		if req, err := s.svc.OwnerRequest(ctx, sess.OwnerID, id); err == nil && req.Version != shown {
			if err := writeEvent(w, "request", req.ID); err != nil {
				return
			}
		}
	}
	_ = rc.Flush()
	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	draining := drain.Done(ctx)
	for {
		select {
		case <-draining:
			return // the relay is stopping: a clean end; the page reconnects (retry: 3000)
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
		case id := <-changes:
			// The session may have ended (log-out, new password).
			if _, err := s.svc.DashboardSession(ctx, s.cookie(r, sessionCookie)); err != nil {
				_ = writeEvent(w, "logout", "")
				_ = rc.Flush()
				return
			}
			// Coalesce a burst of changes into one re-render.
			ids := []string{id}
		drain:
			for {
				select {
				case more := <-changes:
					ids = append(ids, more)
				default:
					break drain
				}
			}
			for _, id := range ids {
				if err := writeEvent(w, "request", id); err != nil {
					return
				}
			}
			if err := sendPending(); err != nil {
				s.log.WarnContext(ctx, "dashboard: live feed", "err", err)
				return
			}
			_ = rc.Flush()
		}
	}
}

// streamRetryAfter is the Retry-After, in seconds, of a live feed refused
// because too many are open.
const streamRetryAfter = 5

// writeEvent writes one SSE event; every line of data gets its own
// "data:" field.
func writeEvent(w http.ResponseWriter, event, data string) error {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteByte('\n')
	for _, line := range strings.Split(strings.ReplaceAll(data, "\r", ""), "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := fmt.Fprint(w, b.String())
	return err
}
