package search

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on queries, so that one request cannot make the index do unbounded
// work.
const (
	// MaxQueryLen is the longest query Parse accepts, in bytes.
	MaxQueryLen = 1000
	// MaxQueryWords is the most words (stop words and excluded words
	// included) a query may have.
	MaxQueryWords = 32
	// MinPrefixLen is the fewest characters a prefix (word*) may have.
	MinPrefixLen = 2
)

// Query is a parsed search query: a document matches when it matches every
// Clause that is not Negated and none that is.
//
// Parse returns Clauses in a canonical order (included clauses first, then
// excluded ones, each sorted by their text) without duplicates, so two
// queries that differ only in word order, spacing, case, diacritics or
// repetition have the same Clauses and the same String.
type Query struct {
	Clauses []Clause
}

// Clause is one condition of a Query: a word, a phrase or a prefix.
type Clause struct {
	// Terms are the index terms to match. A word clause has one stemmed
	// term; a phrase has two or more, in order; a Prefix clause has one
	// folded but unstemmed prefix, to be compared with Token.Word.
	Terms []string
	// Pos are the positions of Terms relative to the first (Pos[0] is 0).
	// Stop words inside a phrase leave gaps: "war of the worlds" has Terms
	// [war world] at Pos [0 3].
	Pos []int
	// Negated is set for an excluded clause (-word, -"phrase", -prefix*).
	Negated bool
	// Prefix is set for a prefix clause (word*).
	Prefix bool
	// Text is the clause as it appears in the canonical form, without
	// quotes, '-' or '*': its folded words, stop words inside a phrase
	// included, separated by single spaces.
	Text string
}

// IsPhrase reports whether c matches several words in sequence.
func (c Clause) IsPhrase() bool { return len(c.Terms) > 1 }

// String returns c in the query language: word, "a phrase" or prefix*,
// preceded by '-' if negated.
func (c Clause) String() string {
	var b strings.Builder
	if c.Negated {
		b.WriteByte('-')
	}
	switch {
	case c.IsPhrase():
		b.WriteByte('"')
		b.WriteString(c.Text)
		b.WriteByte('"')
	case c.Prefix:
		b.WriteString(c.Text)
		b.WriteByte('*')
	default:
		b.WriteString(c.Text)
	}
	return b.String()
}

// String returns q's canonical form: its clauses in the query language,
// separated by single spaces. Parsing it again gives an equal Query
// (provided it is not longer than MaxQueryLen, which folding can exceed in
// rare cases, e.g. "ß" becoming "ss").
func (q *Query) String() string {
	parts := make([]string, len(q.Clauses))
	for i, c := range q.Clauses {
		parts[i] = c.String()
	}
	return strings.Join(parts, " ")
}

// SyntaxError is returned by Parse for a query it cannot accept. Its
// message is meant for the person who typed the query.
type SyntaxError struct {
	// Offset is the byte offset in the query where the problem is, or -1
	// when it concerns the query as a whole.
	Offset int
	// Msg says what is wrong.
	Msg string
}

func (e *SyntaxError) Error() string {
	if e.Offset < 0 {
		return "invalid search query: " + e.Msg
	}
	return fmt.Sprintf("invalid search query at offset %d: %s", e.Offset, e.Msg)
}

func syntaxErr(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func isQuote(r rune) bool {
	switch r {
	case '"', '\u201C', '\u201D', '\u201E', '\u201F', '\uFF02', '\u00AB', '\u00BB':
		return true
	}
	return false
}

// Parse parses a query in the query language described in the package
// documentation. Words that analyse to nothing (stop words, punctuation)
// are dropped. A bare word that analyses to several words, such as
// "al-Assad", is a phrase.
//
// It returns a *SyntaxError if q is longer than MaxQueryLen bytes or has
// more than MaxQueryWords words, has an unclosed quote, a '-' or '*' with
// no word, a prefix shorter than MinPrefixLen or of several words, nothing
// to search for, or only excluded clauses.
func Parse(q string) (*Query, error) {
	if len(q) > MaxQueryLen {
		return nil, syntaxErr(-1, "query is %d bytes long; at most %d are allowed", len(q), MaxQueryLen)
	}
	if !utf8.ValidString(q) {
		return nil, syntaxErr(-1, "query is not valid UTF-8")
	}
	var (
		clauses []Clause
		nwords  int
	)
	for i := 0; i < len(q); {
		r, size := utf8.DecodeRuneInString(q[i:])
		if unicode.IsSpace(r) {
			i += size
			continue
		}
		start := i
		negated := false
		if r == '-' {
			negated = true
			i += size
			if i == len(q) {
				return nil, syntaxErr(start, "'-' must be followed by a word or a quoted phrase")
			}
			r, size = utf8.DecodeRuneInString(q[i:])
			if unicode.IsSpace(r) {
				return nil, syntaxErr(start, "'-' must be followed by a word or a quoted phrase")
			}
		}
		var (
			text   string
			prefix bool
		)
		if isQuote(r) {
			open := i
			i += size
			end := strings.IndexFunc(q[i:], isQuote)
			if end < 0 {
				return nil, syntaxErr(open, "quote is never closed")
			}
			text = strings.ReplaceAll(q[i:i+end], "*", " ")
			_, csize := utf8.DecodeRuneInString(q[i+end:])
			i += end + csize
		} else {
			end := strings.IndexFunc(q[i:], func(r rune) bool { return unicode.IsSpace(r) || isQuote(r) })
			if end < 0 {
				end = len(q) - i
			}
			text = q[i : i+end]
			i += end
			if t := strings.TrimRight(text, "*"); t != text {
				text, prefix = t, true
			}
		}
		var words []word
		scan(text, true, func(w word) { words = append(words, w) })
		nwords += len(words)
		if nwords > MaxQueryWords {
			return nil, syntaxErr(start, "query has more than %d words", MaxQueryWords)
		}
		if prefix {
			switch {
			case len(words) == 0:
				return nil, syntaxErr(start, "'*' must follow a word")
			case len(words) > 1:
				return nil, syntaxErr(start, "a prefix must be a single word, not %q", text)
			case utf8.RuneCountInString(words[0].folded) < MinPrefixLen:
				return nil, syntaxErr(start, "prefix %q is too short: at least %d letters are needed", text, MinPrefixLen)
			}
			w := words[0].folded
			clauses = append(clauses, Clause{Terms: []string{w}, Pos: []int{0}, Negated: negated, Prefix: true, Text: w})
			continue
		}
		if c, ok := phraseClause(words); ok {
			c.Negated = negated
			clauses = append(clauses, c)
		}
	}
	clauses = canonical(clauses)
	if len(clauses) == 0 {
		return nil, syntaxErr(-1, "query has no words to search for (very common words such as \"the\" are not indexed)")
	}
	if clauses[0].Negated {
		return nil, syntaxErr(-1, "query needs at least one word or phrase that is not excluded with '-'")
	}
	return &Query{Clauses: clauses}, nil
}

// phraseClause makes a word or phrase clause of words, trimmed of leading
// and trailing stop words. It reports false if only stop words remain.
func phraseClause(words []word) (Clause, bool) {
	first := slices.IndexFunc(words, func(w word) bool { return !w.stop })
	if first < 0 {
		return Clause{}, false
	}
	last := len(words) - 1
	for words[last].stop {
		last--
	}
	words = words[first : last+1]
	var c Clause
	texts := make([]string, len(words))
	for i, w := range words {
		texts[i] = w.folded
		if !w.stop {
			c.Terms = append(c.Terms, w.term)
			c.Pos = append(c.Pos, w.pos-words[0].pos)
		}
	}
	c.Text = strings.Join(texts, " ")
	return c, true
}

// canonical sorts clauses (included first, then by text) and removes those
// that match exactly like an earlier one.
func canonical(clauses []Clause) []Clause {
	slices.SortStableFunc(clauses, func(a, b Clause) int {
		if a.Negated != b.Negated {
			if a.Negated {
				return 1
			}
			return -1
		}
		return strings.Compare(a.String(), b.String())
	})
	out := clauses[:0]
	for _, c := range clauses {
		if !slices.ContainsFunc(out, func(o Clause) bool { return sameMatch(o, c) }) {
			out = append(out, c)
		}
	}
	return out
}

// sameMatch reports whether a and b match exactly the same documents.
func sameMatch(a, b Clause) bool {
	return a.Negated == b.Negated && a.Prefix == b.Prefix &&
		slices.Equal(a.Terms, b.Terms) && slices.Equal(a.Pos, b.Pos)
}
