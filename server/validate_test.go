package server_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func TestSlugify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, title, want string
	}{
		{"Plain", "Hello World", "hello-world"},
		{"Diacritics", "Milošević à Zürich", "milosevic-a-zurich"},
		{"Apostrophes", "ICC’s and ICC's", "iccs-and-iccs"},
		{"Punctuation", "  --Why? Because: 100%!  ", "why-because-100"},
		{"EmDash", "War—Peace", "war-peace"},
		{"Special", "Straße Ærø Łódź", "strasse-aero-lodz"},
		{"OtherScriptsDropped", "Путин meets Trump", "meets-trump"},
		{"Long", strings.Repeat("word ", 60), strings.TrimSuffix(strings.Repeat("word-", 40), "-")},
		{"LongNoDash", strings.Repeat("a", 250), strings.Repeat("a", 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := server.Slugify(tt.title); got != tt.want {
				t.Errorf("Slugify(%q) = %q, want %q", tt.title, got, tt.want)
			}
		})
	}
	t.Run("Fallback", func(t *testing.T) {
		t.Parallel()
		a, b := server.Slugify("Путин"), server.Slugify("Сталин")
		if !strings.HasPrefix(a, "article-") || a == b || a != server.Slugify("Путин") || !slugRE.MatchString(a) {
			t.Errorf("fallback slugs %q, %q: want distinct, stable, valid article-<hash>", a, b)
		}
	})
}

func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"", "Hello World", "Milošević", "Путин", "---", "a\xffb", strings.Repeat("ab-", 100), "ẞ", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		s := server.Slugify(title)
		if !slugRE.MatchString(s) || len(s) > 200 {
			t.Fatalf("Slugify(%q) = %q: not a valid slug", title, s)
		}
		if again := server.Slugify(title); again != s {
			t.Fatalf("Slugify(%q) not deterministic: %q then %q", title, s, again)
		}
	})
}

func ExampleSlugify() {
	fmt.Println(server.Slugify("Milošević and the ICC’s Case"))
	fmt.Println(server.Slugify("  Why?  Because: 100%!"))
	// Output:
	// milosevic-and-the-iccs-case
	// why-because-100
}

func TestDerivedFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	long := strings.Repeat("lorem ipsum ", 40) // 480 characters
	tests := []struct {
		name        string
		body        string
		wantSummary func(string) bool
		wantWords   int32
	}{
		{"FirstParagraph", "\n\n  First   line\nsame para.\n\nSecond para.", func(s string) bool { return s == "First line same para." }, 6},
		{"LongTrimmedOnWord", long, func(s string) bool {
			return strings.HasSuffix(s, "…") && utf8.RuneCountInString(s) <= 301 && strings.HasPrefix(long, strings.TrimSuffix(s, "…")+" ")
		}, 80},
		{"Empty", "", func(s string) bool { return s == "" }, 0},
		{"BlankLineWithSpaces", "Lead para.\n   \nNext para.", func(s string) bool { return s == "Lead para." }, 4},
		{"DashesAreNotWords", "one — two - three", func(s string) bool { return s == "one — two - three" }, 3},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			title := fmt.Sprintf("Derived %d", i)
			resp, err := e.srv.Import(ctx, []*articlesv1.Article{{Title: title, Body: tt.body}})
			if err != nil || resp.GetCreated() != 1 {
				t.Fatalf("Import = %v, %v", resp, err)
			}
			a, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: server.Slugify(title)}})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantSummary(a.GetSummary()) || a.GetWordCount() != tt.wantWords {
				t.Errorf("summary %q, word_count %d (want %d)", a.GetSummary(), a.GetWordCount(), tt.wantWords)
			}
		})
	}
}
