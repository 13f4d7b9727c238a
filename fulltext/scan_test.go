package fulltext

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
)

// scanned returns the words and positions scan calls back with.
func scanned(scan func(string, func(string, int)), text string) []string {
	var out []string
	scan(text, func(w string, pos int) { out = append(out, fmt.Sprintf("%d:%s", pos, w)) })
	return out
}

func checkScan(t *testing.T, text string) {
	t.Helper()
	indexed := func(text string, fn func(string, int)) {
		scanWords(text, func(w string, pos int) {
			if !search.IsStopWord(w) {
				fn(w, pos)
			}
		})
	}
	got, want := scanned(indexed, text), scanned(search.ScanWords, text)
	if !slices.Equal(got, want) {
		t.Errorf("scanWords(%q) = %q, search.ScanWords gives %q", text, got, want)
	}
}

func TestScanWordsLikeSearch(t *testing.T) {
	t.Parallel()
	tests := []string{
		"",
		"The ICC's ruling, and the ICC’s prosecutor.",
		"Ministers met on Tuesday: SANCTIONS against Belgrade's government's plans",
		"don't won't rock'n'roll 'quoted' trailing' 'leading x'S O'Neil's",
		"a an and the of in to x1 2024 3.14 e-mail foo_bar",
		strings.Repeat("long", 30) + " " + strings.Repeat("Long", 30) + " " + strings.Repeat("ab'", 40) + "c",
		"Slobodan Milošević was tried",
		"tab\tnew\nline\r\n'''s's 's s'",
	}
	for _, text := range tests {
		checkScan(t, text)
	}
}

func FuzzScanWords(f *testing.F) {
	for _, s := range []string{"The ICC's ruling", "don't 'x' y'S", "Milošević", "a1 B2 c'3", strings.Repeat("Ab'", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkScan(t, text)
		if got, want := analysed(t, text); !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("analyze(%q) = %v, search.Analyze gives %v", text, got, want)
		}
	})
}

// analysed returns the positions of each term in text as the indexer's
// analysis gives them, and as search.Analyze does.
func analysed(t *testing.T, text string) (got, want map[string][]int) {
	t.Helper()
	an := analyze(&articlesv1.Article{Body: text})
	got = map[string][]int{}
	for i, term := range an.termList() {
		_, body, err := postingPositions(an.posting(i), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got[term] = body
	}
	want = map[string][]int{}
	for _, tok := range search.Analyze(text) {
		want[tok.Term] = append(want[tok.Term], tok.Pos)
	}
	return got, want
}

func TestAnalyzeLikeSearch(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"",
		"The ICC's ruling, and the ICC’s prosecutor ruled on rulings.",
		"Slobodan Milošević was tried; the tribunal tried him for years.",
		"a an and the of in to x1 2024 running runs ran the the the",
	} {
		got, want := analysed(t, text)
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("analyze(%q) = %v, search.Analyze gives %v", text, got, want)
		}
	}
}
