package search_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/seed9c1868aa/articles/search"
)

func mustParse(t *testing.T, q string) *search.Query {
	t.Helper()
	p, err := search.Parse(q)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	return p
}

const snippetBody = "Long ago there was a quiet story about nothing much.\n\n" +
	"In 1999, Slobodan Milošević faced new sanctions from the West, and the sanctions regime widened over the following months.\n\n" +
	"Later paragraphs talk about other things entirely, far from the point, and they go on for a while."

func TestSnippet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, query string
		maxLen            int
		want              string
	}{
		{
			name: "MarksStemsAndDiacritics", body: snippetBody, query: "sanction milosevic", maxLen: 80,
			want: "…Slobodan **Milošević** faced new **sanctions** from the West, and the **sanctions** regime…",
		},
		{
			name: "NoMatchIsTheStart", body: snippetBody, query: "zebra", maxLen: 30,
			want: "Long ago there was a quiet…",
		},
		{
			name: "WholeBodyFits", body: "Sanctions, again.", query: "sanctions", maxLen: 100,
			want: "**Sanctions**, again.",
		},
		{
			name: "Prefix", body: "The sanctuary and the sanctions.", query: "sanct*", maxLen: 100,
			want: "The **sanctuary** and the **sanctions**.",
		},
		{
			name: "NegatedNotMarked", body: "war and peace", query: "war -peace", maxLen: 100,
			want: "**war** and peace",
		},
		{
			name: "ApostropheForms", body: "The ICC’s ruling and the ICC's reply.", query: "ICC's", maxLen: 100,
			want: "The **ICC’s** ruling and the **ICC's** reply.",
		},
		{
			name: "WhitespaceCollapsed", body: "war\n\n\tand   peace", query: "peace", maxLen: 100,
			want: "war and **peace**",
		},
		{
			name: "EmptyBody", body: "", query: "war", maxLen: 100, want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := search.Snippet(tt.body, mustParse(t, tt.query), tt.maxLen); got != tt.want {
				t.Errorf("Snippet(%q) =\n%q\nwant\n%q", tt.query, got, tt.want)
			}
		})
	}
}

func TestSnippetPrefersDenseWindow(t *testing.T) {
	t.Parallel()
	body := "sanctions " + strings.Repeat("filler words here ", 30) + "sanctions against Belgrade " + strings.Repeat("more filler text ", 30)
	got := search.Snippet(body, mustParse(t, "sanctions belgrade"), 60)
	if !strings.Contains(got, "**sanctions** against **Belgrade**") {
		t.Errorf("snippet %q misses the window with both terms", got)
	}
	if !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") {
		t.Errorf("snippet %q should be cut at both ends", got)
	}
}

func TestSnippetLengthIsBounded(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("Ünïcödé words with sanctions in between them. ", 50)
	for _, maxLen := range []int{0, 1, 10, 50, 200} {
		got := search.Snippet(body, mustParse(t, "sanctions"), maxLen)
		limit := maxLen
		if limit <= 0 {
			limit = search.DefaultSnippetLen
		}
		plain := strings.NewReplacer("**", "", "…", "").Replace(got)
		// One word may overhang when not even the first match fits.
		if n := utf8.RuneCountInString(plain); n > max(limit, len("sanctions"))+1 {
			t.Errorf("maxLen %d: snippet has %d characters: %q", maxLen, n, got)
		}
		if !strings.Contains(got, "**sanctions**") {
			t.Errorf("maxLen %d: snippet %q has no marked match", maxLen, got)
		}
	}
}

func FuzzSnippet(f *testing.F) {
	f.Add(snippetBody, "sanctions", 40)
	f.Add("a'b ’s", "ab*", 1)
	f.Fuzz(func(t *testing.T, body, query string, maxLen int) {
		q, err := search.Parse(query)
		if err != nil {
			return
		}
		got := search.Snippet(body, q, maxLen%1000)
		if got != search.Snippet(body, q, maxLen%1000) {
			t.Fatal("Snippet is not deterministic")
		}
		if utf8.ValidString(body) && !utf8.ValidString(got) {
			t.Fatalf("Snippet of valid UTF-8 is invalid: %q", got)
		}
	})
}
