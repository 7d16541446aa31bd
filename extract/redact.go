package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxRedactSubject bounds the subject RedactSubject examines; a longer one
// is not kept at all (ParseEmail keeps at most 16 KiB of it).
const maxRedactSubject = 16 << 10

// RedactSubject masks the code in a subject line before the subject is
// kept or sent as metadata (by the relay, and by edge capture before a
// delivery): a subject such as "123456 is your code" must not put the code
// at rest, nor "Code: ABC-DEF" when the body says "ABCDEF".
//
// The subject is read as its letters and digits only, folded as the
// extractor folds text (case, width, diacritics, digits of any script),
// with everything else (spaces of any kind, punctuation, format and
// zero-width characters) as separators. Every run of words whose letters
// and digits, read in order, hold the code's letters and digits is masked
// whole, separators between them included, with one "•" per character,
// until the code can no longer be read that way. If the code's letters and
// digits can still be put together from words of the subject in order with
// other words between them ("ABC and then DEF", "verifyABC then DEFnow"),
// or the code has no letter or digit or more than MaxOriginCodeLen of
// them, or the subject is over 16 KiB, where the code is cannot be decided
// and the result is "": no subject is kept.
func RedactSubject(subject string, res Result) string {
	if subject == "" || res.Code == "" {
		return subject
	}
	key := foldAlnum(nil, res.Code)
	if len(key) == 0 || len(key) > MaxOriginCodeLen || len(subject) > maxRedactSubject {
		return ""
	}
	for {
		s := scanAlnum(subject)
		// The spans of the words each occurrence touches, from the start
		// of its first word to the end of its last, left to right.
		var spans [][2]int
		for i := 0; i+len(key) <= len(s.chars); {
			k := indexRunes(s.chars[i:], key)
			if k < 0 {
				break
			}
			k += i
			first, last := s.word[k], s.word[k+len(key)-1]
			span := [2]int{s.words[first].start, s.words[last].end}
			if n := len(spans); n > 0 && span[0] <= spans[n-1][1] {
				spans[n-1][1] = max(spans[n-1][1], span[1])
			} else {
				spans = append(spans, span)
			}
			i = s.words[last].cto // the next occurrence starts after these words
		}
		if len(spans) == 0 {
			if s.spread(key) {
				return ""
			}
			return subject
		}
		var b strings.Builder
		b.Grow(len(subject) + 2*len(key))
		prev := 0
		for _, sp := range spans {
			b.WriteString(subject[prev:sp[0]])
			b.WriteString(strings.Repeat("•", utf8.RuneCountInString(subject[sp[0]:sp[1]])))
			prev = sp[1]
		}
		b.WriteString(subject[prev:])
		// Masking joins the text around it; look again.
		subject = b.String()
	}
}

// alnumWord is a run of letters and digits of the subject (format
// characters and combining marks inside it do not end it): its byte span
// and the span of its folded characters in alnumText.chars.
type alnumWord struct {
	start, end int
	cfrom, cto int
}

// alnumText is a subject read as its folded letters and digits.
type alnumText struct {
	chars []rune
	word  []int // for each of chars, the index of its word
	words []alnumWord
}

// redactIgnorable reports whether r is read as nothing: a format character
// (zero-width space, joiners, soft hyphen, BOM, bidi marks), a variation
// selector or a combining mark. It neither counts nor separates.
func redactIgnorable(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) ||
		unicode.Is(unicode.Variation_Selector, r) || r == 0x034F
}

// isAlnumRune reports whether r is a letter or a digit for redaction.
func isAlnumRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9' || (r|0x20) >= 'a' && (r|0x20) <= 'z'
	}
	if _, ok := asciiAlnum(r); ok {
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r)
}

// foldAlnum appends the folded letters and digits of s to dst.
func foldAlnum(dst []rune, s string) []rune {
	var buf []byte
	for _, r := range s {
		if !isAlnumRune(r) {
			continue
		}
		dst = appendFoldRunes(dst, r, &buf)
	}
	return dst
}

// appendFoldRunes appends the runes r folds to (see appendFold): ASCII for
// compatibility forms and digits, no diacritics, lower case.
func appendFoldRunes(dst []rune, r rune, buf *[]byte) []rune {
	if b, ok := asciiAlnum(r); ok {
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		return append(dst, rune(b))
	}
	*buf = appendFold((*buf)[:0], r)
	for _, f := range string(*buf) {
		if isAlnumRune(f) {
			dst = append(dst, f)
		}
	}
	return dst
}

// scanAlnum reads s as its words of letters and digits.
func scanAlnum(s string) alnumText {
	var t alnumText
	var buf []byte
	in := false
	for i, r := range s {
		switch {
		case isAlnumRune(r):
			if !in {
				t.words = append(t.words, alnumWord{start: i, cfrom: len(t.chars)})
				in = true
			}
			w := &t.words[len(t.words)-1]
			t.chars = appendFoldRunes(t.chars, r, &buf)
			for len(t.word) < len(t.chars) {
				t.word = append(t.word, len(t.words)-1)
			}
			w.end = i + utf8.RuneLen(r)
			w.cto = len(t.chars)
		case redactIgnorable(r) && in:
			// inside a word: read as nothing
		default:
			in = false
		}
	}
	return t
}

// indexRunes returns the index of the first occurrence of key in s, or -1.
func indexRunes(s, key []rune) int {
	for i := 0; i+len(key) <= len(s); i++ {
		j := 0
		for j < len(key) && s[i+j] == key[j] {
			j++
		}
		if j == len(key) {
			return i
		}
	}
	return -1
}

// spread reports whether key can be put together from words of the text,
// in order, with other words between them: the code written in pieces
// among other text ("ABC and then DEF"). The pieces are whole words, but
// the first may be the end of a word and the last the start of one
// ("verifyABC then DEFnow") when at least two characters long.
func (t *alnumText) spread(key []rune) bool {
	// reach[p]: key[:p] is made of the words seen so far
	reach := make([]bool, len(key)+1)
	next := make([]bool, len(key)+1)
	reach[0] = true
	for _, w := range t.words {
		piece := t.chars[w.cfrom:w.cto]
		copy(next, reach)
		for p := 0; p < len(key); p++ {
			if !reach[p] {
				continue
			}
			rest := key[p:]
			switch {
			case len(piece) <= len(rest) && equalRunes(rest[:len(piece)], piece):
				next[p+len(piece)] = true
			case p > 0 && len(rest) >= 2 && len(rest) < len(piece) && equalRunes(piece[:len(rest)], rest):
				return true // the word starts with the rest of the code
			}
		}
		for m := 2; m < len(piece) && m < len(key); m++ {
			if equalRunes(piece[len(piece)-m:], key[:m]) {
				next[m] = true // the word ends with the start of the code
			}
		}
		reach, next = next, reach
		if reach[len(key)] {
			return true
		}
	}
	return false
}

func equalRunes(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
