package web_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// brokenWordsJS lists the words of table cells that the browser split
// across lines, and the cells whose style lets it split words anywhere.
// A line may end at a space, or after a hyphen or slash (where text
// breaks by the Unicode rules); a word ("enabled", "ak_live_3f9c") is
// never cut in two.
const brokenWordsJS = `(() => {
  const out = [];
  for (const td of document.querySelectorAll('table.list td')) {
    const cs = getComputedStyle(td);
    if (cs.overflowWrap === 'anywhere' || cs.wordBreak === 'break-all') out.push('style of ' + td.dataset.label + ': overflow-wrap: ' + cs.overflowWrap + ', word-break: ' + cs.wordBreak);
    for (const el of td.querySelectorAll('*')) {
      if (getComputedStyle(el).wordBreak === 'break-all') out.push('style of ' + el.tagName + ' in ' + td.dataset.label + ': word-break: break-all');
    }
    const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const re = /[^\s\-\/]+/g;
      let m;
      while ((m = re.exec(n.data))) {
        const r = document.createRange();
        r.setStart(n, m.index);
        r.setEnd(n, m.index + m[0].length);
        const lines = new Set([...r.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.bottom)));
        if (lines.size > 1) out.push(td.dataset.label + ': ' + m[0]);
      }
    }
  }
  return [...new Set(out)];
})()`

// checkWordsWhole fails when a table cell of the page splits a word, at
// the desk size and at a phone's.
func checkWordsWhole(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desk", 1280, 900}, {"phone", 390, 844}} {
		step(t, ctx, size.name+" size", chromedp.EmulateViewport(size.w, size.h))
		for _, bad := range eval[[]string](t, ctx, brokenWordsJS) {
			t.Errorf("%s at %s size: a table cell breaks a word: %s", name, size.name, bad)
		}
	}
	step(t, ctx, "desk size", chromedp.EmulateViewport(1280, 900))
}
