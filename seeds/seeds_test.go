package seeds_test

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/seeds"
)

// chrome lists the page furniture that must never reach an article.
var chrome = []string{"Connect with us", "Avatar photo", "Image source:", "Continue Reading"}

// checkArticle asserts the invariants every parsed article keeps, whatever
// the input: a non-empty title, no chrome line, no empty paragraph, valid
// UTF-8 everywhere and a message that marshals.
func checkArticle(t *testing.T, i int, a *articlesv1.Article) {
	t.Helper()
	if strings.TrimSpace(a.GetTitle()) == "" {
		t.Errorf("article %d: empty title", i)
	}
	if strings.ContainsAny(a.GetTitle(), "\r\n") || a.GetTitle() != strings.TrimSpace(a.GetTitle()) {
		t.Errorf("article %d: title %q spans lines or has surrounding space", i, a.GetTitle())
	}
	if a.GetSlug() != "" || a.GetId() != "" || a.GetSummary() != "" {
		t.Errorf("article %d: parser set server-derived fields: slug %q id %q summary %q", i, a.GetSlug(), a.GetId(), a.GetSummary())
	}
	if body := a.GetBody(); body != "" {
		for j, p := range strings.Split(body, "\n\n") {
			if strings.TrimSpace(p) == "" || p != strings.TrimSpace(p) || strings.ContainsAny(p, "\r\n") {
				t.Errorf("article %d: paragraph %d is empty, padded or spans lines: %q", i, j, p)
			}
			if slices.Contains(chrome, p) {
				t.Errorf("article %d: chrome line %q survived as paragraph %d", i, p, j)
			}
		}
	}
	for _, s := range append([]string{a.GetTitle(), a.GetBody(), a.GetAuthorBio(), a.GetSource()}, a.GetAuthors()...) {
		if !utf8.ValidString(s) {
			t.Errorf("article %d: invalid UTF-8 in %q", i, s)
		}
	}
	if _, err := proto.Marshal(a); err != nil {
		t.Errorf("article %d: marshal: %v", i, err)
	}
}

func TestArticles(t *testing.T) {
	t.Parallel()
	got, err := seeds.Articles()
	if err != nil {
		t.Fatalf("Articles: %v", err)
	}
	want := []struct {
		title, source, bioPrefix string
		authors                  []string
		firstPara, lastPara      string // prefixes
		paras                    int
	}{
		{
			title:     "The Ukrainian crisis and the long-range international repercussions",
			authors:   []string{"Giancarlo Elia Valori"},
			bioPrefix: "Advisory Board Co-chair Honoris Causa Professor Giancarlo Elia Valori is an eminent Italian economist",
			firstPara: "The situation in Ukraine has suddenly changed.",
			lastPara:  "At a time when the United States intervenes everywhere",
			paras:     46,
		},
		{
			title:     "Don’t listen to the naysayers, the ICC’s arrest warrant for Putin is a game changer",
			firstPara: "The International Criminal Court’s decision",
			lastPara:  "But – just like the late Slobodan Milošević – leaders",
			paras:     40,
		},
		{
			title:     "How Russia Can Build Relations With Friendly Countries",
			source:    "RIAC",
			firstPara: "A year into the conflict between Russia and the West",
			lastPara:  "The same applies to smaller religious communities.",
			paras:     10,
		},
		{
			title:     "Amid Ukraine Crisis, Russia Deepens Strategic Cooperation With China",
			firstPara: "Russian President Vladimir Putin and Chinese President Xi Jinping",
			lastPara:  "Before Xi Jinping landed in Moscow",
			paras:     15,
		},
	}
	if len(got) != len(want) {
		t.Fatalf("Articles returned %d articles, want %d", len(got), len(want))
	}
	for i, w := range want {
		a := got[i]
		t.Run(w.title, func(t *testing.T) {
			checkArticle(t, i, a)
			if a.GetTitle() != w.title {
				t.Errorf("title = %q, want %q", a.GetTitle(), w.title)
			}
			if !slices.Equal(a.GetAuthors(), w.authors) {
				t.Errorf("authors = %q, want %q", a.GetAuthors(), w.authors)
			}
			if a.GetSource() != w.source {
				t.Errorf("source = %q, want %q", a.GetSource(), w.source)
			}
			if !strings.HasPrefix(a.GetAuthorBio(), w.bioPrefix) || (w.bioPrefix == "") != (a.GetAuthorBio() == "") {
				t.Errorf("author_bio = %.80q, want prefix %q", a.GetAuthorBio(), w.bioPrefix)
			}
			paras := strings.Split(a.GetBody(), "\n\n")
			if len(paras) != w.paras {
				t.Errorf("body has %d paragraphs, want %d", len(paras), w.paras)
			}
			if !strings.HasPrefix(paras[0], w.firstPara) {
				t.Errorf("first paragraph = %.80q, want prefix %q", paras[0], w.firstPara)
			}
			if last := paras[len(paras)-1]; !strings.HasPrefix(last, w.lastPara) {
				t.Errorf("last paragraph = %.80q, want prefix %q", last, w.lastPara)
			}
			for _, moved := range []string{"from our partner", "is an eminent Italian economist"} {
				if strings.Contains(a.GetBody(), moved) {
					t.Errorf("body still contains %q", moved)
				}
			}
			for j, p := range paras {
				if p != strings.TrimSpace(p) {
					t.Errorf("paragraph %d keeps surrounding whitespace: %q", j, p)
				}
			}
		})
	}
}

func TestArticlesDeterministic(t *testing.T) {
	t.Parallel()
	a, err := seeds.Articles()
	if err != nil {
		t.Fatal(err)
	}
	b, err := seeds.Articles()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("lengths differ: %d, %d", len(a), len(b))
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			t.Errorf("article %d differs between calls", i)
		}
	}
	// The result is the caller's: changing it must not leak into later calls.
	a[0].Title = "changed"
	c, err := seeds.Articles()
	if err != nil {
		t.Fatal(err)
	}
	if c[0].GetTitle() == "changed" {
		t.Error("Articles returned shared state")
	}
}

// TestEveryFileParses parses each embedded page on its own: every shipped
// file must yield articles that keep the parser's invariants.
func TestEveryFileParses(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(seeds.Files(), "*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no embedded seed files")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			b, err := fs.ReadFile(seeds.Files(), name)
			if err != nil {
				t.Fatal(err)
			}
			as, err := seeds.Parse(string(b))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(as) == 0 {
				t.Fatal("no articles")
			}
			for i, a := range as {
				checkArticle(t, i, a)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	type art struct {
		title, body, bio, source string
		authors                  []string
	}
	tests := []struct {
		name string
		text string
		want []art
	}{
		{name: "Empty", text: "", want: nil},
		{name: "OnlyChrome", text: "Connect with us\n\nAvatar photo\n\nImage source:\nContinue Reading\n\n", want: nil},
		{
			name: "BlankRunsCollapse",
			text: "Title\n\n\n\nOne.\n\n\n\n\nTwo.\n",
			want: []art{{title: "Title", body: "One.\n\nTwo."}},
		},
		{
			name: "CRLFAndTrailingSpaces",
			text: "Title \r\n\r\nOne.\u00a0\r\n\r\n  Two.\r\n",
			want: []art{{title: "Title", body: "One.\n\nTwo."}},
		},
		{
			name: "LoneCarriageReturns",
			text: "Title\rOne.\r\rTwo.",
			want: []art{{title: "Title", body: "One.\n\nTwo."}},
		},
		{
			name: "ChromeDroppedBeforeTitle",
			text: "Connect with us\n\nAvatar photo\nImage source:\nTitle\nImage source:   \nBody.",
			want: []art{{title: "Title", body: "Body."}},
		},
		{
			name: "CaptionedImageSourceKept",
			text: "Title\n\nImage source: Reuters\n",
			want: []art{{title: "Title", body: "Image source: Reuters"}},
		},
		{
			name: "TitleOnly",
			text: "Just a title\nContinue Reading\n",
			want: []art{{title: "Just a title"}},
		},
		{
			name: "Separators",
			text: "A\n\na.\n\nContinue Reading\n\nB\n\nb.\ncontinue reading\nC\n",
			want: []art{{title: "A", body: "a."}, {title: "B", body: "b."}, {title: "C"}},
		},
		{
			name: "Partner",
			text: "T\n\nText.\n\nfrom our partner RIAC\n",
			want: []art{{title: "T", body: "Text.", source: "RIAC"}},
		},
		{
			name: "PartnerTrailingPeriod",
			text: "T\n\nText.\n\nFrom our partner Modern Diplomacy.\n",
			want: []art{{title: "T", body: "Text.", source: "Modern Diplomacy"}},
		},
		{
			name: "PartnerNotClosing",
			text: "T\n\nfrom our partner RIAC\n\nText.\n",
			want: []art{{title: "T", body: "from our partner RIAC\n\nText."}},
		},
		{
			name: "PartnerEmpty",
			text: "T\n\nText.\n\nfrom our partner \n",
			want: []art{{title: "T", body: "Text.\n\nfrom our partner"}},
		},
		{
			name: "AuthorNote",
			text: "T\n\nText.\n\nDr. Jane Q. Public is a senior fellow.\n",
			want: []art{{title: "T", body: "Text.", bio: "Dr. Jane Q. Public is a senior fellow.", authors: []string{"Jane Q. Public"}}},
		},
		{
			name: "AuthorNoteThenPartner",
			text: "T\n\nText.\n\nProfessor Ludwig van Beethoven is an expert.\n\nfrom our partner RIAC",
			want: []art{{title: "T", body: "Text.", bio: "Professor Ludwig van Beethoven is an expert.", authors: []string{"Ludwig van Beethoven"}, source: "RIAC"}},
		},
		{
			name: "PartnerThenAuthorNote",
			text: "T\n\nText.\n\nfrom our partner RIAC\n\nSenior Fellow Ana Núñez is a writer.",
			want: []art{{title: "T", body: "Text.", bio: "Senior Fellow Ana Núñez is a writer.", authors: []string{"Ana Núñez"}, source: "RIAC"}},
		},
		{
			name: "OnlyParagraphIsNotANote",
			text: "T\n\nJohn Smith is a writer.\n",
			want: []art{{title: "T", body: "John Smith is a writer."}},
		},
		{
			name: "OneWordSubjectIsNotANote",
			text: "T\n\nText.\n\nRussia is a large country.\n",
			want: []art{{title: "T", body: "Text.\n\nRussia is a large country."}},
		},
		{
			name: "SentenceIsNotANote",
			text: "T\n\nText.\n\nIn the end the Kremlin is a fortress.\n",
			want: []art{{title: "T", body: "Text.\n\nIn the end the Kremlin is a fortress."}},
		},
		{
			name: "NonASCIIKept",
			text: "“Quoted” — title\n\nMilošević’s vis-à-vis naïve.\n",
			want: []art{{title: "“Quoted” — title", body: "Milošević’s vis-à-vis naïve."}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := seeds.Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d articles, want %d: %v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				a := got[i]
				checkArticle(t, i, a)
				g := art{a.GetTitle(), a.GetBody(), a.GetAuthorBio(), a.GetSource(), a.GetAuthors()}
				if g.title != w.title || g.body != w.body || g.bio != w.bio || g.source != w.source || !slices.Equal(g.authors, w.authors) {
					t.Errorf("article %d:\n got %+q\nwant %+q", i, g, w)
				}
			}
		})
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	t.Parallel()
	if _, err := seeds.Parse("Title\n\nbad \xff byte\n"); err == nil {
		t.Fatal("Parse accepted invalid UTF-8")
	}
}

func FuzzParse(f *testing.F) {
	b, err := fs.ReadFile(seeds.Files(), "000_8d1312a4cb726030.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("")
	f.Add("Continue Reading")
	f.Add("T\n\nText.\n\nAdvisory Board Co-chair Professor A B is an x.\n\nfrom our partner X\n")
	f.Add("\r\n \u00a0\nImage source:\nfrom our partner ")
	f.Fuzz(func(t *testing.T, text string) {
		got, err := seeds.Parse(text)
		if err != nil {
			if utf8.ValidString(text) {
				t.Fatalf("Parse failed on valid UTF-8: %v", err)
			}
			return
		}
		again, err := seeds.Parse(text)
		if err != nil || len(again) != len(got) {
			t.Fatalf("second Parse differs: %d articles, err %v; first had %d", len(again), err, len(got))
		}
		for i, a := range got {
			checkArticle(t, i, a)
			if !proto.Equal(a, again[i]) {
				t.Fatalf("article %d differs between runs", i)
			}
		}
	})
}
