package storetest

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// testIMAP runs the subtests of the IMAPStore methods.
func testIMAP(t *testing.T, e *env) {
	t.Run("RoundTrip", func(t *testing.T) { testIMAPRoundTrip(t, e) })
	t.Run("Ownership", func(t *testing.T) { testIMAPOwnership(t, e) })
	t.Run("CursorResetOnNewMailbox", func(t *testing.T) { testIMAPCursorReset(t, e) })
	t.Run("VersionGuards", func(t *testing.T) { testIMAPVersionGuards(t, e) })
	t.Run("ActiveOnly", func(t *testing.T) { testIMAPActiveOnly(t, e) })
}

// imapSettings returns IMAP settings for the source (not stored).
func imapSettings(src *agentotp.Source, when time.Time) *agentotp.IMAPSource {
	return &agentotp.IMAPSource{
		SourceID: src.ID, OwnerID: src.OwnerID, Host: "imap.example.com", Port: 993,
		TLSMode: agentotp.IMAPTLS, Username: "ada@example.com", PasswordSealed: []byte("sealed\x00password"),
		Mailbox: "INBOX", PollInterval: 90 * time.Second, MarkAsRead: false,
		CreatedAt: when, UpdatedAt: when,
	}
}

func normIMAP(s *agentotp.IMAPSource) agentotp.IMAPSource {
	c := *s
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	c.Status.LastErrorAt, c.Status.LastConnectedAt = utc(c.Status.LastErrorAt), utc(c.Status.LastConnectedAt)
	c.Status.LastMessageAt, c.Status.UpdatedAt = utc(c.Status.LastMessageAt), utc(c.Status.UpdatedAt)
	return c
}

func checkIMAP(t *testing.T, what string, got, want *agentotp.IMAPSource) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: got nil", what)
	}
	g, w := normIMAP(got), normIMAP(want)
	if !bytes.Equal(g.PasswordSealed, w.PasswordSealed) {
		t.Errorf("%s: sealed password differs", what)
	}
	g.PasswordSealed, w.PasswordSealed = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func testIMAPRoundTrip(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	src, _ := e.source(o.ID, agentotp.SourceKindEmail, at(0))
	s := imapSettings(src, at(time.Minute))
	ae := entry(o.ID, agentotp.AuditSourceIMAPSet, at(time.Minute))
	ae.SourceID = src.ID
	e.must(e.s.PutIMAPSource(e.ctx, s, ae), "PutIMAPSource")
	if s.Version < 1 {
		t.Errorf("PutIMAPSource set Version %d; want ≥ 1", s.Version)
	}
	got, err := e.s.GetIMAPSource(e.ctx, o.ID, src.ID)
	e.must(err, "GetIMAPSource")
	checkIMAP(t, "GetIMAPSource", got, s)

	// Cursor and status are kept by the row and read back.
	e.must(e.s.SaveIMAPCursor(e.ctx, src.ID, s.Version, 4242, 17), "SaveIMAPCursor")
	st := agentotp.IMAPStatus{State: agentotp.IMAPStateIdle, LastError: "dial: refused", LastErrorAt: at(2 * time.Minute),
		LastConnectedAt: at(3 * time.Minute), LastMessageAt: at(4 * time.Minute), UpdatedAt: at(5 * time.Minute)}
	e.must(e.s.SetIMAPStatus(e.ctx, src.ID, s.Version, st), "SetIMAPStatus")
	want := *s
	want.UIDValidity, want.LastUID, want.Status = 4242, 17, st
	got, err = e.s.GetIMAPSource(e.ctx, o.ID, src.ID)
	e.must(err, "GetIMAPSource")
	checkIMAP(t, "after cursor and status", got, &want)

	// Changing only the poll interval, password and mark-as-read keeps the
	// cursor and bumps the version; CreatedAt stays the first one.
	upd := imapSettings(src, at(time.Hour))
	upd.PollInterval, upd.MarkAsRead, upd.PasswordSealed = 30*time.Second, true, []byte("new sealed")
	e.must(e.s.PutIMAPSource(e.ctx, upd), "PutIMAPSource (update)")
	if upd.Version != s.Version+1 || upd.UIDValidity != 4242 || upd.LastUID != 17 || !upd.CreatedAt.Equal(at(time.Minute)) {
		t.Errorf("update: version %d cursor %d/%d created %v; want %d, 4242/17, %v",
			upd.Version, upd.UIDValidity, upd.LastUID, upd.CreatedAt, s.Version+1, at(time.Minute))
	}
	got, err = e.s.GetIMAPSource(e.ctx, o.ID, src.ID)
	e.must(err, "GetIMAPSource")
	if got.PollInterval != 30*time.Second || !got.MarkAsRead || string(got.PasswordSealed) != "new sealed" ||
		got.LastUID != 17 || got.Status.State != agentotp.IMAPStateIdle || got.Status.LastError != "" {
		t.Errorf("after update: %+v", got)
	}

	list, err := e.s.ListIMAPSources(e.ctx, o.ID)
	e.must(err, "ListIMAPSources")
	if len(list) != 1 || list[0].SourceID != src.ID {
		t.Errorf("ListIMAPSources = %d rows; want the one of %s", len(list), src.ID)
	}
	if n := countAudit(e, o.ID, agentotp.AuditSourceIMAPSet); n != 1 {
		t.Errorf("%d %s audit entries; want 1", n, agentotp.AuditSourceIMAPSet)
	}

	de := entry(o.ID, agentotp.AuditSourceIMAPCleared, at(2*time.Hour))
	e.must(e.s.DeleteIMAPSource(e.ctx, o.ID, src.ID, de), "DeleteIMAPSource")
	_, err = e.s.GetIMAPSource(e.ctx, o.ID, src.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetIMAPSource after delete")
	wantErr(t, e.s.DeleteIMAPSource(e.ctx, o.ID, src.ID), agentotp.ErrNotFound, "DeleteIMAPSource twice")
	wantErr(t, e.s.SaveIMAPCursor(e.ctx, src.ID, upd.Version, 1, 1), agentotp.ErrNotFound, "SaveIMAPCursor after delete")
	if n := countAudit(e, o.ID, agentotp.AuditSourceIMAPCleared); n != 1 {
		t.Errorf("%d %s audit entries; want 1", n, agentotp.AuditSourceIMAPCleared)
	}
}

func testIMAPOwnership(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	src, _ := e.source(o.ID, agentotp.SourceKindEmail, at(0))

	// Another owner can neither set, read nor delete the settings.
	s := imapSettings(src, at(0))
	s.OwnerID = other.ID
	wantErr(t, e.s.PutIMAPSource(e.ctx, s), agentotp.ErrNotFound, "PutIMAPSource by another owner")
	s = imapSettings(src, at(0))
	s.SourceID = newID("src")
	wantErr(t, e.s.PutIMAPSource(e.ctx, s), agentotp.ErrNotFound, "PutIMAPSource of an unknown source")

	e.must(e.s.PutIMAPSource(e.ctx, imapSettings(src, at(0))), "PutIMAPSource")
	_, err := e.s.GetIMAPSource(e.ctx, other.ID, src.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetIMAPSource by another owner")
	wantErr(t, e.s.DeleteIMAPSource(e.ctx, other.ID, src.ID), agentotp.ErrNotFound, "DeleteIMAPSource by another owner")
	list, err := e.s.ListIMAPSources(e.ctx, other.ID)
	e.must(err, "ListIMAPSources")
	if len(list) != 0 {
		t.Errorf("another owner lists %d IMAP settings; want 0", len(list))
	}
	if _, err := e.s.GetIMAPSource(e.ctx, o.ID, src.ID); err != nil {
		t.Errorf("the owner's settings were touched: %v", err)
	}
}

func testIMAPCursorReset(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	for _, tt := range []struct {
		name   string
		change func(s *agentotp.IMAPSource)
	}{
		{"host", func(s *agentotp.IMAPSource) { s.Host = "imap.other.example" }},
		{"port", func(s *agentotp.IMAPSource) { s.Port = 143; s.TLSMode = agentotp.IMAPStartTLS }},
		{"username", func(s *agentotp.IMAPSource) { s.Username = "bob@example.com" }},
		{"mailbox", func(s *agentotp.IMAPSource) { s.Mailbox = "Codes" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := e.source(o.ID, agentotp.SourceKindEmail, at(0))
			s := imapSettings(src, at(0))
			e.must(e.s.PutIMAPSource(e.ctx, s), "PutIMAPSource")
			e.must(e.s.SaveIMAPCursor(e.ctx, src.ID, s.Version, 7, 99), "SaveIMAPCursor")
			e.must(e.s.SetIMAPStatus(e.ctx, src.ID, s.Version, agentotp.IMAPStatus{State: agentotp.IMAPStateIdle,
				LastConnectedAt: at(time.Second), LastMessageAt: at(time.Second), UpdatedAt: at(time.Second)}), "SetIMAPStatus")
			n := imapSettings(src, at(time.Minute))
			tt.change(n)
			e.must(e.s.PutIMAPSource(e.ctx, n), "PutIMAPSource (new mailbox)")
			if n.UIDValidity != 0 || n.LastUID != 0 {
				t.Errorf("cursor after a %s change = %d/%d; want 0/0", tt.name, n.UIDValidity, n.LastUID)
			}
			got, err := e.s.GetIMAPSource(e.ctx, o.ID, src.ID)
			e.must(err, "GetIMAPSource")
			if got.LastUID != 0 || got.UIDValidity != 0 || got.Status.State != "" || !got.Status.LastMessageAt.IsZero() {
				t.Errorf("stored after a %s change: cursor %d/%d status %+v; want reset", tt.name, got.UIDValidity, got.LastUID, got.Status)
			}
		})
	}
}

func testIMAPVersionGuards(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	src, _ := e.source(o.ID, agentotp.SourceKindEmail, at(0))
	s := imapSettings(src, at(0))
	e.must(e.s.PutIMAPSource(e.ctx, s), "PutIMAPSource")
	old := s.Version
	e.must(e.s.PutIMAPSource(e.ctx, imapSettings(src, at(time.Minute))), "PutIMAPSource (again)")

	// A connector that still runs the old settings cannot write.
	wantErr(t, e.s.SaveIMAPCursor(e.ctx, src.ID, old, 1, 500), agentotp.ErrConflict, "SaveIMAPCursor with an old version")
	wantErr(t, e.s.SetIMAPStatus(e.ctx, src.ID, old, agentotp.IMAPStatus{State: agentotp.IMAPStateError}),
		agentotp.ErrConflict, "SetIMAPStatus with an old version")
	got, err := e.s.GetIMAPSource(e.ctx, o.ID, src.ID)
	e.must(err, "GetIMAPSource")
	if got.LastUID == 500 || got.Status.State == agentotp.IMAPStateError {
		t.Errorf("a write with an old version went through: %+v", got)
	}
	wantErr(t, e.s.SaveIMAPCursor(e.ctx, newID("src"), 1, 1, 1), agentotp.ErrNotFound, "SaveIMAPCursor of an unknown source")

	// Full 32-bit UIDs survive.
	e.must(e.s.SaveIMAPCursor(e.ctx, src.ID, got.Version, 1<<32-1, 1<<32-2), "SaveIMAPCursor (max)")
	got, err = e.s.GetIMAPSource(e.ctx, o.ID, src.ID)
	e.must(err, "GetIMAPSource")
	if got.UIDValidity != 1<<32-1 || got.LastUID != 1<<32-2 {
		t.Errorf("cursor %d/%d; want %d/%d", got.UIDValidity, got.LastUID, uint32(1<<32-1), uint32(1<<32-2))
	}
}

func testIMAPActiveOnly(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Bob", at(0))
	a, _ := e.source(o.ID, agentotp.SourceKindEmail, at(0))
	b, _ := e.source(other.ID, agentotp.SourceKindGeneric, at(0))
	gone, _ := e.source(o.ID, agentotp.SourceKindEmail, at(0))
	for _, src := range []*agentotp.Source{a, b, gone} {
		e.must(e.s.PutIMAPSource(e.ctx, imapSettings(src, at(0))), "PutIMAPSource")
	}
	e.must(e.s.RevokeSource(e.ctx, o.ID, gone.ID, at(time.Hour)), "RevokeSource")
	list, err := e.s.ListActiveIMAPSources(e.ctx)
	e.must(err, "ListActiveIMAPSources")
	ids := map[string]bool{}
	for _, s := range list {
		ids[s.SourceID] = true
	}
	if !ids[a.ID] || !ids[b.ID] || ids[gone.ID] {
		t.Errorf("ListActiveIMAPSources = %v; want %s and %s (every owner's, not the revoked %s)", ids, a.ID, b.ID, gone.ID)
	}
	mine, err := e.s.ListIMAPSources(e.ctx, o.ID)
	e.must(err, "ListIMAPSources")
	if len(mine) != 2 {
		t.Errorf("ListIMAPSources = %d rows; want 2 (a revoked source's settings are still listed for its owner)", len(mine))
	}
}
