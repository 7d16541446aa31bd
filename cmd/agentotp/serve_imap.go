package main

import (
	"context"
	"fmt"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/web"
)

// imapStatus reports a source's IMAP connector for the dashboard's sources
// page: where it reads, its state, and its last error.
func imapStatus(svc *relay.Service) web.SourceStatusFunc {
	return func(ctx context.Context, src *domain.Source) (string, bool) {
		im, err := svc.SourceIMAP(ctx, src.OwnerID, src.ID)
		if err != nil {
			return "", false
		}
		state := im.Status.State
		if state == "" {
			state = "waiting for a request that wants email"
		}
		out := fmt.Sprintf("IMAP %s %s/%s: %s", im.Username, im.Addr(), im.Mailbox, state)
		if im.Status.LastError != "" {
			out += " — last error: " + im.Status.LastError
		}
		return out, true
	}
}
