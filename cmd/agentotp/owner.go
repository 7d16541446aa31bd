package main

import (
	"encoding/json"
	"io"
	"time"
)

// This file holds what the owner commands share for output. The commands
// live by subject: agents.go, sources.go, owner_requests.go (requests,
// approve, deny), audit.go, owner_token.go, owner_dashboard.go,
// owner_telegram.go, policies.go, webhooks.go; root.go's ownerRun makes
// their owner client.

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// fmtTime formats t in local time, "-" for none.
func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// clip shortens s to n characters with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
