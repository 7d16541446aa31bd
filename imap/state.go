package imap

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
)

// afterSelect returns the cursor to use once the server has reported the
// mailbox's UIDVALIDITY. A new UIDVALIDITY (the mailbox was recreated, or
// this is the first connection) invalidates every stored UID: the watcher
// starts again from UID 1, and only the arrival-time bound and the
// Message-ID de-duplication keep it from handing over old mail again.
func (c Cursor) afterSelect(validity uint32) (next Cursor, reset bool) {
	if c.UIDValidity == validity {
		return c, false
	}
	return Cursor{UIDValidity: validity}, c.UIDValidity != 0 || c.LastUID != 0
}

// msgInfo is what a connector learns of a message before it fetches the
// body: its UID, INTERNALDATE and RFC822.SIZE.
type msgInfo struct {
	UID     uint32
	Arrived time.Time
	Size    int64
}

// verdict says what to do with one message.
type verdict int

const (
	read     verdict = iota // fetch and hand over
	tooOld                  // arrived before every live request: skip
	tooLarge                // over the size limit: skip without fetching
)

func (v verdict) String() string {
	switch v {
	case read:
		return "read"
	case tooOld:
		return "too old"
	case tooLarge:
		return "too large"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// watermark is what a watcher has seen of the mailbox: every message
// with a UID above UID arrived after At. UIDs only grow, so a search sent
// at At that found nothing above UID proves it. The zero watermark proves
// nothing.
type watermark struct {
	At  time.Time
	UID uint32
}

// seenAfter reports whether the watermark proves that m arrived after it.
func (w watermark) seenAfter(m msgInfo) bool { return !w.At.IsZero() && m.UID > w.UID }

// arrivalSlack is the resolution of INTERNALDATE: a server reports whole
// seconds, so a message stamped 12:00:00 may have arrived at 12:00:00.999.
const arrivalSlack = time.Second

// judge decides the fate of a message with UID above the cursor. since is
// the earliest time at which a message can match a live request. A
// message is too old only when it certainly arrived before since: its
// INTERNALDATE's whole second ended by then, and the watermark does not
// show it arriving later (a server whose clock lags).
func judge(m msgInfo, since time.Time, maxSize int64, mark watermark) verdict {
	after := mark.seenAfter(m) && !mark.At.Before(since)
	if !after && !m.Arrived.IsZero() && !m.Arrived.Add(arrivalSlack).After(since) {
		return tooOld
	}
	if maxSize > 0 && m.Size > maxSize {
		return tooLarge
	}
	return read
}

// receivedAt is the arrival time handed to the relay, which matches a
// message only to requests created at or before it. It is the latest time
// the message certainly arrived after: the start of its INTERNALDATE
// second, or the watermark's time when that proves more; never after now.
// So a message that may have arrived before a request never feeds it; one
// that arrived in the same second after it feeds it once the watcher has
// searched the mailbox after the request was made (the relay wakes it
// for each new request). A message without INTERNALDATE counts as now.
func receivedAt(m msgInfo, mark watermark, now time.Time) time.Time {
	t := m.Arrived
	if mark.seenAfter(m) && mark.At.After(t) {
		t = mark.At
	}
	if t.IsZero() || t.After(now) {
		return now
	}
	return t
}

// newUIDs returns the UIDs above last, sorted and without duplicates. A
// UID SEARCH for "last+1:*" also returns the highest UID when it is not
// above last, which this drops.
func newUIDs(uids []uint32, last uint32) []uint32 {
	out := make([]uint32, 0, len(uids))
	for _, u := range uids {
		if u > last {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// searchSince is the date given to UID SEARCH SINCE. SEARCH compares dates
// only, in the server's time zone, so the bound is moved two days back:
// the search narrows what is fetched, and judge decides exactly.
func searchSince(since time.Time) time.Time {
	return since.UTC().Add(-48 * time.Hour).Truncate(24 * time.Hour)
}

// backoff is the wait before reconnect attempt n (0 for the first retry):
// min doubled n times, capped at max, with ±20% jitter so that many
// connectors do not retry in step.
func backoff(n int, minWait, maxWait time.Duration, rnd *rand.Rand) time.Duration {
	d := minWait
	for range n {
		if d >= maxWait/2 {
			d = maxWait
			break
		}
		d *= 2
	}
	d = min(d, maxWait)
	if rnd != nil && d > 0 {
		jitter := time.Duration(rnd.Int64N(int64(d)/5*2+1)) - d/5
		d += jitter
	}
	return max(d, 0)
}

// sanitizeError makes an error fit for the status the owner sees and for
// the log: the secret removed wherever it appears, control characters
// dropped, and the length bounded.
func sanitizeError(err error, secret string) string {
	if err == nil {
		return ""
	}
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, strings.ToValidUTF8(s, "?"))
	}
	s := clean(err.Error())
	if secret != "" {
		s = strings.ReplaceAll(s, clean(secret), "[redacted]")
	}
	if len(s) > agentotp.MaxIMAPErrorLen {
		cut := agentotp.MaxIMAPErrorLen - len("…")
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// maxHeaderScan bounds how much of a message is read for its Message-ID.
const maxHeaderScan = 256 << 10

// externalID returns the de-duplication key the relay is given for a
// message: "" when the message has a Message-ID (the relay uses that),
// else a key made of the mailbox, UIDVALIDITY and UID, which name the
// message for as long as the mailbox exists.
func externalID(raw []byte, mailbox string, validity, uid uint32) string {
	head := raw
	if len(head) > maxHeaderScan {
		head = head[:maxHeaderScan]
	}
	if m, err := mail.ReadMessage(bytes.NewReader(head)); err == nil {
		if id := strings.TrimSpace(m.Header.Get("Message-Id")); id != "" {
			return ""
		}
	}
	id := fmt.Sprintf("imap:%d:%d:%s", validity, uid, mailbox)
	if len(id) > 200 {
		id = id[:200]
	}
	return strings.ToValidUTF8(id, "?")
}
