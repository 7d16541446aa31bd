package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// RedactSubject masks the code in a subject line before the subject is
// kept or sent as metadata (by the relay, and by edge capture before a
// delivery): a subject such as "123456 is your code" must not put the code
// at rest. Every form the extractor saw is masked; if the code can still
// be read with separators removed, every token holding a digit is masked.
func RedactSubject(subject string, res Result) string {
	if subject == "" || res.Code == "" {
		return subject
	}
	forms := []string{res.Code}
	for _, c := range res.Candidates {
		if c.Code == res.Code && c.Raw != "" {
			forms = append(forms, c.Raw)
		}
	}
	for _, f := range forms {
		subject = strings.ReplaceAll(subject, f, strings.Repeat("•", utf8.RuneCountInString(f)))
	}
	if strings.Contains(strings.ToLower(alnum(subject)), strings.ToLower(res.Code)) {
		words := strings.Fields(subject)
		for i, w := range words {
			if strings.IndexFunc(w, unicode.IsDigit) >= 0 || strings.Contains(strings.ToLower(w), strings.ToLower(res.Code)) {
				words[i] = strings.Repeat("•", utf8.RuneCountInString(w))
			}
		}
		subject = strings.Join(words, " ")
	}
	return subject
}

func alnum(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}
