package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/telegram"
)

// telegramServeOptions are serve's Telegram bot flags.
type telegramServeOptions struct {
	token       string
	apiURL      string
	passkeyOnly bool
	metrics     *httpapi.Metrics // set by serve, not a flag: follows the poller
	gate        *leaseGate       // set by serve on a shared store: held while this relay polls (serve_cluster.go)
}

func (o *telegramServeOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.token, "telegram-token", "", "Telegram bot token from @BotFather; starts the approval bot (env AGENTOTP_TELEGRAM_TOKEN)")
	f.StringVar(&o.apiURL, "telegram-api-url", telegram.DefaultAPIURL, "Telegram Bot API server (env AGENTOTP_TELEGRAM_API_URL)")
	f.BoolVar(&o.passkeyOnly, "telegram-passkey-only", false, "no Approve button in Telegram: approvals are signed with a passkey on the request's page (a tap cannot be signed)")
}

// newTelegram builds the approval bot; nil without a token. Its
// enrollment prompts follow the relay's enrollments until ctx ends. The caller
// registers it as a notifier and runs it as a component of the relay.
func newTelegram(ctx context.Context, svc *relay.Service, prompts telegram.Prompts, log *slog.Logger, o telegramServeOptions) (*telegram.Bot, error) {
	if o.token == "" {
		return nil, nil
	}
	bot, err := telegram.New(svc, prompts, telegram.Config{Token: o.token, APIURL: o.apiURL, Logger: log, PasskeyOnly: o.passkeyOnly})
	if err != nil {
		return nil, &exitErr{exitUsage, fmt.Errorf("--telegram-token: %w", err)}
	}
	if o.metrics != nil {
		o.metrics.WatchTelegram(bot.PollerState)
	}
	if ep, ok := prompts.(telegram.EnrollPrompts); ok { // agents that enroll themselves (telegram/enroll.go)
		bot.EnableEnrollments(svc, ep)
		if o.gate != nil {
			svc.AddEnrollmentNotifier(ctx, gatedEnrollmentNotifier{o.gate, bot}) // only the relay that polls sends
		} else {
			svc.AddEnrollmentNotifier(ctx, bot)
		}
	}
	return bot, nil
}
