package main

import (
	"context"
	"fmt"
	"log/slog"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/imap"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/web"
)

// startIMAP runs the IMAP connectors of the email sources that have IMAP
// settings (package imap): each connects while a live request of its
// owner wants email. Call it before svc.Run, which starts the notifiers
// that wake the manager. The returned function stops the connectors (they
// log out) and waits for them.
func startIMAP(ctx context.Context, svc *relay.Service, store imap.Store, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	m := imap.New(svc, store, imap.Config{Logger: log})
	svc.AddNotifier(m)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

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
