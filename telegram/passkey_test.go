package telegram_test

import (
	"strings"
	"testing"

	"github.com/agentotp/agentotp"
)

// TestPromptPasskey: a relay reachable over https adds a button that
// opens the request's page, where the owner's passkey signs the approval;
// in passkey-only mode a tap cannot approve (it could carry no signature),
// only deny.
func TestPromptPasskey(t *testing.T) {
	for _, tt := range []struct {
		name        string
		passkeyOnly bool
	}{{"taps may approve unsigned", false}, {"passkey only", true}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{publicURL: "https://relay.example", passkeyOnly: tt.passkeyOnly})
			e.link(ownerChat, ownerUser)
			r := e.request(reqOpts{})
			c := e.calls.Take(t, 1)[0]
			kb := c.Send.ReplyMarkup
			if kb == nil || len(kb.InlineKeyboard) != 2 || len(kb.InlineKeyboard[1]) != 1 {
				t.Fatalf("keyboard %+v; want the decision row and the passkey row", kb)
			}
			open := kb.InlineKeyboard[1][0]
			if open.URL != "https://relay.example/r/"+r.ID || open.CallbackData != "" || !strings.Contains(open.Text, "passkey") {
				t.Fatalf("passkey button %+v", open)
			}
			row := kb.InlineKeyboard[0]
			if tt.passkeyOnly {
				if len(row) != 1 || row[0].Text != "❌ Deny" {
					t.Fatalf("passkey-only row %+v; want Deny alone", row)
				}
				// A forged approve tap with the prompt's own token changes nothing.
				approve := "a:" + strings.TrimPrefix(row[0].CallbackData, "d:")
				id := e.fake.Tap(ownerUser, *c.Result, approve)
				wantAnswer(t, e.calls.Take(t, 1)[0], id, "Approving needs your passkey: open the request's page.", true)
				if cur := e.current(r.ID); cur.Status != agentotp.StatusPending {
					t.Fatalf("a tap approved in passkey-only mode: %s", cur.Status)
				}
				return
			}
			if len(row) != 2 || row[0].Text != "✅ Approve" {
				t.Fatalf("row %+v", row)
			}
		})
	}
}
