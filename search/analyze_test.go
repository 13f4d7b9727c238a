package search_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/seed9c1868aa/articles/search"
)

// terms returns the Term of each token of text.
func terms(t *testing.T, text string) []string {
	t.Helper()
	var out []string
	for _, tok := range search.Analyze(text) {
		out = append(out, tok.Term)
	}
	return out
}

func TestAnalyzeTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       []string
	}{
		{"Case", "NATO Nato nato", []string{"nato", "nato", "nato"}},
		{"Diacritics", "Milošević Đinđić Øresund Łódź café naïve", []string{"milosev", "dindic", "oresund", "lodz", "cafe", "naiv"}},
		{"DecomposedInput", "cafe\u0301", []string{"cafe"}},
		{"SharpS", "Straße STRASSE", []string{"strass", "strass"}},
		{"Stemming", "sanctions sanctioned sanctioning sanction", []string{"sanction", "sanction", "sanction", "sanction"}},
		{"AsciiApostrophe", "ICC's ruling", []string{"icc", "rule"}},
		{"TypographicApostrophe", "ICC’s ruling", []string{"icc", "rule"}},
		{"ModifierApostrophe", "ICCʼs ruling", []string{"icc", "rule"}},
		{"InnerApostrophe", "O'Neill don’t", []string{"oneil", "dont"}},
		{"QuotesAreNotApostrophes", "'quoted' ‘single’", []string{"quot", "singl"}},
		{"PluralPossessive", "the ICCs' rulings", []string{"icc", "rule"}},
		{"StopWordsDropped", "The war of the worlds", []string{"war", "world"}},
		{"Punctuation", "U.S.-led, (2024) COVID-19!", []string{"u", "s", "led", "2024", "covid", "19"}},
		{"Ideographs", "中文abc", []string{"中", "文", "abc"}},
		{"Cyrillic", "Россия РОССИЯ", []string{"россия", "россия"}},
		{"InvalidUTF8", "ab\xffcd", []string{"ab", "cd"}},
		{"Empty", "", nil},
		{"OnlyPunctuation", "— … ** --", nil},
		{"OnlyMarks", "\u0301\u0302", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := terms(t, tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("Analyze(%q) terms = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestAnalyzePositionsAndOffsets(t *testing.T) {
	t.Parallel()
	text := "The ICC’s war, of the Worlds."
	got := search.Analyze(text)
	want := []search.Token{
		{Term: "icc", Word: "icc", Pos: 1, Start: 4, End: 11},
		{Term: "war", Word: "war", Pos: 2, Start: 12, End: 15},
		{Term: "world", Word: "worlds", Pos: 5, Start: 24, End: 30},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Analyze(%q) =\n%+v\nwant\n%+v", text, got, want)
	}
	for _, tok := range got {
		if w := text[tok.Start:tok.End]; !strings.EqualFold(strings.ReplaceAll(w, "’s", ""), tok.Word) {
			t.Errorf("text[%d:%d] = %q, does not spell %q", tok.Start, tok.End, w, tok.Word)
		}
	}
}

func TestAnalyzeLongWordIsCut(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100)
	toks := search.Analyze(long)
	if len(toks) != 1 {
		t.Fatalf("got %d tokens, want 1", len(toks))
	}
	if w := toks[0].Word; len(w) > search.MaxWordLen || !utf8.ValidString(w) {
		t.Errorf("word %q: %d bytes (max %d), valid UTF-8 %v", w, len(w), search.MaxWordLen, utf8.ValidString(w))
	}
}

func TestIsStopWord(t *testing.T) {
	t.Parallel()
	for w, want := range map[string]bool{"the": true, "with": true, "not": false, "war": false} {
		if got := search.IsStopWord(w); got != want {
			t.Errorf("IsStopWord(%q) = %v, want %v", w, got, want)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"", "ICC’s ruling", "Milošević", "a'b'c's", "中文", "ab\xffcd", "a\x00b\x01c", "e\u0301\u0301", "'''", "ʼs",
		"The UN's 2024 report", "x'", "'a", "a''b", "a'中", "Ab'É", "AbcDef ghi", "It's THE end.", strings.Repeat("Ab", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		toks := search.Analyze(text)
		if again := search.Analyze(text); !slices.Equal(toks, again) {
			t.Fatalf("Analyze(%q) is not deterministic", text)
		}
		if ref := search.ReferenceAnalyze(text); !slices.Equal(toks, ref) && len(toks)+len(ref) > 0 {
			t.Fatalf("Analyze(%q) = %+v, reference analyser %+v", text, toks, ref)
		}
		var words []search.Token
		search.ScanWords(text, func(w string, pos int) { words = append(words, search.Token{Word: w, Pos: pos}) })
		if len(words) != len(toks) {
			t.Fatalf("ScanWords(%q) gave %d words, Analyze %d tokens", text, len(words), len(toks))
		}
		for i, w := range words {
			if w.Word != toks[i].Word || w.Pos != toks[i].Pos || search.Stem(w.Word) != toks[i].Term {
				t.Fatalf("ScanWords(%q) word %d is %q at %d (stem %q); Analyze: %+v", text, i, w.Word, w.Pos, search.Stem(w.Word), toks[i])
			}
		}
		lastPos, lastEnd := -1, 0
		for _, tok := range toks {
			if tok.Term == "" || tok.Word == "" || len(tok.Word) > search.MaxWordLen {
				t.Fatalf("bad token %+v", tok)
			}
			if tok.Pos <= lastPos || tok.Start < lastEnd || tok.End <= tok.Start || tok.End > len(text) {
				t.Fatalf("token %+v out of order (last pos %d, end %d)", tok, lastPos, lastEnd)
			}
			// The store's segments rely on it: their length table's key is
			// 0x00, and their chunk keys are 0x01 and a term.
			if strings.ContainsAny(tok.Term, "\x00\x01") || strings.ContainsAny(tok.Word, "\x00\x01") {
				t.Fatalf("token %+v holds a 0x00 or 0x01 byte", tok)
			}
			lastPos, lastEnd = tok.Pos, tok.End
		}
	})
}
