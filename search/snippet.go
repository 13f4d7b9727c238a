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
	toks := Analyze(body)
	if len(toks) == 0 {
		return ""
	}
	terms, prefixes := matchers(q)
	matched := make([]bool, len(toks))
	runeStart := make([]int, len(toks)) // rune offset of each token in body
	var matches []int                   // indexes of matched tokens
	r, last := 0, 0
	for i, t := range toks {
		r += utf8.RuneCountInString(body[last:t.Start])
		last = t.Start
		runeStart[i] = r
		if terms[t.Term] || hasAnyPrefix(t.Word, prefixes) {
			matched[i] = true
			matches = append(matches, i)
		}
	}

	// Choose the window: it starts at a match and spans maxLen runes.
	first, lastTok := 0, 0
	if len(matches) > 0 {
		bestDistinct, bestCount := -1, -1
		for mi, i := range matches {
			seen := map[string]bool{}
			count := 0
			for _, j := range matches[mi:] {
				if runeStart[j]-runeStart[i] >= maxLen {
					break
				}
				seen[toks[j].Term] = true
				count++
			}
			if len(seen) > bestDistinct || (len(seen) == bestDistinct && count > bestCount) {
				bestDistinct, bestCount, first = len(seen), count, i
			}
		}
		// Spend what the matches leave of maxLen on context before them.
		lastMatch := first
		for _, j := range matches {
			if j >= first && runeStart[j]-runeStart[first] < maxLen {
				lastMatch = j
			}
		}
		span := runeStart[lastMatch] - runeStart[first] + utf8.RuneCountInString(toks[lastMatch].Word)
		lead := (maxLen - span) / 3
		for first > 0 && runeStart[first]-runeStart[first-1] <= lead {
			lead -= runeStart[first] - runeStart[first-1]
			first--
		}
	}
	lastTok = first
	for lastTok+1 < len(toks) && runeStart[lastTok+1]+utf8.RuneCountInString(body[toks[lastTok+1].Start:toks[lastTok+1].End])-runeStart[first] <= maxLen {
		lastTok++
	}

	var b strings.Builder
	if first > 0 || hasWordBefore(body[:toks[first].Start]) {
		b.WriteString("…")
	}
	pos := toks[first].Start
	for i := first; i <= lastTok; i++ {
		t := toks[i]
		writeCollapsed(&b, body[pos:t.Start])
		if matched[i] {
			b.WriteString("**")
			b.WriteString(body[t.Start:t.End])
			b.WriteString("**")
		} else {
			b.WriteString(body[t.Start:t.End])
		}
		pos = t.End
	}
	// Keep punctuation that closes the last word ("sanctions." or "it's").
	end := pos
	for end < len(body) {
		r, size := utf8.DecodeRuneInString(body[end:])
		if unicode.IsSpace(r) || isWordRune(r) {
			break
		}
		end += size
	}
	writeCollapsed(&b, body[pos:end])
	if lastTok < len(toks)-1 || hasWordBefore(body[end:]) {
		b.WriteString("…")
	}
	return b.String()
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

// hasWordBefore reports whether s holds a letter or digit (a cut-off stop
// word counts as text that was left out).
func hasWordBefore(s string) bool { return strings.ContainsFunc(s, isWordRune) }

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
