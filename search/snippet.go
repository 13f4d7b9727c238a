package search

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// DefaultSnippetLen is the snippet length Snippet uses when asked for none.
const DefaultSnippetLen = 200

// Snippet returns a passage of body of about maxLen characters (runes of
// body text; markers and ellipses come on top) around its best match for
// q: the window holding the most distinct matched terms, then the most
// matches. Words that match a clause of q that is not negated are wrapped
// in "**"; the passage starts and ends on whole words, runs of white space
// become one space, and "…" marks each end where body text was cut.
//
// Words of a phrase are marked wherever they occur, not only where the
// whole phrase does. With no match (or a nil q) the passage is the start
// of the body. "**" already in the body is not escaped. maxLen <= 0 means
// DefaultSnippetLen.
func Snippet(body string, q *Query, maxLen int) string {
	if maxLen <= 0 {
		maxLen = DefaultSnippetLen
	}
	m := newMatcher(q)
	// Every word counts for the passage's bounds, stop words included;
	// only indexed words can match. The words are kept as offsets only,
	// in a pooled slice: a body has hundreds of them, and this runs for
	// every search result.
	wp := spanPool.Get().(*[]span)
	words := (*wp)[:0]
	defer func() {
		*wp = words[:0]
		spanPool.Put(wp)
	}()
	var matches []int // indexes of matched words
	r, last := 0, 0
	scan(body, false, func(w word) {
		r += utf8.RuneCountInString(body[last:w.start])
		sp := span{start: w.start, end: w.end, runeStart: r, match: -1}
		r += utf8.RuneCountInString(body[w.start:w.end])
		sp.runeEnd, last = r, w.end
		if !w.stop {
			sp.match = m.match(w.folded)
		}
		if sp.match >= 0 {
			matches = append(matches, len(words))
		}
		words = append(words, sp)
	})
	if len(words) == 0 {
		return ""
	}
	fits := func(from, to int) bool { return words[to].runeEnd-words[from].runeStart <= maxLen }

	first := 0
	if len(matches) > 0 {
		// The window starting at a match with the most distinct matched
		// terms, then the most matches.
		bestDistinct, bestCount, lastMatch := -1, -1, 0
		seen := make([]bool, m.size())
		for mi, i := range matches {
			clear(seen)
			distinct, count, end := 0, 0, i
			for _, j := range matches[mi:] {
				if j != i && !fits(i, j) {
					break
				}
				if !seen[words[j].match] {
					seen[words[j].match] = true
					distinct++
				}
				count++
				end = j
			}
			if distinct > bestDistinct || (distinct == bestDistinct && count > bestCount) {
				bestDistinct, bestCount, first, lastMatch = distinct, count, i, end
			}
		}
		// Spend half of what the matches leave on context before them.
		lead := (maxLen - (words[lastMatch].runeEnd - words[first].runeStart)) / 2
		for first > 0 && words[first].runeStart-words[first-1].runeStart <= lead {
			lead -= words[first].runeStart - words[first-1].runeStart
			first--
		}
	}
	lastWord := first
	for lastWord+1 < len(words) && fits(first, lastWord+1) {
		lastWord++
	}
	// Near the end of the body, use the room left on earlier words.
	for first > 0 && fits(first-1, lastWord) {
		first--
	}

	var b strings.Builder
	if first > 0 {
		b.WriteString("…")
	}
	pos := words[first].start
	for i := first; i <= lastWord; i++ {
		w := words[i]
		writeCollapsed(&b, body[pos:w.start])
		if w.match >= 0 {
			b.WriteString("**")
			b.WriteString(body[w.start:w.end])
			b.WriteString("**")
		} else {
			b.WriteString(body[w.start:w.end])
		}
		pos = w.end
	}
	// Keep punctuation that closes the last word ("sanctions.").
	end := pos
	for end < len(body) {
		r, size := utf8.DecodeRuneInString(body[end:])
		if unicode.IsSpace(r) || isWordRune(r) {
			break
		}
		end += size
	}
	writeCollapsed(&b, body[pos:end])
	if lastWord < len(words)-1 {
		b.WriteString("…")
	}
	return b.String()
}

// span is a word of a body Snippet looks at.
type span struct {
	start, end         int // byte offsets
	runeStart, runeEnd int // rune offsets
	match              int // index of the matched term or prefix, or -1
}

// spanPool holds the word slices of Snippet calls.
var spanPool = sync.Pool{New: func() any { return new([]span) }}

// matcher finds the words of a text that the included clauses of a query
// match.
type matcher struct {
	terms    []string // terms of word and phrase clauses
	prefixes []string // of prefix clauses
}

func newMatcher(q *Query) *matcher {
	m := &matcher{}
	if q == nil {
		return m
	}
	for _, c := range q.Clauses {
		switch {
		case c.Negated:
		case c.Prefix:
			m.prefixes = append(m.prefixes, c.Terms...)
		default:
			for _, t := range c.Terms {
				if !slices.Contains(m.terms, t) {
					m.terms = append(m.terms, t)
				}
			}
		}
	}
	return m
}

// size is the number of distinct match indexes.
func (m *matcher) size() int { return len(m.terms) + len(m.prefixes) }

// match returns the index of the term or prefix that the folded word w
// matches, or -1. Prefixes come after the terms.
func (m *matcher) match(w string) int {
	for i, p := range m.prefixes {
		if strings.HasPrefix(w, p) {
			return len(m.terms) + i
		}
	}
	if !mayStemTo(w, m.terms) {
		return -1
	}
	return slices.Index(m.terms, stem(w))
}

// mayStemTo reports whether the folded word w may stem to one of terms: a
// Snowball English stem keeps all but at most the last two letters of its
// stem as a prefix of the word ("studies" -> "studi", "happy" -> "happi"),
// so a word that shares less with every term need not be stemmed.
func mayStemTo(w string, terms []string) bool {
	for _, t := range terms {
		n := max(len(t)-2, 1)
		if len(w) >= n && len(t) >= n && w[:n] == t[:n] {
			return true
		}
	}
	return false
}

// writeCollapsed writes s with every run of white space replaced by one
// space.
func writeCollapsed(b *strings.Builder, s string) {
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
}
