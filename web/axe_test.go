package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axePath is where npm ci puts axe-core, from the pinned lock file in
// testdata/axe (scripts/install-sdk-deps runs it).
var axePath = filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js")

// loadAxe returns axe-core's script, or "" when it is not installed: the
// accessibility checks then skip, except in CI, where its absence fails.
func loadAxe(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(axePath)
	if err == nil {
		return string(b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read axe-core: %v", err)
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("axe-core is not installed at web/%s; scripts/install-sdk-deps installs it (npm ci in web/testdata/axe)", axePath)
	}
	t.Logf("axe-core is not installed at web/%s (run scripts/install-sdk-deps); the accessibility checks skip", axePath)
	return ""
}

// axeViolation is one rule that failed, as axe-core reports it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target         []any  `json:"target"`
		HTML           string `json:"html"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

// colorScheme emulates prefers-color-scheme for the tab.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// checkA11y runs axe-core on the page the tab shows, in the light and
// the dark colour scheme, and fails on every serious or critical
// violation. Each run is a subtest (axe/NAME/light, axe/NAME/dark), which
// skips when axe-core is not installed.
func checkA11y(t *testing.T, ctx context.Context, axe, name string) {
	t.Helper()
	for _, scheme := range []string{"light", "dark"} {
		t.Run("axe/"+name+"/"+scheme, func(t *testing.T) {
			if axe == "" {
				t.Skip("axe-core is not installed (scripts/install-sdk-deps)")
			}
			step(t, ctx, "emulate "+scheme, colorScheme(scheme))
			defer step(t, ctx, "emulate light", colorScheme("light"))
			if scheme == "dark" && !eval[bool](t, ctx, `matchMedia('(prefers-color-scheme: dark)').matches`) {
				t.Fatal("the dark colour scheme is not emulated")
			}
			if !eval[bool](t, ctx, `typeof window.axe === 'object'`) {
				step(t, ctx, "inject axe-core", chromedp.Evaluate[chromedp.Void](axe))
			}
			sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			raw, err := chromedp.Run(sctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("axe-core on %s: %v", name, err)
			}
			var vs []axeViolation
			if err := json.Unmarshal([]byte(raw), &vs); err != nil {
				t.Fatalf("axe-core's result: %v", err)
			}
			for _, v := range vs {
				if v.Impact != "serious" && v.Impact != "critical" {
					t.Logf("axe %s (%s, not failing): %s", v.ID, v.Impact, v.Help)
					continue
				}
				var where []string
				for _, n := range v.Nodes {
					where = append(where, n.HTML+"\n      "+strings.ReplaceAll(n.FailureSummary, "\n", "\n      "))
				}
				t.Errorf("axe %s (%s) on %s, %s scheme: %s\n    %s", v.ID, v.Impact, name, scheme, v.Help, strings.Join(where, "\n    "))
			}
		})
	}
}
