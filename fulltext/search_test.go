package fulltext_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/fulltext"
	"github.com/seed9c1868aa/articles/internal/corpus"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
	"github.com/seed9c1868aa/articles/seeds"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// searchArt returns an article to create for the search tests.
func searchArt(slug, title, body string) *articlesv1.Article {
	return &articlesv1.Article{
		Slug:    slug,
		Title:   title,
		Body:    body,
		Authors: []string{"Ann Author"},
		Tags:    []string{"news"},
		Source:  "RIAC",
	}
}

// day returns noon UTC of day d of January 2024.
func day(d int) *timestamppb.Timestamp {
	return timestamppb.New(time.Date(2024, 1, d, 12, 0, 0, 0, time.UTC))
}

// searchCorpus is a small corpus, each article built to test one behaviour,
// among filler articles that give BM25 realistic document frequencies.
func searchCorpus() []*articlesv1.Article {
	arts := []*articlesv1.Article{
		searchArt("title-sanctions", "New sanctions on Belgrade", "Ministers met on Tuesday and agreed on measures against the government."),
		searchArt("body-sanctions", "Weekly roundup", "Among many items this week, the sanctions debate continued in parliament while other business waited."),
		searchArt("milosevic", "The Hague trial", "Slobodan Milošević was tried at the tribunal for years."),
		searchArt("icc-typographic", "Court news", "The ICC’s ruling surprised observers in the region."),
		searchArt("icc-ascii", "More court news", "The ICC's prosecutor spoke to journalists."),
		searchArt("climate-phrase", "Warming", "Scientists say climate change is accelerating faster than expected."),
		searchArt("climate-apart", "Stable weather", "The climate here is stable, while policy change is slow."),
		searchArt("sanctuary", "Birds", "A sanctuary for migrating birds opened near the lake."),
		searchArt("sanctioned", "Trade", "Several firms were sanctioned by the regulator last spring."),
	}
	arts[1].Tags = []string{"politics"}
	arts[2].Authors = []string{"Bea Writer"}
	arts[2].PublishTime = day(5)
	arts[3].Source = "ECFR"
	arts[3].PublishTime = day(10)
	arts[4].PublishTime = day(20)
	fillerWords := strings.Fields("market energy harbour village river council school bridge season report harvest festival railway museum")
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 30 {
		var b strings.Builder
		for range 40 {
			b.WriteString(fillerWords[r.IntN(len(fillerWords))])
			b.WriteByte(' ')
		}
		arts = append(arts, searchArt(fmt.Sprintf("filler-%d", i), "Local "+fillerWords[i%len(fillerWords)], b.String()))
	}
	return arts
}

// openSearch returns a store holding arts (imported in one write, in
// order), and the stored articles by slug.
func openSearch(t testing.TB, arts []*articlesv1.Article) (*testDB, map[string]*articlesv1.Article) {
	t.Helper()
	ctx := context.Background()
	db := mustOpen(t)
	resp, err := db.Import(ctx, arts)
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("Import: %v, %v", resp, err)
	}
	bySlug := map[string]*articlesv1.Article{}
	for _, a := range arts {
		got, err := db.GetBySlug(ctx, a.GetSlug())
		if err != nil {
			t.Fatal(err)
		}
		bySlug[got.GetSlug()] = got
	}
	return db, bySlug
}

// doSearch runs query and returns the response.
func doSearch(t testing.TB, db *testDB, query string, f articles.Filter, offset, limit int) *articlesv1.SearchArticlesResponse {
	t.Helper()
	q, err := search.Parse(query)
	if err != nil {
		t.Fatalf("Parse(%q): %v", query, err)
	}
	resp, err := db.Search(context.Background(), q, f, offset, limit)
	if err != nil {
		t.Fatalf("Search(%q): %v", query, err)
	}
	return resp
}

// slugs returns the slugs of the results, best first.
func slugs(resp *articlesv1.SearchArticlesResponse) []string {
	var out []string
	for _, r := range resp.GetResults() {
		out = append(out, r.GetArticle().GetSlug())
	}
	return out
}

func TestSearchRelevance(t *testing.T) {
	t.Parallel()
	db, _ := openSearch(t, searchCorpus())
	tests := []struct {
		name, query string
		filter      articles.Filter
		want        []string // exactly these, in any order
		wantFirst   string   // and this one first, if set
	}{
		{name: "TitleRanksFirst", query: "sanctions", want: []string{"title-sanctions", "body-sanctions", "sanctioned"}, wantFirst: "title-sanctions"},
		{name: "Stemming", query: "sanction", want: []string{"title-sanctions", "body-sanctions", "sanctioned"}},
		{name: "StemmingOtherForm", query: "sanctioned", want: []string{"title-sanctions", "body-sanctions", "sanctioned"}},
		{name: "AllWordsMustMatch", query: "sanctions Belgrade", want: []string{"title-sanctions"}},
		{name: "Phrase", query: `"climate change"`, want: []string{"climate-phrase"}},
		{name: "SeparateWords", query: "climate change", want: []string{"climate-phrase", "climate-apart"}, wantFirst: "climate-phrase"},
		{name: "PhraseOrderMatters", query: `"change climate"`, want: nil},
		{name: "Exclusion", query: "climate -policy", want: []string{"climate-phrase"}},
		{name: "ExcludedPhrase", query: `climate -"climate change"`, want: []string{"climate-apart"}},
		{name: "Prefix", query: "sanct*", want: []string{"title-sanctions", "body-sanctions", "sanctuary", "sanctioned"}},
		{name: "PrefixWithWord", query: "sanct* birds", want: []string{"sanctuary"}},
		{name: "PrefixOfUnstemmedWord", query: "prosecut*", want: []string{"icc-ascii"}},
		{name: "PrefixOfWholeWord", query: "sanctuary*", want: []string{"sanctuary"}},
		{name: "ExcludedPrefix", query: "news -prosecut*", want: []string{"icc-typographic"}},
		{name: "DiacriticsFolded", query: "milosevic", want: []string{"milosevic"}},
		{name: "DiacriticsInQuery", query: "MILOŠEVIĆ", want: []string{"milosevic"}},
		{name: "ASCIIApostrophe", query: "ICC's", want: []string{"icc-typographic", "icc-ascii"}},
		{name: "TypographicApostrophe", query: "ICC’s", want: []string{"icc-typographic", "icc-ascii"}},
		{name: "NoMatch", query: "zeppelin", want: nil},
		{name: "FilterAuthor", query: "tried", filter: articles.Filter{Author: "Bea Writer"}, want: []string{"milosevic"}},
		{name: "FilterAuthorExcludes", query: "tried", filter: articles.Filter{Author: "Ann Author"}, want: nil},
		{name: "FilterTag", query: "sanctions", filter: articles.Filter{Tag: "politics"}, want: []string{"body-sanctions"}},
		{name: "FilterSource", query: "ICC's", filter: articles.Filter{Source: "ECFR"}, want: []string{"icc-typographic"}},
		{name: "FilterPublished", query: "ICC's", filter: articles.Filter{PublishedAfter: day(15).AsTime()}, want: []string{"icc-ascii"}},
		{name: "FilterPublishedBefore", query: "court", filter: articles.Filter{PublishedBefore: day(15).AsTime()}, want: []string{"icc-typographic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := doSearch(t, db, tt.query, tt.filter, 0, 100)
			got := slugs(resp)
			if !sameSet(got, tt.want) {
				t.Fatalf("Search(%q) = %q, want %q in any order", tt.query, got, tt.want)
			}
			if int(resp.GetTotalSize()) != len(tt.want) {
				t.Errorf("total_size = %d, want %d", resp.GetTotalSize(), len(tt.want))
			}
			if tt.wantFirst != "" && got[0] != tt.wantFirst {
				t.Errorf("Search(%q) ranks %q first, want %q", tt.query, got[0], tt.wantFirst)
			}
			for i, r := range resp.GetResults() {
				if r.GetScore() <= 0 {
					t.Errorf("result %d (%s) has score %v", i, r.GetArticle().GetSlug(), r.GetScore())
				}
				if i > 0 && r.GetScore() > resp.GetResults()[i-1].GetScore() {
					t.Errorf("result %d scores %v, above the one before it (%v)", i, r.GetScore(), resp.GetResults()[i-1].GetScore())
				}
			}
		})
	}
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestSearchResultFields(t *testing.T) {
	t.Parallel()
	db, bySlug := openSearch(t, searchCorpus())
	resp := doSearch(t, db, "ICC’s ruling", articles.Filter{}, 0, 10)
	if got := slugs(resp); !slices.Equal(got, []string{"icc-typographic"}) {
		t.Fatalf("results %q, want [icc-typographic]", got)
	}
	r := resp.GetResults()[0]
	if want := bySlug["icc-typographic"]; !proto.Equal(r.GetArticle(), want) {
		t.Errorf("article = %v, want the stored article %v", r.GetArticle(), want)
	}
	if want := "The **ICC’s** **ruling** surprised observers in the region."; r.GetSnippet() != want {
		t.Errorf("snippet = %q, want %q", r.GetSnippet(), want)
	}
	rev, err := db.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRevision() != rev {
		t.Errorf("revision = %d, want %d", resp.GetRevision(), rev)
	}
}

func TestSearchTiesNewestFirst(t *testing.T) {
	t.Parallel()
	// Identical texts score the same: the newest publish time wins, an
	// article without one comes last, and equal times go by id.
	var arts []*articlesv1.Article
	for i, d := range []int{3, 9, 0, 6, 9} {
		a := searchArt(fmt.Sprintf("tie-%d", i), "Harbour", "The harbour reopened.")
		if d != 0 {
			a.PublishTime = day(d)
		}
		arts = append(arts, a)
	}
	db, bySlug := openSearch(t, arts)
	got := slugs(doSearch(t, db, "harbour", articles.Filter{}, 0, 10))
	first, second := "tie-1", "tie-4"
	if bySlug[second].GetId() < bySlug[first].GetId() {
		first, second = second, first
	}
	want := []string{first, second, "tie-3", "tie-0", "tie-2"}
	if !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	// Pages cut through the ties consistently.
	var paged []string
	for offset := range 5 {
		paged = append(paged, slugs(doSearch(t, db, "harbour", articles.Filter{}, offset, 1))...)
	}
	if !slices.Equal(paged, want) {
		t.Errorf("pages of 1 give %q, want %q", paged, want)
	}
}

func TestSearchPaging(t *testing.T) {
	t.Parallel()
	db, _ := openSearch(t, searchCorpus())
	all := doSearch(t, db, "local", articles.Filter{}, 0, 1000)
	if all.GetTotalSize() != 30 || len(all.GetResults()) != 30 {
		t.Fatalf("total_size %d with %d results, want 30", all.GetTotalSize(), len(all.GetResults()))
	}
	var paged []string
	for offset := 0; offset < 40; offset += 7 {
		resp := doSearch(t, db, "local", articles.Filter{}, offset, 7)
		if resp.GetTotalSize() != 30 {
			t.Fatalf("offset %d: total_size %d, want 30", offset, resp.GetTotalSize())
		}
		paged = append(paged, slugs(resp)...)
	}
	if want := slugs(all); !slices.Equal(paged, want) {
		t.Errorf("pages of 7 give\n%q\nwant\n%q", paged, want)
	}
	if resp := doSearch(t, db, "local", articles.Filter{}, 0, 0); len(resp.GetResults()) != 0 || resp.GetTotalSize() != 30 {
		t.Errorf("limit 0: %d results, total_size %d; want 0 and 30", len(resp.GetResults()), resp.GetTotalSize())
	}
}

func TestSearchFollowsWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, bySlug := openSearch(t, searchCorpus())

	t.Run("Delete", func(t *testing.T) {
		if err := db.Delete(ctx, bySlug["sanctuary"].GetId(), ""); err != nil {
			t.Fatal(err)
		}
		if got := slugs(doSearch(t, db, "birds", articles.Filter{}, 0, 10)); len(got) != 0 {
			t.Errorf("deleted article still found: %q", got)
		}
		if got := slugs(doSearch(t, db, "sanct*", articles.Filter{}, 0, 10)); slices.Contains(got, "sanctuary") {
			t.Errorf("deleted article found by prefix: %q", got)
		}
	})
	t.Run("UpdateText", func(t *testing.T) {
		_, err := db.Update(ctx, bySlug["milosevic"].GetId(), "", func(a *articlesv1.Article) error {
			a.Body = "The tribunal in The Hague heard Radovan Karadžić."
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := slugs(doSearch(t, db, "milosevic", articles.Filter{}, 0, 10)); len(got) != 0 {
			t.Errorf("old text still found: %q", got)
		}
		resp := doSearch(t, db, "karadzic", articles.Filter{}, 0, 10)
		if got := slugs(resp); !slices.Equal(got, []string{"milosevic"}) {
			t.Fatalf("new text: got %q", got)
		}
		if body := resp.GetResults()[0].GetArticle().GetBody(); !strings.Contains(body, "Karadžić") {
			t.Errorf("result holds an old version: %q", body)
		}
	})
	t.Run("UpdateMetadataOnly", func(t *testing.T) {
		_, err := db.Update(ctx, bySlug["climate-apart"].GetId(), "", func(a *articlesv1.Article) error {
			a.Tags = []string{"weather"}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := slugs(doSearch(t, db, "climate", articles.Filter{Tag: "weather"}, 0, 10)); !slices.Equal(got, []string{"climate-apart"}) {
			t.Errorf("new tag: got %q", got)
		}
		if got := slugs(doSearch(t, db, "climate", articles.Filter{Tag: "news"}, 0, 10)); !slices.Equal(got, []string{"climate-phrase"}) {
			t.Errorf("old tag: got %q", got)
		}
	})
	t.Run("Import", func(t *testing.T) {
		in := searchArt("sanctioned", "Trade", "The zeppelin factory reopened.")
		resp, err := db.Import(ctx, []*articlesv1.Article{in, searchArt("imported", "Imported", "A zeppelin landed.")})
		if err != nil || resp.Created != 1 || resp.Updated != 1 {
			t.Fatalf("Import = %v, %v", resp, err)
		}
		if got := slugs(doSearch(t, db, "zeppelin", articles.Filter{}, 0, 10)); !sameSet(got, []string{"sanctioned", "imported"}) {
			t.Errorf("imported texts: got %q", got)
		}
		if got := slugs(doSearch(t, db, "regulator", articles.Filter{}, 0, 10)); len(got) != 0 {
			t.Errorf("text replaced by import still found: %q", got)
		}
	})
}

func TestSearchSeeds(t *testing.T) {
	t.Parallel()
	seedArts, err := seeds.Articles()
	if err != nil {
		t.Fatal(err)
	}
	if len(seedArts) == 0 {
		t.Fatal("no seed articles")
	}
	var arts []*articlesv1.Article
	for i, a := range seedArts {
		a = proto.Clone(a).(*articlesv1.Article)
		a.Slug = fmt.Sprintf("seed-%d", i)
		arts = append(arts, a)
	}
	arts = append(arts, searchCorpus()...)
	db, _ := openSearch(t, arts)
	checked := 0
	for i, a := range seedArts {
		// The article's own title, as a phrase, finds it first.
		title := strings.Map(func(r rune) rune {
			if strings.ContainsRune("\"“”„‟«»*-", r) {
				return ' '
			}
			return r
		}, a.GetTitle())
		if len(search.Analyze(title)) < 2 || len(strings.Fields(title)) > search.MaxQueryWords {
			continue
		}
		checked++
		if got := slugs(doSearch(t, db, `"`+title+`"`, articles.Filter{}, 0, 3)); len(got) == 0 || got[0] != fmt.Sprintf("seed-%d", i) {
			t.Errorf("title phrase %q ranks %q first, want seed-%d", title, got, i)
		}
	}
	if checked == 0 {
		t.Fatal("no seed title was usable as a query")
	}
	// Words of the seed texts, with their typographic apostrophes.
	if got := doSearch(t, db, "Russia’s", articles.Filter{}, 0, 10); got.GetTotalSize() == 0 {
		t.Error(`"Russia’s" finds no seed article`)
	}
	if a, b := doSearch(t, db, "Russia’s", articles.Filter{}, 0, 100), doSearch(t, db, "russia's", articles.Filter{}, 0, 100); !slices.Equal(slugs(a), slugs(b)) {
		t.Errorf("Russia’s finds %q but russia's finds %q", slugs(a), slugs(b))
	}
}

// allResults returns every result of query, with scores, as comparable
// strings.
func allResults(t testing.TB, db *testDB, query string) []string {
	t.Helper()
	var out []string
	for _, r := range doSearch(t, db, query, articles.Filter{}, 0, 1000).GetResults() {
		out = append(out, fmt.Sprintf("%s %.9f %s", r.GetArticle().GetSlug(), r.GetScore(), r.GetSnippet()))
	}
	return out
}

// TestRebuildDamagedIndex damages the engine's file while the engine is
// closed, in each way Open must notice, and checks that the reopened
// engine rebuilds and answers as before.
func TestRebuildDamagedIndex(t *testing.T) {
	t.Parallel()
	queries := []string{"sanctions", `"climate change"`, "sanct*", "ICC’s", "local -harbour", "milosevic"}
	truncate := func(keep func(size int64) int64) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, keep(info.Size())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"Deleted", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		// Into the pages in use (a file's tail beyond them may be free).
		{"TruncatedToFourPages", truncate(func(int64) int64 { return 4 * 4096 })},
		{"TruncatedToOnePage", truncate(func(int64) int64 { return 4096 })},
		{"TruncatedToEmpty", truncate(func(int64) int64 { return 0 })},
		{"Garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("garbage!"), 4096), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"WreckedBuckets", func(t *testing.T, path string) {
			// Drop the postings, and leave garbage in the corpus stats.
			editFile(t, path, func(tx *bbolt.Tx) error {
				if err := tx.DeleteBucket([]byte("search_segments")); err != nil {
					return err
				}
				if _, err := tx.CreateBucket([]byte("search_segments")); err != nil {
					return err
				}
				return tx.Bucket([]byte("search_index")).Put([]byte("stats"), []byte{0xff})
			})
		}},
		{"OlderVersion", func(t *testing.T, path string) {
			editFile(t, path, func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte("meta")).Put([]byte("version"), binary.BigEndian.AppendUint64(nil, 1))
			})
		}},
		{"InterruptedRebuild", func(t *testing.T, path string) {
			editFile(t, path, func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte("meta")).Put([]byte("rebuild"), binary.BigEndian.AppendUint64(nil, 1))
			})
		}},
		{"DirtyFromAnotherBoot", func(t *testing.T, path string) {
			if err := os.WriteFile(path+".dirty", []byte("another boot\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "a.db")
			db := mustOpenPath(t, path)
			for _, a := range searchCorpus() {
				if _, err := db.Create(ctx, a, ""); err != nil {
					t.Fatal(err)
				}
			}
			before := map[string][]string{}
			for _, q := range queries {
				before[q] = allResults(t, db, q)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, path+".search")

			db = mustOpenPath(t, path)
			for _, q := range queries {
				if got := allResults(t, db, q); !slices.Equal(got, before[q]) {
					t.Errorf("after the rebuild, %q gives\n%q\nwant\n%q", q, got, before[q])
				}
			}
			if got := db.eng.Rebuilds(); got != 1 {
				t.Errorf("%d rebuilds, want 1", got)
			}
			// Writes keep being indexed.
			mustCreate(t, db, searchArt("late", "Late", "A sanctuary again."))
			if got := slugs(doSearch(t, db, "sanctuary", articles.Filter{}, 0, 10)); !sameSet(got, []string{"sanctuary", "late"}) {
				t.Errorf("after the rebuild and a create: %q", got)
			}
		})
	}
}

// TestReopenWithoutRebuild checks that a cleanly closed index, and one
// left dirty by a crash of this boot (the kernel kept its commits),
// resume without a rebuild.
func TestReopenWithoutRebuild(t *testing.T) {
	t.Parallel()
	for _, dirty := range []bool{false, true} {
		t.Run(fmt.Sprint("dirty=", dirty), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "a.db")
			db := mustOpenPath(t, path)
			mustCreate(t, db, searchArt("first", "First", "Pelicans."))
			before := allResults(t, db, "pelicans")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if dirty {
				boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
				if err != nil {
					t.Skip("no boot id on this system")
				}
				if err := os.WriteFile(path+".search.dirty", boot, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			db = mustOpenPath(t, path)
			if got := allResults(t, db, "pelicans"); !slices.Equal(got, before) {
				t.Errorf("after reopen: %q, want %q", got, before)
			}
			if got := db.eng.Rebuilds(); got != 0 {
				t.Errorf("%d rebuilds, want none", got)
			}
		})
	}
}

func TestReindex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	for _, a := range searchCorpus() {
		if _, err := db.Create(ctx, a, ""); err != nil {
			t.Fatal(err)
		}
	}
	queries := []string{"sanctions", `"climate change"`, "sanct*", "ICC’s", "local -harbour", "milosevic"}
	before := map[string][]string{}
	for _, q := range queries {
		before[q] = allResults(t, db, q)
	}
	// Reindex of a healthy index changes nothing, and writes keep working.
	if err := db.Reindex(ctx); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	for _, q := range queries {
		if got := allResults(t, db, q); !slices.Equal(got, before[q]) {
			t.Errorf("after Reindex, %q gives\n%q\nwant\n%q", q, got, before[q])
		}
	}
	if _, err := db.Create(ctx, searchArt("late", "Late", "A sanctuary again."), ""); err != nil {
		t.Fatal(err)
	}
	if got := slugs(doSearch(t, db, "sanctuary", articles.Filter{}, 0, 10)); !sameSet(got, []string{"sanctuary", "late"}) {
		t.Errorf("after Reindex and a create: %q", got)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Reindex(cctx); err == nil {
		t.Error("Reindex with a cancelled context succeeded")
	}
}

func TestSearchCancelled(t *testing.T) {
	t.Parallel()
	db, _ := openSearch(t, searchCorpus()[:3])
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q, _ := search.Parse("sanctions")
	if _, err := db.Search(ctx, q, articles.Filter{}, 0, 10); err == nil {
		t.Error("Search with a cancelled context succeeded")
	}
}

var (
	benchDocs   = flag.Int("search.docs", 2000, "articles in the BenchmarkSearch corpus")
	benchDBPath = flag.String("search.db", "", "BenchmarkSearch keeps its store in this file, and reuses it when it exists (building a 100,000-article corpus takes minutes)")
)

// benchCorpus returns n articles of about 5 KB of Zipf-distributed words,
// where "zyzzyva" occurs in 5 of them (a rare term), corpus.Word(1) in most
// (a common one), and corpus.Word(3) is mostly followed by corpus.Word(4) (a
// frequent phrase).
func benchCorpus(n int) []*articlesv1.Article {
	r := rand.New(rand.NewPCG(7, 7))
	zipf := rand.NewZipf(r, 1.1, 1, 50000)
	arts := make([]*articlesv1.Article, n)
	for i := range arts {
		var b strings.Builder
		for b.Len() < 5000 {
			w := zipf.Uint64()
			b.WriteString(corpus.Word(w))
			b.WriteByte(' ')
			if w == 3 {
				b.WriteString(corpus.Word(4) + " ")
			}
			if r.IntN(100) == 0 {
				b.WriteString(".\n\n")
			}
		}
		if i%(n/5+1) == 0 {
			b.WriteString("zyzzyva")
		}
		title := corpus.Word(zipf.Uint64()) + " " + corpus.Word(zipf.Uint64())
		arts[i] = searchArt(fmt.Sprintf("bench-%d", i), title, b.String())
		arts[i].PublishTime = timestamppb.New(time.Unix(int64(i)*3600, 0))
	}
	return arts
}

// BenchmarkSearch measures query latency over a generated corpus; set its
// size with -search.docs (the figures use 100000). Each query
// reports its p50 and p99 latency besides the mean, and the parent reports
// the size of the search index against that of the articles.
func BenchmarkSearch(b *testing.B) {
	fulltext.ProductionBounds(b)
	ctx := context.Background()
	var db *testDB
	reuse := false
	if *benchDBPath == "" {
		db = mustOpen(b)
	} else {
		_, err := os.Stat(*benchDBPath)
		reuse = err == nil
		db = mustOpenPath(b, *benchDBPath)
	}
	if !reuse {
		arts := benchCorpus(*benchDocs)
		start := time.Now()
		for chunk := range slices.Chunk(arts, 500) {
			if _, err := db.Import(ctx, chunk); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("imported %d articles in %v", len(arts), time.Since(start))
	}
	// Indexing is asynchronous: measure the complete index, its merges
	// done.
	if err := db.WaitIndexed(ctx); err != nil {
		b.Fatal(err)
	}
	waitMerges(b, db, 30*time.Minute, 100*time.Millisecond)
	sizes, err := db.eng.BucketSizes()
	if err != nil {
		b.Fatal(err)
	}
	var textBytes int64
	if err := db.List(ctx, articles.Query{}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		textBytes += int64(len(a.GetTitle()) + len(a.GetBody()))
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	segs, dead, err := db.SegmentStats()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("bytes: article text %d, search index %d (segments %d, docs %d); %d segments, %d dead documents",
		textBytes, sizes["search_segments"]+sizes["search_index"],
		sizes["search_segments"], sizes["search_index"], segs, dead)
	for _, bc := range []struct{ name, query string }{
		{"rare", "zyzzyva"},
		{"common", corpus.Word(1)},
		{"phrase", `"` + corpus.Word(3) + " " + corpus.Word(4) + `"`},
		{"two-words", corpus.Word(2) + " " + corpus.Word(5)},
		{"prefix", corpus.Word(12)[:3] + "*"},
	} {
		q, err := search.Parse(bc.query)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := db.Search(ctx, q, articles.Filter{}, 0, 20); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(sizes["search_segments"]+sizes["search_index"])/float64(textBytes), "index/text")
		})
	}
}

func TestSearchConsistentUnderWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, bySlug := openSearch(t, searchCorpus())
	id := bySlug["climate-apart"].GetId()
	done := make(chan error, 1)
	go func() {
		// Flip the article between two texts; a search must only ever
		// see the version it matches.
		for i := range 20 {
			body := "alpha version of the text"
			if i%2 == 1 {
				body = "beta version of the text"
			}
			if _, err := db.Update(ctx, id, "", func(a *articlesv1.Article) error {
				a.Body = body
				return nil
			}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 20 {
		for _, word := range []string{"alpha", "beta"} {
			for _, r := range doSearch(t, db, word, articles.Filter{}, 0, 10).GetResults() {
				if body := r.GetArticle().GetBody(); !strings.Contains(body, word) {
					t.Fatalf("search for %q returned the version %q", word, body)
				}
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestReindexDuringWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	var batch []*articlesv1.Article
	for i := range 450 { // more than two Reindex batches (of 200)
		batch = append(batch, searchArt(fmt.Sprintf("r-%d", i), "Report", fmt.Sprintf("Report number %d about the harbour.", i)))
	}
	if _, err := db.Import(ctx, batch); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- db.Reindex(ctx) }()
	// Writes racing the Reindex: new articles, texts changed, deletions.
	for i := range 10 {
		if _, err := db.Create(ctx, searchArt(fmt.Sprintf("new-%d", i), "New", "A zeppelin over the harbour."), ""); err != nil {
			t.Fatal(err)
		}
		a, err := db.GetBySlug(ctx, fmt.Sprintf("r-%d", i*40))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			err = db.Delete(ctx, a.GetId(), "")
		} else {
			_, err = db.Update(ctx, a.GetId(), "", func(a *articlesv1.Article) error {
				a.Body = "A zeppelin report."
				return nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	if got := doSearch(t, db, "harbour", articles.Filter{}, 0, 0).GetTotalSize(); got != 450-10+10 {
		t.Errorf("harbour: total_size %d, want %d", got, 450)
	}
	if got := doSearch(t, db, "zeppelin", articles.Filter{}, 0, 0).GetTotalSize(); got != 15 {
		t.Errorf("zeppelin: total_size %d, want 15", got)
	}
	if got := doSearch(t, db, "report", articles.Filter{}, 0, 0).GetTotalSize(); got != 450-5 {
		t.Errorf("report: total_size %d, want %d", got, 450-5)
	}
}

func TestSearchRareAndCommonWords(t *testing.T) {
	t.Parallel()
	// "common" is in every article and far more frequent than "rare", so
	// it is probed per candidate rather than read in full; results must be
	// the same either way.
	var arts []*articlesv1.Article
	for i := range 40 {
		body := "A common story."
		if i%20 == 0 {
			body = "A common story, and a rare one."
		}
		arts = append(arts, searchArt(fmt.Sprintf("s-%d", i), "Story", body))
	}
	db, _ := openSearch(t, arts)
	tests := []struct {
		query string
		want  []string
	}{
		{"rare common", []string{"s-0", "s-20"}},
		{"common rare", []string{"s-0", "s-20"}},
		{`rare "common story"`, []string{"s-0", "s-20"}},
		{"rare -common", nil},
		{"rare -story*", nil},
		{"rare -absent", []string{"s-0", "s-20"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			if got := slugs(doSearch(t, db, tt.query, articles.Filter{}, 0, 10)); !sameSet(got, tt.want) {
				t.Errorf("Search(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
	if got := doSearch(t, db, "common -rare", articles.Filter{}, 0, 0).GetTotalSize(); got != 38 {
		t.Errorf("common -rare: total_size %d, want 38", got)
	}
}

// BenchmarkBuildSegment builds the segment of a batch of 64 articles, as
// the indexer does under a stream of single writes, and of 1,000, as
// under an import, after the process's dictionary has met the vocabulary
// of 2,000 others.
func BenchmarkBuildSegment(b *testing.B) {
	arts := benchCorpus(3000)
	fulltext.SegmentBuilder(arts[:2000])
	for _, n := range []int{64, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			build := fulltext.SegmentBuilder(arts[2000 : 2000+n])
			b.ReportAllocs()
			runs, cpu0 := 0, cpuTime(b)
			for b.Loop() {
				build()
				runs++
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(runs*n), "cpu-ns/article")
		})
	}
}
