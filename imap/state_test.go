package imap

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
)

func TestCursorAfterSelect(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cur       Cursor
		validity  uint32
		want      Cursor
		wantReset bool
	}{
		{"first connection", Cursor{}, 77, Cursor{UIDValidity: 77}, false},
		{"same mailbox keeps the last UID", Cursor{77, 40}, 77, Cursor{77, 40}, false},
		{"recreated mailbox starts again", Cursor{77, 40}, 78, Cursor{UIDValidity: 78}, true},
		{"validity known, nothing read yet", Cursor{77, 0}, 90, Cursor{UIDValidity: 90}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, reset := tt.cur.afterSelect(tt.validity)
			if got != tt.want || reset != tt.wantReset {
				t.Errorf("afterSelect(%d) = %+v, %v; want %+v, %v", tt.validity, got, reset, tt.want, tt.wantReset)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	since := time.Date(2030, 1, 2, 12, 0, 0, 500_000_000, time.UTC) // request created at .5 s
	second := since.Truncate(time.Second)
	const limit = 1000
	after := watermark{At: since.Add(time.Millisecond), UID: 10} // searched just after the request
	before := watermark{At: since.Add(-time.Minute), UID: 10}    // searched a minute before it
	for _, tt := range []struct {
		name string
		m    msgInfo
		mark watermark
		want verdict
	}{
		{"arrived after the request", msgInfo{UID: 11, Arrived: since.Add(time.Minute), Size: 10}, watermark{}, read},
		{"same second as the request: cannot tell, so read", msgInfo{UID: 11, Arrived: second, Size: 10}, watermark{}, read},
		{"the second before", msgInfo{UID: 11, Arrived: second.Add(-time.Second), Size: 10}, watermark{}, tooOld},
		{"a day before", msgInfo{UID: 11, Arrived: since.Add(-24 * time.Hour), Size: 10}, watermark{}, tooOld},
		{"stamped before, but seen to arrive after (lagging server clock)", msgInfo{UID: 11, Arrived: since.Add(-time.Hour), Size: 10}, after, read},
		{"below the watermark: its stamp decides", msgInfo{UID: 9, Arrived: since.Add(-time.Hour), Size: 10}, after, tooOld},
		{"watermark older than the request proves nothing", msgInfo{UID: 11, Arrived: since.Add(-time.Hour), Size: 10}, before, tooOld},
		{"no INTERNALDATE", msgInfo{UID: 11, Size: 10}, watermark{}, read},
		{"at the size limit", msgInfo{UID: 11, Arrived: since.Add(time.Minute), Size: limit}, watermark{}, read},
		{"over the size limit", msgInfo{UID: 11, Arrived: since.Add(time.Minute), Size: limit + 1}, watermark{}, tooLarge},
		{"old and large: old wins, nothing fetched either way", msgInfo{UID: 11, Arrived: since.Add(-time.Hour), Size: limit + 1}, watermark{}, tooOld},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judge(tt.m, since, limit, tt.mark); got != tt.want {
				t.Errorf("judge = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestReceivedAt(t *testing.T) {
	now := time.Date(2030, 1, 2, 12, 0, 10, 0, time.UTC)
	stamp := now.Add(-5 * time.Second)
	for _, tt := range []struct {
		name string
		m    msgInfo
		mark watermark
		want time.Time
	}{
		{"start of the arrival second", msgInfo{UID: 5, Arrived: stamp}, watermark{}, stamp},
		{"the watermark proves a later arrival", msgInfo{UID: 5, Arrived: stamp}, watermark{At: stamp.Add(300 * time.Millisecond), UID: 4}, stamp.Add(300 * time.Millisecond)},
		{"below the watermark it proves nothing", msgInfo{UID: 4, Arrived: stamp}, watermark{At: stamp.Add(300 * time.Millisecond), UID: 4}, stamp},
		{"an earlier watermark adds nothing", msgInfo{UID: 5, Arrived: stamp}, watermark{At: stamp.Add(-time.Minute), UID: 4}, stamp},
		{"never after now", msgInfo{UID: 5, Arrived: now.Add(time.Hour)}, watermark{}, now},
		{"no INTERNALDATE", msgInfo{UID: 5}, watermark{}, now},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := receivedAt(tt.m, tt.mark, now); !got.Equal(tt.want) {
				t.Errorf("receivedAt = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestSameSecondOrder: the relay feeds a request only messages with
// receivedAt at or after its creation. A message of the request's own
// second that may have come first never does; one that the watcher saw
// arrive after a search made after the request does.
func TestSameSecondOrder(t *testing.T) {
	created := time.Date(2030, 1, 2, 12, 0, 0, 600_000_000, time.UTC)
	now := created.Add(2 * time.Second)
	second := created.Truncate(time.Second)
	stale := msgInfo{UID: 7, Arrived: second} // maybe at .3 s, before the request
	if got := receivedAt(stale, watermark{}, now); !got.Before(created) {
		t.Errorf("a message that may predate the request is handed over at %v, not before %v", got, created)
	}
	searched := watermark{At: created.Add(20 * time.Millisecond), UID: 7} // the relay woke the watcher
	fresh := msgInfo{UID: 8, Arrived: second}                             // stamped the same second, but new
	if got := receivedAt(fresh, searched, now); got.Before(created) {
		t.Errorf("a message seen to arrive after the request is handed over at %v, before %v", got, created)
	}
}

func TestNewUIDs(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []uint32
		last uint32
		want []uint32
	}{
		{"nothing", nil, 5, []uint32{}},
		{"the * of last+1:* is the highest UID when none is new", []uint32{5}, 5, []uint32{}},
		{"sorted and deduplicated", []uint32{9, 7, 7, 3, 8}, 5, []uint32{7, 8, 9}},
		{"from the start", []uint32{2, 1}, 0, []uint32{1, 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := newUIDs(tt.in, tt.last)
			if len(got) != len(tt.want) {
				t.Fatalf("newUIDs = %v; want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("newUIDs = %v; want %v", got, tt.want)
				}
			}
		})
	}
}

func TestSearchSince(t *testing.T) {
	since := time.Date(2030, 3, 10, 0, 30, 0, 0, time.FixedZone("X", 5*3600)) // 2030-03-09 19:30 UTC
	got := searchSince(since)
	if want := time.Date(2030, 3, 7, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("searchSince = %v; want %v (two days before, whole days)", got, want)
	}
	if !got.Before(since) {
		t.Error("the search bound is not before the exact bound")
	}
}

func TestBackoff(t *testing.T) {
	minW, maxW := 100*time.Millisecond, 5*time.Second
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for n, w := range want {
		if got := backoff(n, minW, maxW, nil); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v; want %v", n, got, w*time.Millisecond)
		}
	}
	if got := backoff(1000, minW, maxW, nil); got != maxW {
		t.Errorf("backoff(1000) = %v; want the cap %v", got, maxW)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for n := range 20 {
		base := backoff(n, minW, maxW, nil)
		got := backoff(n, minW, maxW, rnd)
		if got < base*8/10 || got > base*12/10 {
			t.Errorf("backoff(%d) with jitter = %v; want within 20%% of %v", n, got, base)
		}
	}
}

func TestSanitizeError(t *testing.T) {
	const pw = "s3cr3t-app-pass"
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", errors.New("login: NO [AUTHENTICATIONFAILED] Authentication failed."), "login: NO [AUTHENTICATIONFAILED] Authentication failed."},
		{"secret removed", errors.New("server said: bad password " + pw + " for you"), "server said: bad password [redacted] for you"},
		{"control characters", errors.New("line1\r\nline2\x00"), "line1  line2 "},
		{"invalid UTF-8", errors.New("bad \xff byte"), "bad ? byte"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitizeError(tt.err, pw); got != tt.want {
				t.Errorf("sanitizeError = %q; want %q", got, tt.want)
			}
		})
	}
	long := sanitizeError(errors.New(strings.Repeat("é", 1000)), pw)
	if len(long) > agentotp.MaxIMAPErrorLen || !utf8.ValidString(long) || !strings.HasSuffix(long, "…") {
		t.Errorf("long error: %d bytes, valid %v", len(long), utf8.ValidString(long))
	}
}

func TestExternalID(t *testing.T) {
	withID := []byte("From: a@b.test\r\nMessage-ID: <x@b.test>\r\n\r\nhi\r\n")
	without := []byte("From: a@b.test\r\nSubject: no id\r\n\r\nhi\r\n")
	if got := externalID(withID, "INBOX", 7, 3); got != "" {
		t.Errorf("with a Message-ID: %q; want \"\" (the relay uses the Message-ID)", got)
	}
	if got := externalID(without, "INBOX", 7, 3); got != "imap:7:3:INBOX" {
		t.Errorf("without: %q", got)
	}
	if a, b := externalID(without, "INBOX", 7, 3), externalID(without, "INBOX", 7, 4); a == b {
		t.Error("two UIDs share a key")
	}
	if got := externalID([]byte("garbage"), strings.Repeat("m", 500), 1, 1); len(got) > 200 {
		t.Errorf("key of %d bytes", len(got))
	}
}

func FuzzExternalID(f *testing.F) {
	f.Add([]byte("From: a@b.test\r\nMessage-ID: <x@b.test>\r\n\r\nhi\r\n"), "INBOX", uint32(1), uint32(2))
	f.Add([]byte("Message-Id:\r\n\r\n"), "Ünïcode/Box", uint32(0), uint32(0))
	f.Add([]byte("\xff\xfe: \r\n"), "\xff", uint32(1<<32-1), uint32(1<<32-1))
	f.Fuzz(func(t *testing.T, raw []byte, mailbox string, validity, uid uint32) {
		id := externalID(raw, mailbox, validity, uid)
		if len(id) > 256 || !utf8.ValidString(id) {
			t.Fatalf("externalID = %q: the relay refuses keys over 256 bytes or not UTF-8", id)
		}
	})
}

func FuzzSanitizeError(f *testing.F) {
	f.Add("login failed for pw", "pw")
	f.Add("\x00\r\n\xff", "")
	f.Add(strings.Repeat("ü", 400), "ü")
	f.Fuzz(func(t *testing.T, msg, secret string) {
		got := sanitizeError(errors.New(msg), secret)
		if len(got) > agentotp.MaxIMAPErrorLen || !utf8.ValidString(got) {
			t.Fatalf("sanitizeError: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
		}
		if len(secret) >= 4 && strings.Contains(got, secret) && !strings.Contains("[redacted]", secret) {
			t.Fatalf("the secret %q survives in %q", secret, got)
		}
		if strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("control characters in %q", got)
		}
	})
}

func TestPlan(t *testing.T) {
	row := &agentotp.IMAPSource{SourceID: "src_1", Version: 3}
	stoppedRow := &agentotp.IMAPSource{SourceID: "src_1", Version: 3, Status: agentotp.IMAPStatus{State: agentotp.IMAPStateStopped}}
	running := &connector{version: 3}
	stale := &connector{version: 2}
	ended := &connector{version: 3, ended: true}
	want := agentotp.EmailDemand{Want: true, Since: time.Unix(1, 0), Latest: time.Unix(1, 0)}
	for _, tt := range []struct {
		name string
		row  *agentotp.IMAPSource
		d    agentotp.EmailDemand
		c    *connector
		act  action
	}{
		{"demand, nothing runs: start", row, want, nil, start},
		{"demand, runs current settings: keep", row, want, running, keep},
		{"demand, runs old settings: restart", row, want, stale, restart},
		{"demand, connector ended by itself: restart", row, want, ended, restart},
		{"no demand, runs: stop", row, agentotp.EmailDemand{}, running, stop},
		{"no demand, nothing runs, status says otherwise: record stopped", row, agentotp.EmailDemand{}, nil, markStopped},
		{"no demand, nothing runs, already stopped: keep", stoppedRow, agentotp.EmailDemand{}, nil, keep},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := plan(tt.row, tt.d, tt.c); got != tt.act {
				t.Errorf("plan = %d; want %d", got, tt.act)
			}
		})
	}
}
