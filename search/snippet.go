package search

import (
	"strings"
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
	// Every word counts for the passage's bounds, stop words included;
	// only indexed words can match.
	words := make([]word, 0, len(body)/6+1) // about one word per 6 bytes of English
	scan(body, false, func(w word) { words = append(words, w) })
	if len(words) == 0 {
		return ""
	}
	terms, prefixes := matchers(q)
	matched := make([]bool, len(words))
	runeStart := make([]int, len(words)) // rune offsets of each word in body
	runeEnd := make([]int, len(words))
	var matches []int // indexes of matched words
	r, last := 0, 0
	for i, w := range words {
		r += utf8.RuneCountInString(body[last:w.start])
		runeStart[i] = r
		r += utf8.RuneCountInString(body[w.start:w.end])
		runeEnd[i] = r
		last = w.end
		if !w.stop && (hasAnyPrefix(w.folded, prefixes) || mayStemTo(w.folded, terms) && terms[stem(w.folded)]) {
			words[i].term = stem(w.folded)
			matched[i] = true
			matches = append(matches, i)
		}
	}
	fits := func(from, to int) bool { return runeEnd[to]-runeStart[from] <= maxLen }

	first := 0
	if len(matches) > 0 {
		// The window starting at a match with the most distinct matched
		// terms, then the most matches.
		bestDistinct, bestCount, lastMatch := -1, -1, 0
		for mi, i := range matches {
			seen := map[string]bool{}
			count, end := 0, i
			for _, j := range matches[mi:] {
				if j != i && !fits(i, j) {
					break
				}
				seen[words[j].term] = true
				count++
				end = j
			}
			if len(seen) > bestDistinct || (len(seen) == bestDistinct && count > bestCount) {
				bestDistinct, bestCount, first, lastMatch = len(seen), count, i, end
			}
		}
		// Spend half of what the matches leave on context before them.
		lead := (maxLen - (runeEnd[lastMatch] - runeStart[first])) / 2
		for first > 0 && runeStart[first]-runeStart[first-1] <= lead {
			lead -= runeStart[first] - runeStart[first-1]
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
		if matched[i] {
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

// mayStemTo reports whether the folded word w may stem to one of terms: a
// Snowball English stem keeps all but at most the last two letters of its
// stem as a prefix of the word ("studies" -> "studi", "happy" -> "happi"),
// so a word that shares less with every term need not be stemmed.
func mayStemTo(w string, terms map[string]bool) bool {
	for t := range terms {
		n := max(len(t)-2, 1)
		if len(w) >= n && len(t) >= n && w[:n] == t[:n] {
			return true
		}
	}
	return false
}

// matchers returns the terms and prefixes that the included clauses of q
// match.
func matchers(q *Query) (map[string]bool, []string) {
	terms := map[string]bool{}
	var prefixes []string
	if q == nil {
		return terms, nil
	}
	for _, c := range q.Clauses {
		switch {
		case c.Negated:
		case c.Prefix:
			prefixes = append(prefixes, c.Terms...)
		default:
			for _, t := range c.Terms {
				terms[t] = true
			}
		}
	}
	return terms, prefixes
}

func hasAnyPrefix(w string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(w, p) {
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
