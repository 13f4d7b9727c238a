package server

import (
	"math"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// The plain definitions of the derived summary and word count, which
// deriveSummary and wordCount must match on every input.

func plainSummary(body string) string {
	var lines []string
	for line := range strings.SplitSeq(body, "\n") {
		if strings.TrimSpace(line) == "" {
			if len(lines) > 0 {
				break
			}
			continue
		}
		lines = append(lines, line)
	}
	para := strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
	if utf8.RuneCountInString(para) <= summaryChars {
		return para
	}
	cut := 0
	for i := range para {
		if cut == summaryChars {
			cut = i
			break
		}
		cut++
	}
	s := para[:cut]
	if i := strings.LastIndexByte(s, ' '); i > summaryChars/2 {
		s = s[:i]
	}
	return strings.TrimRightFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—", r)
	}) + "…"
}

func plainWordCount(body string) int32 {
	n := 0
	for w := range strings.FieldsSeq(body) {
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			n++
		}
	}
	return int32(min(n, math.MaxInt32))
}

// summaryInputs are bodies at the edges of paragraphs, folding, the cut
// and non-ASCII text.
var summaryInputs = []string{
	"",
	"   \n \t\n",
	"one",
	"\n\n  First   line\nsecond\tline \n\n next paragraph",
	"a\r\nb\r\n\r\nc",
	"x \u00a0 y\u2003z\n\u2028\nw",
	"Première — phrase, à la fin; – « citée » : ok.",
	"- -- — 42 ... a-b ½ ٣",
	"(hello) -- 'x' ... - . ,a b, \t-\n\v\f\r!?",
	"...\n-x\x00 \x7f1",
	"bad \xff utf8 \xe2\x82 here\n\nlater",
	strings.Repeat("lorem ipsum ", 40),
	strings.Repeat("word, ", 60) + "\n\nrest",
	strings.Repeat("a", 400),
	strings.Repeat("é", 299) + " " + strings.Repeat("ü", 5),
	strings.Repeat("x ", 150),
	strings.Repeat("x ", 151),
	strings.Repeat("ab ", 99) + "—————— zz",
	strings.Repeat("ab ", 99) + "c,;:-–— more words follow",
}

func TestSummaryAndWordCount(t *testing.T) {
	t.Parallel()
	for _, body := range summaryInputs {
		if got, want := deriveSummary(body), plainSummary(body); got != want {
			t.Errorf("deriveSummary(%q) = %q, want %q", body, got, want)
		}
		if got, want := wordCount(body), plainWordCount(body); got != want {
			t.Errorf("wordCount(%q) = %d, want %d", body, got, want)
		}
	}
}

// FuzzSummary checks deriveSummary and wordCount against their plain
// definitions.
func FuzzSummary(f *testing.F) {
	for _, body := range summaryInputs {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if got, want := deriveSummary(body), plainSummary(body); got != want {
			t.Fatalf("deriveSummary(%q) = %q, want %q", body, got, want)
		}
		if got, want := wordCount(body), plainWordCount(body); got != want {
			t.Fatalf("wordCount(%q) = %d, want %d", body, got, want)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	body := strings.Repeat("The quick brown fox jumps over the lazy dog, again. ", 100)
	v := validator{maxBodyBytes: DefaultMaxBodyBytes}
	for b.Loop() {
		a := &articlesv1.Article{Title: "A title", Body: body, Authors: []string{"Ann Author"}, Tags: []string{"News", "bench"}, Source: "BENCH"}
		if vs := v.normalize(a, "article"); len(vs) > 0 {
			b.Fatal(vs)
		}
	}
}

func BenchmarkWordCount(b *testing.B) {
	body := strings.Repeat("The quick brown fox jumps over the lazy dog, again. ", 100)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		wordCount(body)
	}
}
