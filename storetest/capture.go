package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// testSourceKeys checks PutSourceKey and ListSourceKeys: a key reads back
// as stored, a second put replaces it, a revoked source's key is not
// listed, and the listing narrows to one source and honours its limit.
func testSourceKeys(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	sms, _ := e.source(o.ID, agentotp.SourceKindSMS, at(0))
	gen, _ := e.source(o.ID, agentotp.SourceKindGeneric, at(time.Second))
	mal, _ := e.source(other.ID, agentotp.SourceKindSMS, at(2*time.Second))

	if ks, err := e.s.ListSourceKeys(e.ctx, "", 0); err != nil || len(ks) != 0 {
		t.Fatalf("ListSourceKeys on an empty table = %v, %v; want none", ks, err)
	}
	put := func(s *agentotp.Source, sealed string, when time.Time) {
		t.Helper()
		e.must(e.s.PutSourceKey(e.ctx, &agentotp.SourceKey{SourceID: s.ID, OwnerID: s.OwnerID, Sealed: []byte(sealed), CreatedAt: when}), "PutSourceKey")
	}
	put(sms, "first", at(0))
	put(sms, "second", at(0)) // replaces
	put(gen, "gen", at(time.Second))
	put(mal, "mal", at(2*time.Second))

	all, err := e.s.ListSourceKeys(e.ctx, "", 0)
	e.must(err, "ListSourceKeys")
	if len(all) != 3 || all[0].SourceID != sms.ID || all[1].SourceID != gen.ID || all[2].SourceID != mal.ID {
		t.Fatalf("ListSourceKeys = %d keys; want sms, generic, other owner's sms in that order", len(all))
	}
	k := all[0]
	if !bytes.Equal(k.Sealed, []byte("second")) || k.OwnerID != o.ID || k.Kind != agentotp.SourceKindSMS || !k.CreatedAt.Equal(at(0)) {
		t.Errorf("key read back as %+v", k)
	}
	one, err := e.s.ListSourceKeys(e.ctx, gen.ID, 0)
	e.must(err, "ListSourceKeys(one)")
	if len(one) != 1 || one[0].SourceID != gen.ID || one[0].Kind != agentotp.SourceKindGeneric {
		t.Errorf("ListSourceKeys(%s) = %v", gen.ID, one)
	}
	if lim, err := e.s.ListSourceKeys(e.ctx, "", 2); err != nil || len(lim) != 2 {
		t.Errorf("ListSourceKeys(limit 2) = %d keys, %v", len(lim), err)
	}
	if none, err := e.s.ListSourceKeys(e.ctx, newID("src"), 0); err != nil || len(none) != 0 {
		t.Errorf("ListSourceKeys(unknown source) = %v, %v; want none", none, err)
	}

	e.must(e.s.RevokeSource(e.ctx, o.ID, sms.ID, at(time.Hour)), "RevokeSource")
	after, err := e.s.ListSourceKeys(e.ctx, "", 0)
	e.must(err, "ListSourceKeys")
	for _, k := range after {
		if k.SourceID == sms.ID {
			t.Errorf("a revoked source's key is still listed")
		}
	}
	if len(after) != 2 {
		t.Errorf("after revoking one source, %d keys listed; want 2", len(after))
	}
}

// testMessageSeen checks that MessageSeen reports what RecordMessage
// recorded, per source, and records nothing itself.
func testMessageSeen(t *testing.T, e *env) {
	if seen, err := e.s.MessageSeen(e.ctx, "src_a", "m1"); err != nil || seen {
		t.Fatalf("MessageSeen before any record = %v, %v", seen, err)
	}
	if seen, _ := e.s.MessageSeen(e.ctx, "src_a", "m1"); seen {
		t.Fatal("MessageSeen recorded the message")
	}
	fresh, err := e.s.RecordMessage(e.ctx, "src_a", "m1", at(0))
	e.must(err, "RecordMessage")
	if !fresh {
		t.Fatal("RecordMessage after MessageSeen: not fresh; MessageSeen must not record")
	}
	if seen, err := e.s.MessageSeen(e.ctx, "src_a", "m1"); err != nil || !seen {
		t.Fatalf("MessageSeen after RecordMessage = %v, %v", seen, err)
	}
	if seen, _ := e.s.MessageSeen(e.ctx, "src_b", "m1"); seen {
		t.Fatal("MessageSeen crosses sources")
	}
}
