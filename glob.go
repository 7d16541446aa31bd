package agentotp

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxGlobLen bounds a sender pattern, in bytes.
const MaxGlobLen = 255

// Glob is a compiled, case-insensitive sender pattern: `*` matches any run
// of characters (including none), `?` exactly one character, and every
// other character itself.
//
// Matching simulates the pattern's automaton with a bit set of states, so
// it takes O(len(s) · len(pattern)/64) steps: linear in the input, with no
// backtracking on patterns such as `*a*a*a*a*b`.
type Glob struct {
	pattern string
	n       int               // number of non-star tokens, i.e. states 0..n
	any     []uint64          // states i whose next token is '?'
	lit     map[rune][]uint64 // states i whose next token is the literal rune
	star    []uint64          // states i that sit after a '*' (self loop on any char)
	words   int
}

// CompileGlob compiles a sender pattern. Consecutive stars collapse into one.
func CompileGlob(pattern string) (*Glob, error) {
	if len(pattern) > MaxGlobLen {
		return nil, fmt.Errorf("pattern is %d bytes; at most %d allowed", len(pattern), MaxGlobLen)
	}
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("pattern is not valid UTF-8")
	}
	if HasControl(pattern) {
		return nil, fmt.Errorf("pattern holds a control or format character")
	}
	g := &Glob{pattern: pattern, lit: map[rune][]uint64{}}
	// States: state i means "the first i non-star tokens are matched".
	// A star before token i+1 makes state i loop on any character.
	tokens := 0
	for _, r := range pattern {
		if r != '*' {
			tokens++
		}
	}
	g.n = tokens
	g.words = tokens/64 + 1
	g.any = make([]uint64, g.words)
	g.star = make([]uint64, g.words)
	state := 0
	for _, r := range strings.ToLower(pattern) {
		switch r {
		case '*':
			setBit(g.star, state)
		case '?':
			setBit(g.any, state)
			state++
		default:
			m, ok := g.lit[r]
			if !ok {
				m = make([]uint64, g.words)
				g.lit[r] = m
			}
			setBit(m, state)
			state++
		}
	}
	return g, nil
}

func setBit(b []uint64, i int)      { b[i/64] |= 1 << (i % 64) }
func hasBit(b []uint64, i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

// String returns the pattern as written.
func (g *Glob) String() string { return g.pattern }

// Match reports whether s matches the whole pattern, ignoring case.
func (g *Glob) Match(s string) bool {
	cur := make([]uint64, g.words)
	next := make([]uint64, g.words)
	setBit(cur, 0)
	for _, r := range s {
		r = unicode.ToLower(r)
		lit := g.lit[r]
		var carry uint64
		for w := 0; w < g.words; w++ {
			adv := cur[w] & g.any[w]
			if lit != nil {
				adv |= cur[w] & lit[w]
			}
			// Advancing moves state i to i+1: a left shift across words.
			next[w] = adv<<1 | carry | cur[w]&g.star[w]
			carry = adv >> 63
		}
		cur, next = next, cur
		if isZero(cur) {
			return false
		}
	}
	return hasBit(cur, g.n)
}

func isZero(b []uint64) bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}

// SenderAddress returns the part of a sender that patterns match against:
// the address of `Name <addr>` (the display name is ignored, so it cannot
// spoof a match), or the trimmed sender itself (an SMS number or id).
func SenderAddress(sender string) string {
	s := strings.TrimSpace(sender)
	if s == "" {
		return ""
	}
	if strings.ContainsAny(s, "<@") {
		if a, err := mail.ParseAddress(s); err == nil {
			return strings.ToLower(a.Address)
		}
		if i := strings.LastIndexByte(s, '<'); i >= 0 {
			if j := strings.IndexByte(s[i:], '>'); j > 0 {
				return strings.ToLower(strings.TrimSpace(s[i+1 : i+j]))
			}
		}
	}
	return strings.ToLower(s)
}
