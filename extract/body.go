package extract

import "strings"

// Body is the readable text of a message: its plain text and the text of
// its HTML part, converted once (HTMLToText is the costly step of reading
// a message, and both the filter and the extractor need its result).
type Body struct {
	Text     string // the plain-text part
	HTMLText string // HTMLToText of the HTML part, "" without one
}

// NewBody converts html, if any, once.
func NewBody(text, html string) Body {
	b := Body{Text: text}
	if html != "" {
		b.HTMLText = HTMLToText(html)
	}
	return b
}

// Plain returns the text a content filter reads: the plain-text part, or
// the HTML's text when there is none.
func (b Body) Plain() string {
	if b.Text == "" {
		return b.HTMLText
	}
	return b.Text
}

// Message returns the extractor's input for the body: what Extract reads
// of Message{Text: text, HTML: html}, without converting the HTML again.
func (b Body) Message(source, sender, subject string) Message {
	text := b.Text
	if strings.TrimSpace(b.HTMLText) != "" {
		if strings.TrimSpace(text) != "" {
			text += "\n\n" + b.HTMLText
		} else {
			text = b.HTMLText
		}
	}
	return Message{Source: source, Sender: sender, Subject: subject, Text: text}
}
