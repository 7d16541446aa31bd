package storetest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// testTelegram runs the subtests of the TelegramStore part of the
// interface.
func testTelegram(t *testing.T, e *env) {
	t.Run("LinkCodes", func(t *testing.T) { testTelegramLinkCodes(t, e.sub(t)) })
	t.Run("Links", func(t *testing.T) { testTelegramLinks(t, e.sub(t)) })
	t.Run("Prompts", func(t *testing.T) { testTelegramPrompts(t, e.sub(t)) })
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testTelegramLinkCodes(t *testing.T, e *env) {
	ada, _ := e.owner("Ada", at(0))
	bob, _ := e.owner("Bob", at(0))
	save := func(ownerID, code string, expires time.Time) {
		t.Helper()
		e.must(e.s.SaveTelegramLinkCode(e.ctx, &agentotp.TelegramLinkCode{OwnerID: ownerID, CodeHash: hashOf(code), CreatedAt: at(0), ExpiresAt: expires},
			entry(ownerID, agentotp.AuditTelegramLinkCode, at(0))), "SaveTelegramLinkCode")
	}
	save(ada.ID, "old", at(10*time.Minute))
	save(ada.ID, "new", at(10*time.Minute)) // replaces "old"
	save(bob.ID, "bob", at(5*time.Minute))
	codes, err := e.s.ListTelegramLinkCodes(e.ctx, at(time.Minute))
	e.must(err, "ListTelegramLinkCodes")
	got := map[string][]byte{}
	for _, c := range codes {
		got[c.OwnerID] = c.CodeHash
	}
	if len(codes) != 2 || !bytes.Equal(got[ada.ID], hashOf("new")) || !bytes.Equal(got[bob.ID], hashOf("bob")) {
		t.Errorf("live codes: %+v", codes)
	}
	// Expired codes are not listed.
	codes, err = e.s.ListTelegramLinkCodes(e.ctx, at(5*time.Minute))
	e.must(err, "ListTelegramLinkCodes")
	if len(codes) != 1 || codes[0].OwnerID != ada.ID || !utc(codes[0].ExpiresAt).Equal(at(10*time.Minute)) {
		t.Errorf("codes at +5m: %+v", codes)
	}
	// The replaced code cannot link.
	wantErr(t, e.s.LinkTelegramChat(e.ctx, &agentotp.TelegramLink{OwnerID: ada.ID, ChatID: 1, UserID: 1, LinkedAt: at(0)}, hashOf("old")),
		agentotp.ErrNotFound, "LinkTelegramChat with a replaced code")
}

func testTelegramLinks(t *testing.T, e *env) {
	ada, _ := e.owner("Ada", at(0))
	bob, _ := e.owner("Bob", at(0))
	code := func(ownerID, c string) {
		t.Helper()
		e.must(e.s.SaveTelegramLinkCode(e.ctx, &agentotp.TelegramLinkCode{OwnerID: ownerID, CodeHash: hashOf(c), CreatedAt: at(0), ExpiresAt: at(time.Hour)}), "SaveTelegramLinkCode")
	}
	_, err := e.s.GetTelegramLink(e.ctx, ada.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetTelegramLink before linking")

	code(ada.ID, "ada1")
	link := &agentotp.TelegramLink{OwnerID: ada.ID, ChatID: -100123, UserID: 42, Username: "ada", LinkedAt: at(time.Second)}
	e.must(e.s.LinkTelegramChat(e.ctx, link, hashOf("ada1"), entry(ada.ID, agentotp.AuditTelegramLinked, at(time.Second))), "LinkTelegramChat")
	for _, get := range []func() (*agentotp.TelegramLink, error){
		func() (*agentotp.TelegramLink, error) { return e.s.GetTelegramLink(e.ctx, ada.ID) },
		func() (*agentotp.TelegramLink, error) { return e.s.GetTelegramLinkByChat(e.ctx, -100123) },
	} {
		got, err := get()
		e.must(err, "get link")
		if got.OwnerID != ada.ID || got.ChatID != -100123 || got.UserID != 42 || got.Username != "ada" || !utc(got.LinkedAt).Equal(at(time.Second)) {
			t.Errorf("link = %+v", got)
		}
	}
	// The code is used up.
	wantErr(t, e.s.LinkTelegramChat(e.ctx, link, hashOf("ada1")), agentotp.ErrNotFound, "LinkTelegramChat with a used code")

	// Another owner cannot take the chat; its code stays unused.
	code(bob.ID, "bob1")
	wantErr(t, e.s.LinkTelegramChat(e.ctx, &agentotp.TelegramLink{OwnerID: bob.ID, ChatID: -100123, UserID: 7, LinkedAt: at(0)}, hashOf("bob1")),
		agentotp.ErrConflict, "LinkTelegramChat of a chat linked to another owner")
	codes, err := e.s.ListTelegramLinkCodes(e.ctx, at(0))
	e.must(err, "ListTelegramLinkCodes")
	bobs := 0
	for _, c := range codes {
		if c.OwnerID == bob.ID {
			bobs++
		}
	}
	if bobs != 1 {
		t.Errorf("a refused link used the code: %d codes of bob left", bobs)
	}
	_, err = e.s.GetTelegramLink(e.ctx, bob.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetTelegramLink of the refused owner")

	// Relinking moves the owner's link to a new chat.
	code(ada.ID, "ada2")
	e.must(e.s.LinkTelegramChat(e.ctx, &agentotp.TelegramLink{OwnerID: ada.ID, ChatID: 555, UserID: 555, LinkedAt: at(time.Minute)}, hashOf("ada2")), "relink")
	_, err = e.s.GetTelegramLinkByChat(e.ctx, -100123)
	wantErr(t, err, agentotp.ErrNotFound, "the old chat after relinking")
	// Now bob may link the freed chat.
	e.must(e.s.LinkTelegramChat(e.ctx, &agentotp.TelegramLink{OwnerID: bob.ID, ChatID: -100123, UserID: 7, LinkedAt: at(0)}, hashOf("bob1")), "bob links")

	e.must(e.s.UnlinkTelegramChat(e.ctx, ada.ID, entry(ada.ID, agentotp.AuditTelegramUnlinked, at(time.Hour))), "UnlinkTelegramChat")
	_, err = e.s.GetTelegramLink(e.ctx, ada.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetTelegramLink after unlinking")
	wantErr(t, e.s.UnlinkTelegramChat(e.ctx, ada.ID), agentotp.ErrNotFound, "UnlinkTelegramChat twice")
	if l, err := e.s.GetTelegramLink(e.ctx, bob.ID); err != nil || l.ChatID != -100123 {
		t.Errorf("bob's link: %+v %v", l, err)
	}
	es, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: ada.ID})
	e.must(err, "ListAudit")
	var n int
	for _, x := range es {
		if x.Action == agentotp.AuditTelegramLinked || x.Action == agentotp.AuditTelegramUnlinked {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d link audit entries; want 2", n)
	}
}

func testTelegramPrompts(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	r := newRequest(a, at(0))
	e.createRequest(r)
	p1 := &agentotp.TelegramPrompt{TokenHash: hashOf("t1"), RequestID: r.ID, OwnerID: o.ID, ChatID: 9, CreatedAt: at(0)}
	p2 := &agentotp.TelegramPrompt{TokenHash: hashOf("t2"), RequestID: r.ID, OwnerID: o.ID, ChatID: 9, CreatedAt: at(time.Second)}
	e.must(e.s.CreateTelegramPrompt(e.ctx, p1), "CreateTelegramPrompt")
	e.must(e.s.CreateTelegramPrompt(e.ctx, p2), "CreateTelegramPrompt")
	wantErr(t, e.s.CreateTelegramPrompt(e.ctx, p1), agentotp.ErrConflict, "CreateTelegramPrompt twice")
	e.must(e.s.SetTelegramPromptMessage(e.ctx, p1.TokenHash, 77), "SetTelegramPromptMessage")
	e.must(e.s.CloseTelegramPrompt(e.ctx, p2.TokenHash, at(time.Minute)), "CloseTelegramPrompt")
	wantErr(t, e.s.SetTelegramPromptMessage(e.ctx, hashOf("nope"), 1), agentotp.ErrNotFound, "SetTelegramPromptMessage of a missing prompt")
	wantErr(t, e.s.CloseTelegramPrompt(e.ctx, hashOf("nope"), at(0)), agentotp.ErrNotFound, "CloseTelegramPrompt of a missing prompt")

	got, err := e.s.GetTelegramPrompt(e.ctx, hashOf("t1"))
	e.must(err, "GetTelegramPrompt")
	if got.RequestID != r.ID || got.OwnerID != o.ID || got.ChatID != 9 || got.MessageID != 77 || !got.ClosedAt.IsZero() || !utc(got.CreatedAt).Equal(at(0)) {
		t.Errorf("prompt = %+v", got)
	}
	_, err = e.s.GetTelegramPrompt(e.ctx, hashOf("t3"))
	wantErr(t, err, agentotp.ErrNotFound, "GetTelegramPrompt of an unknown token")
	ps, err := e.s.ListTelegramPrompts(e.ctx, r.ID)
	e.must(err, "ListTelegramPrompts")
	if len(ps) != 2 || !bytes.Equal(ps[0].TokenHash, p1.TokenHash) || !utc(ps[1].ClosedAt).Equal(at(time.Minute)) {
		t.Errorf("prompts = %+v", ps)
	}
	if ps, err := e.s.ListTelegramPrompts(e.ctx, "otp_other"); err != nil || len(ps) != 0 {
		t.Errorf("prompts of another request: %v %v", ps, err)
	}
}
