package telegram

import "testing"

func FuzzParseEnrollCallback(f *testing.F) {
	for _, s := range []string{"ea:AAAAAAAAAAAAAAAAAAAAAA", "ed:0123456789abcdefghijkl", "e", "ea:", "a:AAAAAAAAAAAAAAAAAAAAAA", "eea:AAAAAAAAAAAAAAAAAAAAAA", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		approve, token, ok := parseEnrollCallback(data)
		if !ok {
			return
		}
		verb := "ed:"
		if approve {
			verb = "ea:"
		}
		if data != verb+token || len(token) != tokenLen || !isEnrollCallback(data) {
			t.Fatalf("parseEnrollCallback(%q) = %v, %q", data, approve, token)
		}
		// A request prompt's parser never takes an enrollment's button.
		if _, _, ok := parseCallbackData(data); ok {
			t.Fatalf("%q parses as a request button too", data)
		}
	})
}
