package extract

import (
	"strings"
	"testing"
)

func TestHTMLToText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain text", "Your code is 482913", "Your code is 482913"},
		{"code alone in h1", "<p>Your code:</p><h1>482913</h1><p>Thanks</p>", "Your code:\n\n482913\n\nThanks"},
		{"code alone in td", "<table><tr><td>Code:</td><td>4821</td></tr></table>", "Code:\n4821"},
		{"adjacent spans join", "<p>Code: <span>3</span><span>8</span><span>1</span><span>2</span></p>", "Code: 3812"},
		{"spaced spans stay apart", "<span>3</span> <span>8</span>", "3 8"},
		{"inline bold in sentence", "<p>Your code is <b>482913</b>.</p>", "Your code is 482913."},
		{"style script head dropped", "<html><head><title>T 111111</title><style>.a{color:#222222}</style></head><body><script>var x=333333;</script><p>Hi 482913</p></body></html>", "Hi 482913"},
		{"display none", "<div style=\"display: none\">hidden 111111</div><p>shown</p>", "shown"},
		{"display none uppercase important", "<div style=\"DISPLAY:NONE !important\">hidden</div>shown", "shown"},
		{"visibility hidden", "<span style=\"visibility:hidden\">x</span>shown", "shown"},
		{"hidden attribute", "<div hidden>x</div>shown", "shown"},
		{"max-height 0 preheader", "<div style=\"max-height:0px;overflow:hidden\">Order 55201</div>shown", "shown"},
		{"font-size 0", "<span style=\"font-size:0\">x</span>shown", "shown"},
		{"opacity 0", "<span style=\"opacity:0\">x</span>shown", "shown"},
		{"mso-hide", "<span style=\"mso-hide:all\">x</span>shown", "shown"},
		{"preheader class", "<span class=\"preheader\">Your code inside</span>shown", "shown"},
		{"font-size 0.9em is visible", "<span style=\"font-size:0.9em\">visible</span>", "visible"},
		{"opacity 0.5 is visible", "<span style=\"opacity:0.5\">visible</span>", "visible"},
		{"line-height 0 alone is visible", "<span style=\"line-height:0\">visible</span>", "visible"},
		{"height 0 with overflow hidden", "<div style=\"height:0;overflow:hidden\">x</div>shown", "shown"},
		{"nested hidden", "<div style=\"display:none\"><p>secret 1234</p><span>x</span></div><p>visible</p>", "visible"},
		{"link target kept out", "<p><a href=\"https://example.com/v?code=999999\">Verify</a> now</p>", "Verify now"},
		{"image alt kept out", "<p><img src=\"logo.png\" alt=\"4821\">Hello</p>", "Hello"},
		{"br", "a<br>b", "a\nb"},
		{"many br collapse", "a<br><br><br><br>b", "a\n\nb"},
		{"nbsp groups", "<p>482&nbsp;913</p>", "482 913"},
		{"character references", "<p>&#52;&#56;&#50;&#57;</p>", "4829"},
		{"zero-width padding", "<p>Hi&zwnj;&nbsp;&zwnj;&nbsp;&#847;&zwnj; there</p>", "Hi there"},
		{"digit per cell joined", "<table><tr><td>6</td><td>0</td><td>5</td><td>1</td><td>2</td><td>3</td></tr></table>", "605123"},
		{"three cells not joined", "<table><tr><td>A</td><td>B</td><td>C</td></tr></table>", "A\nB\nC"},
		{"digit per div joined", "<div>4</div><div>8</div><div>2</div><div>9</div>", "4829"},
		{"pre keeps lines", "<pre>line 1\nline  2</pre>", "line 1\nline  2"},
		{"comments dropped", "<!-- 111111 --><p>ok</p><!--[if mso]><p>mso 222222</p><![endif]-->", "ok"},
		{"unclosed tags", "<div><p>Code <b>1234</div> after", "Code 1234\n\nafter"},
		{"stray end tags", "</td></tr></table>text</span>", "text"},
		{"unclosed head then body", "<head><title>t</title><body>Hello", "Hello"},
		{"whitespace collapses", "<p>  Your\n\n   code  </p>", "Your code"},
		{"list items", "<ul><li>one</li><li>two</li></ul>", "one\ntwo"},
		{"textarea kept", "<textarea>note 1</textarea>", "note 1"},
		{"noscript dropped", "<noscript>enable JS 1234</noscript>ok", "ok"},
		{"svg dropped", "<svg><text>4821</text></svg>ok", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTMLToText(tt.in); got != tt.want {
				t.Errorf("HTMLToText(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHTMLToTextBounded(t *testing.T) {
	cases := map[string]string{
		"deep nesting":      strings.Repeat("<div>", 200000) + "482913" + strings.Repeat("</div>", 200000),
		"deep hidden":       strings.Repeat("<span>", 1000) + "<div style=display:none>" + strings.Repeat("<b>", 100000) + "x" + "</div>shown",
		"unmatched ends":    strings.Repeat("</p></x-custom>", 100000),
		"many attributes":   "<div " + strings.Repeat("a=b ", 100000) + ">x</div>",
		"huge style":        "<div style=\"" + strings.Repeat("color:red;", 100000) + "\">x</div>",
		"1MB text":          "<p>" + strings.Repeat("1234 ", 200000) + "</p>",
		"many single cells": strings.Repeat("<td>1</td>", 100000),
	}
	for name, in := range cases {
		out := HTMLToText(in) // its time is BenchmarkPathological's to show
		if len(out) > len(in) {
			t.Errorf("%s: output longer than input", name)
		}
	}
	// Elements nested beyond the stack limit still produce text.
	if got := HTMLToText(strings.Repeat("<div>", 1000) + "482913"); !strings.Contains(got, "482913") {
		t.Errorf("deep nesting lost the text: %q", got)
	}
}
