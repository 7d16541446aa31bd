package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/telegram"
)

// telegramServeOptions are serve's Telegram bot flags.
type telegramServeOptions struct {
	token  string
	apiURL string
}

func (o *telegramServeOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.token, "telegram-token", "", "Telegram bot token from @BotFather; starts the approval bot (env AGENTOTP_TELEGRAM_TOKEN)")
	f.StringVar(&o.apiURL, "telegram-api-url", telegram.DefaultAPIURL, "Telegram Bot API server (env AGENTOTP_TELEGRAM_API_URL)")
}

// startTelegram registers the bot as a notifier and starts its update
// loop; call it before svc.Run. Without a token it does nothing.
func startTelegram(ctx context.Context, stderr io.Writer, svc *relay.Service, prompts telegram.Prompts, log *slog.Logger, o telegramServeOptions) error {
	if o.token == "" {
		return nil
	}
	bot, err := telegram.New(svc, prompts, telegram.Config{Token: o.token, APIURL: o.apiURL, Logger: log})
	if err != nil {
		return &exitErr{exitUsage, fmt.Errorf("--telegram-token: %w", err)}
	}
	svc.AddNotifier(bot)
	if ep, ok := prompts.(telegram.EnrollPrompts); ok { // agents that enroll themselves (telegram/enroll.go)
		bot.EnableEnrollments(svc, ep)
		svc.AddEnrollmentNotifier(ctx, bot)
	}
	go func() { _ = bot.Run(ctx) }()
	fmt.Fprintf(stderr, "  telegram:    bot polling %s (link a chat: agentotp owner telegram-link)\n", o.apiURL)
	return nil
}
