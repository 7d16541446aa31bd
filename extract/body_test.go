package extract

import (
	"reflect"
	"testing"
)

// TestBodyMessageReadsAsExtract: a Body's Message, its HTML converted once,
// gives the extractor what a Message with the raw HTML gives it.
func TestBodyMessageReadsAsExtract(t *testing.T) {
	tests := []struct{ name, subject, text, html string }{
		{"text only", "Your code", "Your code is 482913.", ""},
		{"html only", "", "", "<p>Your verification code is <b>771204</b></p>"},
		{"both", "Sign in", "Use 555123 to sign in", "<div>Use <b>555123</b> to sign in</div>"},
		{"blank text, html", "Code", "  \n", "<p>Code: 390211</p>"},
		{"text, blank html", "", "Code 662014", "<p> </p>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := Extract(Message{Source: "email", Sender: "a@b.c", Subject: tt.subject, Text: tt.text, HTML: tt.html})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Extract(NewBody(tt.text, tt.html).Message("email", "a@b.c", tt.subject))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}
