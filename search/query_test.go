package search_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seed9c1868aa/articles/search"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string
		want        string // the canonical form
	}{
		{"Word", "Sanctions", "sanctions"},
		{"Words", "  sanctions   Belgrade ", "belgrade sanctions"},
		{"Order", "belgrade sanctions", "belgrade sanctions"},
		{"Duplicates", "war War WAR", "war"},
		{"SameStemKeepsSmallest", "sanctions sanction", "sanction"},
		{"Diacritics", "Milošević", "milosevic"},
		{"Apostrophes", "ICC’s ICC's", "icc"},
		{"Phrase", `"Climate Change"`, `"climate change"`},
		{"TypographicQuotes", `“climate change”`, `"climate change"`},
		{"PhraseWithStopWords", `"war of the worlds"`, `"war of the worlds"`},
		{"PhraseTrimsStopWords", `"the war"`, "war"},
		{"HyphenatedWordIsPhrase", "al-Assad", `"al assad"`},
		{"Negated", "war -peace", "war -peace"},
		{"NegatedPhrase", `war -"peace talks"`, `war -"peace talks"`},
		{"Prefix", "Sanct*", "sanct*"},
		{"NegatedPrefix", "war -peac*", "war -peac*"},
		{"PrefixIsNotStemmed", "running*", "running*"},
		{"StarInPhraseIgnored", `"climate* change"`, `"climate change"`},
		{"StopWordsDropped", "the war", "war"},
		{"NegatedStopWordDropped", "war -the", "war"},
		{"PunctuationDropped", "war — peace", "peace war"},
		{"Contradiction", "war -war", "war -war"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := search.Parse(tt.query)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.query, err)
			}
			if got := q.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestParseClauses(t *testing.T) {
	t.Parallel()
	q, err := search.Parse(`-"war of the worlds" sanctions Milo*`)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Clauses) != 3 {
		t.Fatalf("got %d clauses, want 3: %s", len(q.Clauses), q)
	}
	prefix, word, phrase := q.Clauses[0], q.Clauses[1], q.Clauses[2]
	if !prefix.Prefix || prefix.Negated || prefix.Terms[0] != "milo" {
		t.Errorf("prefix clause = %+v", prefix)
	}
	if word.Prefix || word.Negated || word.IsPhrase() || word.Terms[0] != "sanction" {
		t.Errorf("word clause = %+v", word)
	}
	if !phrase.Negated || !phrase.IsPhrase() || strings.Join(phrase.Terms, " ") != "war world" || phrase.Pos[1] != 3 {
		t.Errorf("phrase clause = %+v", phrase)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query, wantMsg string
	}{
		{"Empty", "", "no words"},
		{"Blank", "  \t ", "no words"},
		{"OnlyStopWords", "the of and", "no words"},
		{"OnlyPunctuation", "— !!", "no words"},
		{"OnlyNegative", "-war -peace", "not excluded"},
		{"UnclosedQuote", `war "peace talks`, "never closed"},
		{"DashAlone", "war -", "'-'"},
		{"DashSpace", "war - peace", "'-'"},
		{"StarAlone", "war *", "'*'"},
		{"ShortPrefix", "w*", "too short"},
		{"PhrasePrefix", "al-Ass*", "single word"},
		{"TooLong", strings.Repeat("a", search.MaxQueryLen+1), "bytes"},
		{"TooManyWords", strings.Repeat("war ", search.MaxQueryWords+1), "more than"},
		{"InvalidUTF8", "war \xff", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := search.Parse(tt.query)
			var se *search.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, %v; want a *SyntaxError", tt.query, q, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Parse(%q) error %q does not mention %q", tt.query, err, tt.wantMsg)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "war", `"war of the worlds" -peace sanct*`, `-"a`, "ICC’s", "a-b*", "-", "*", "“x”", strings.Repeat("a ", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := search.Parse(s)
		q2, err2 := search.Parse(s)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Parse(%q) is not deterministic: %v then %v", s, err, err2)
		}
		if err != nil {
			var se *search.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError", s, err)
			}
			return
		}
		canon := q.String()
		if canon != q2.String() {
			t.Fatalf("Parse(%q).String() is not deterministic: %q then %q", s, canon, q2.String())
		}
		if len(q.Clauses) == 0 || q.Clauses[0].Negated {
			t.Fatalf("Parse(%q) = %q: no included clause", s, canon)
		}
		for _, c := range q.Clauses {
			if len(c.Terms) == 0 || len(c.Terms) != len(c.Pos) || c.Pos[0] != 0 {
				t.Fatalf("Parse(%q): malformed clause %+v", s, c)
			}
		}
		if len(canon) > search.MaxQueryLen {
			return
		}
		again, err := search.Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("Parse(%q) = %q, which parses to %q", s, canon, again.String())
		}
	})
}
