package fulltext_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/seed9c1868aa/articles/fulltext"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// segmentQueries exercise every kind of clause, and filters.
var segmentQueries = []struct {
	query  string
	filter articles.Filter
}{
	{query: "sanctions"},
	{query: `"climate change"`},
	{query: "sanct*"},
	{query: "local -harbour"},
	{query: "market energy"},
	{query: "milosevic"},
	{query: "herons"},
	{query: "walruses"},
	{query: "news", filter: articles.Filter{Tag: "politics"}},
	{query: "market", filter: articles.Filter{Author: "Bea Writer"}},
}

// searchState returns every result (slug, score, snippet) of every
// segment query, and each query's total_size.
func searchState(t *testing.T, db *testDB) []string {
	t.Helper()
	var out []string
	for _, q := range segmentQueries {
		resp := doSearch(t, db, q.query, q.filter, 0, 1000)
		out = append(out, fmt.Sprintf("%s: %d", q.query, resp.GetTotalSize()))
		for _, r := range resp.GetResults() {
			out = append(out, fmt.Sprintf("  %s %.9f %s", r.GetArticle().GetSlug(), r.GetScore(), r.GetSnippet()))
		}
	}
	return out
}

// segmentStats returns db's numbers of segments and dead documents.
func segmentStats(t *testing.T, db *testDB) (int, int) {
	t.Helper()
	segs, dead, err := db.SegmentStats()
	if err != nil {
		t.Fatal(err)
	}
	return segs, dead
}

// writeInSegments imports the search corpus in two writes, waiting for
// the indexer after each so that each is its own segment, then updates and
// deletes articles of them and imports extra, indexed as a third segment.
// Three segments with a few dead documents each are fewer than the indexer
// merges by itself. It returns the articles by slug.
func writeInSegments(t *testing.T, db *testDB, extra ...*articlesv1.Article) map[string]*articlesv1.Article {
	t.Helper()
	ctx := context.Background()
	for chunk := range slices.Chunk(searchCorpus(), 20) {
		importAll(t, db, chunk)
		if err := db.WaitIndexed(ctx); err != nil {
			t.Fatal(err)
		}
	}
	bySlug := map[string]*articlesv1.Article{}
	for _, a := range searchCorpus() {
		got, err := db.GetBySlug(ctx, a.GetSlug())
		if err != nil {
			t.Fatal(err)
		}
		bySlug[a.GetSlug()] = got
	}
	resume := db.PauseIndexer() // one batch for all that follows
	update := func(slug string, fn func(a *articlesv1.Article)) {
		t.Helper()
		a, err := db.Update(ctx, bySlug[slug].GetId(), "", func(a *articlesv1.Article) error {
			fn(a)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		bySlug[slug] = a
	}
	update("sanctuary", func(a *articlesv1.Article) { a.Body = "Herons wade in the sanctuary marshes." })
	update("filler-3", func(a *articlesv1.Article) { a.Title = "Walruses in the harbour" })
	update("body-sanctions", func(a *articlesv1.Article) { a.Authors = []string{"Bea Writer"} })
	update("sanctuary", func(a *articlesv1.Article) { a.Body += " Walruses too." })
	for _, slug := range []string{"milosevic", "filler-7"} {
		if err := db.Delete(ctx, bySlug[slug].GetId(), ""); err != nil {
			t.Fatal(err)
		}
		delete(bySlug, slug)
	}
	importAll(t, db, extra)
	for _, a := range extra {
		got, err := db.GetBySlug(ctx, a.GetSlug())
		if err != nil {
			t.Fatal(err)
		}
		bySlug[a.GetSlug()] = got
	}
	resume()
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	return bySlug
}

// TestSegmentsMergeLikeReindex checks that merging segments changes no
// search result, total or score: an index of many segments holding dead
// postings, the same merged into one, and a fresh Reindex answer alike.
func TestSegmentsMergeLikeReindex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	writeInSegments(t, db)
	if segs, dead := segmentStats(t, db); segs < 2 || dead == 0 {
		t.Fatalf("%d segments, %d dead documents: the test needs several segments and dead postings", segs, dead)
	}
	want := searchState(t, db)
	checkCanonical(t, db)

	if err := db.MergeAll(ctx); err != nil {
		t.Fatalf("MergeAll: %v", err)
	}
	if segs, dead := segmentStats(t, db); segs != 1 || dead != 0 {
		t.Errorf("after MergeAll: %d segments, %d dead documents; want 1, 0", segs, dead)
	}
	checkCanonical(t, db)
	if got := searchState(t, db); !slices.Equal(got, want) {
		t.Errorf("after MergeAll:\n%q\nwant\n%q", got, want)
	}

	if err := db.Reindex(ctx); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	if got := searchState(t, db); !slices.Equal(got, want) {
		t.Errorf("after Reindex:\n%q\nwant\n%q", got, want)
	}
}

// checkCanonical fails t unless every posting list of db's segments is
// encoded as encoding its entries afresh would: a merge copies most
// entries as they are stored, and must leave lists as building them in
// one segment does.
func checkCanonical(t *testing.T, db *testDB) {
	t.Helper()
	n, err := db.CheckListsCanonical()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no posting lists to check")
	}
}

// TestSegmentsUpdatesAndDeletes checks what searches find after updates
// and deletes of articles indexed in earlier segments, before and after a
// merge.
func TestSegmentsUpdatesAndDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	writeInSegments(t, db)
	tests := []struct {
		query string
		want  []string
	}{
		{"herons", []string{"sanctuary"}},
		{"walruses", []string{"sanctuary", "filler-3"}},
		{"migrating", nil}, // sanctuary's old text
		{"milosevic", nil}, // deleted
		{"tribunal", nil},  // deleted
		{"sanctuary", []string{"sanctuary"}},
		{"sanctions", []string{"title-sanctions", "body-sanctions", "sanctioned"}},
	}
	check := func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				resp := doSearch(t, db, tt.query, articles.Filter{}, 0, 100)
				if got := slugs(resp); !sameSet(got, tt.want) {
					t.Errorf("Search(%q) = %q, want %q", tt.query, got, tt.want)
				}
				if int(resp.GetTotalSize()) != len(tt.want) {
					t.Errorf("Search(%q): total_size %d, want %d", tt.query, resp.GetTotalSize(), len(tt.want))
				}
			})
		}
		filtered := doSearch(t, db, "sanctions", articles.Filter{Author: "Bea Writer"}, 0, 100)
		if got := slugs(filtered); !slices.Equal(got, []string{"body-sanctions"}) {
			t.Errorf("sanctions by Bea Writer = %q, want [body-sanctions]", got)
		}
	}
	t.Run("segments", check)
	if err := db.MergeAll(ctx); err != nil {
		t.Fatalf("MergeAll: %v", err)
	}
	t.Run("merged", check)
}

// TestSegmentsSurviveReopen closes the store between indexing batches and
// in the middle of a merge (each step is a transaction, so this is what a
// crash leaves): reopened, it answers as before, finishes the merge, and
// keeps indexing.
func TestSegmentsSurviveReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := openTestDB(path)
	if err != nil {
		t.Fatal(err)
	}
	// Three writes: fewer segments than the indexer merges by itself.
	for i, chunk := range slices.Collect(slices.Chunk(searchCorpus(), 13)) {
		if i == 1 { // closed with the indexer behind
			db.PauseIndexer()
		}
		importAll(t, db, chunk)
		if i != 1 {
			if err := db.WaitIndexed(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if db, err = openTestDB(path); err != nil {
			t.Fatal(err)
		}
	}
	want := searchState(t, db)
	if segs, _ := segmentStats(t, db); segs < 2 {
		t.Fatalf("%d segments: the test needs several", segs)
	}
	if worked, err := db.MergeStep(); err != nil || !worked {
		t.Fatalf("MergeStep = %v, %v; want a step done", worked, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenPath(t, path)
	if got := searchState(t, db); !slices.Equal(got, want) {
		t.Errorf("reopened mid-merge:\n%q\nwant\n%q", got, want)
	}
	if err := db.MergeAll(ctx); err != nil {
		t.Fatalf("MergeAll: %v", err)
	}
	if got := searchState(t, db); !slices.Equal(got, want) {
		t.Errorf("merge finished after reopening:\n%q\nwant\n%q", got, want)
	}
	mustCreate(t, db, searchArt("late", "Late", "Pelicans arrive late."))
	if got := slugs(doSearch(t, db, "pelicans", articles.Filter{}, 0, 10)); !slices.Equal(got, []string{"late"}) {
		t.Errorf("pelicans after reopening = %q, want [late]", got)
	}
}

// TestOpenUpgradesTermOrderedIndex opens a store file of schema version 1,
// whose full-text index had one bucket per term, and which also holds
// the buckets of the in-store segment index of version 2: the store drops
// them all, and the engine's own file answers as before.
func TestOpenUpgradesTermOrderedIndex(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	importAll(t, db, searchCorpus())
	want := searchState(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Turn the file into one of version 1: its index buckets, a term
	// bucket with a posting, and the version.
	editFile(t, path, func(tx *bbolt.Tx) error {
		for _, name := range []string{"search_segments", "search_index"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("stats"), []byte{1, 2, 3, 4}); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("indexed"), binary.BigEndian.AppendUint64(nil, 1)); err != nil {
			return err
		}
		post, err := tx.CreateBucket([]byte("search_postings"))
		if err != nil {
			return err
		}
		term, err := post.CreateBucket([]byte("sanction"))
		if err != nil {
			return err
		}
		if err := term.Put([]byte{0, 0, 0, 1}, []byte{1, 2, 0, 1, 0}); err != nil {
			return err
		}
		docs, err := tx.CreateBucket([]byte("search_docs"))
		if err != nil {
			return err
		}
		if err := docs.Put([]byte("stats"), []byte{1, 2, 3, 2}); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, 1))
	})

	db, err := openTestDB(path)
	if err != nil {
		t.Fatalf("Open of a version 1 file: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		due, err := db.RebuildPending()
		if err != nil {
			t.Fatal(err)
		}
		if !due {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rebuild after the upgrade did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := searchState(t, db); !slices.Equal(got, want) {
		t.Errorf("after the upgrade:\n%q\nwant\n%q", got, want)
	}
	mustCreate(t, db, searchArt("late", "Late", "Pelicans arrive late."))
	if got := slugs(doSearch(t, db, "pelicans", articles.Filter{}, 0, 10)); !slices.Equal(got, []string{"late"}) {
		t.Errorf("pelicans after the upgrade = %q, want [late]", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.View(func(tx *bbolt.Tx) error {
		for _, name := range []string{"search_postings", "search_docs", "search_segments", "search_index"} {
			if tx.Bucket([]byte(name)) != nil {
				t.Errorf("bucket %s of an older version is still there", name)
			}
		}
		if tx.Bucket([]byte("meta")).Get([]byte("indexed")) != nil {
			t.Error("meta key indexed of an older version is still there")
		}
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema_version")); binary.BigEndian.Uint64(v) != 4 {
			t.Errorf("schema version %x, want 4", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSegmentsDropDeadPostings checks that the indexer, once idle, merges
// away the postings of replaced and deleted articles by itself.
func TestSegmentsDropDeadPostings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	arts := numbered("d", 30)
	importAll(t, db, arts)
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	// What follows is indexed as one batch: its kills all precede the
	// merge they cause.
	resume := db.PauseIndexer()
	var batch []*articlesv1.Article
	for i, a := range arts[:20] {
		b := proto.Clone(a).(*articlesv1.Article)
		b.Body = fmt.Sprintf("A rewritten body with fresh%d in it.", i)
		batch = append(batch, b)
	}
	importAll(t, db, batch) // updates by slug
	for _, slug := range []string{"d-25", "d-26"} {
		a, err := db.GetBySlug(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Delete(ctx, a.GetId(), ""); err != nil {
			t.Fatal(err)
		}
	}
	resume()
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, dead := segmentStats(t, db); dead == 0 {
			break
		}
		if time.Now().After(deadline) {
			segs, dead := segmentStats(t, db)
			t.Fatalf("%d segments still hold %d dead documents", segs, dead)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, tc := range []struct {
		query string
		want  int32
	}{{"common", 28}, {"uniq3", 0}, {"fresh3", 1}, {"uniq22", 1}, {"uniq25", 0}} {
		if got := doSearch(t, db, tc.query, articles.Filter{}, 0, 0).GetTotalSize(); got != tc.want {
			t.Errorf("%s: total_size %d, want %d", tc.query, got, tc.want)
		}
	}
}

// wantLens returns the title and body lengths in tokens that the index
// should hold for a: its indexed (non-stop) words.
func wantLens(a *articlesv1.Article) [2]int {
	return [2]int{len(search.Analyze(a.GetTitle())), len(search.Analyze(a.GetBody()))}
}

// checkDocLens checks that the length tables of db's segments hold the
// lengths of every live article of bySlug that has indexed words, and none
// or zeros for those without.
func checkDocLens(t *testing.T, db *testDB, bySlug map[string]*articlesv1.Article) {
	t.Helper()
	lens, err := db.DocLens()
	if err != nil {
		t.Fatalf("DocLens: %v", err)
	}
	for slug, a := range bySlug {
		want := wantLens(a)
		got, ok := lens[a.GetId()]
		switch {
		case want == [2]int{}:
			if ok && got != want {
				t.Errorf("%s has no indexed words but lengths %v", slug, got)
			}
		case !ok:
			t.Errorf("%s: no length table entry", slug)
		case got != want:
			t.Errorf("%s: lengths %v, want %v", slug, got, want)
		}
	}
}

// TestSegmentDocLengthTable checks the document length table of each
// segment (written by a batch, by a merge resumed after a reopen, and by
// Reindex) against the lengths of the articles, including updated ones,
// and ones without indexed words between others of a segment (a gap in
// its table).
func TestSegmentDocLengthTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := openTestDB(path)
	if err != nil {
		t.Fatal(err)
	}
	// Imported in one batch: no-words, without indexed words, is a gap
	// in its segment's range.
	bySlug := writeInSegments(t, db,
		searchArt("gap-before", "Pelicans", "Pelicans nest on the cliffs of the island every spring."),
		searchArt("no-words", "The", "of the and"),
		searchArt("gap-after", "A very long title about herons and pelicans and walruses", "Short."),
		searchArt("title-only", "Lonely title words", ""),
	)
	if l := wantLens(bySlug["no-words"]); l != [2]int{} {
		t.Fatalf("no-words has %v indexed words: the test needs none", l)
	}

	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"segments", func(t *testing.T) {
			if segs, dead := segmentStats(t, db); segs < 2 || dead == 0 {
				t.Fatalf("%d segments, %d dead documents: the test needs several segments and dead postings", segs, dead)
			}
		}},
		{"reopened mid-merge", func(t *testing.T) {
			if worked, err := db.MergeStep(); err != nil || !worked {
				t.Fatalf("MergeStep = %v, %v; want a step done", worked, err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if db, err = openTestDB(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"merged", func(t *testing.T) {
			if err := db.MergeAll(ctx); err != nil {
				t.Fatalf("MergeAll: %v", err)
			}
			if segs, dead := segmentStats(t, db); segs != 1 || dead != 0 {
				t.Errorf("after MergeAll: %d segments, %d dead documents; want 1, 0", segs, dead)
			}
		}},
		{"reindexed", func(t *testing.T) {
			if err := db.Reindex(ctx); err != nil {
				t.Fatalf("Reindex: %v", err)
			}
			if err := db.WaitIndexed(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.do(t)
			checkDocLens(t, db, bySlug)
		})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSegmentScoresFromDocLengths checks the scores of single-word queries
// against BM25 computed here from the articles' texts, in an index of
// several segments with dead postings, merged, and reindexed: the field
// lengths scoring reads from the segments' length tables must be the
// articles'. (Comparing merged and reindexed indexes alone would not see
// lengths wrong in both alike.)
func TestSegmentScoresFromDocLengths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	bySlug := writeInSegments(t, db)

	// expected returns each live article's score for a one-term query.
	expected := func(t *testing.T, query string) map[string]float64 {
		t.Helper()
		q, err := search.Parse(query)
		if err != nil || len(q.Clauses) != 1 || len(q.Clauses[0].Terms) != 1 {
			t.Fatalf("Parse(%q) = %v, %v; want one term", query, q, err)
		}
		term := q.Clauses[0].Terms[0]
		var titleSum, bodySum int64
		type match struct{ title, body, titleLen, bodyLen int }
		matches := map[string]match{}
		for slug, a := range bySlug {
			l := wantLens(a)
			titleSum += int64(l[0])
			bodySum += int64(l[1])
			m := match{titleLen: l[0], bodyLen: l[1]}
			for _, tok := range search.Analyze(a.GetTitle()) {
				if tok.Term == term {
					m.title++
				}
			}
			for _, tok := range search.Analyze(a.GetBody()) {
				if tok.Term == term {
					m.body++
				}
			}
			if m.title+m.body > 0 {
				matches[slug] = m
			}
		}
		scorer := search.NewScorer(len(bySlug), titleSum, bodySum)
		idf := scorer.IDF(len(matches))
		want := map[string]float64{}
		for slug, m := range matches {
			want[slug] = scorer.Score(idf, m.title, m.body, m.titleLen, m.bodyLen)
		}
		return want
	}
	check := func(t *testing.T) {
		for _, query := range []string{"sanctions", "walruses", "market", "harbour", "court", "climate"} {
			want := expected(t, query)
			if len(want) == 0 {
				t.Fatalf("%s matches nothing: the test needs matches", query)
			}
			resp := doSearch(t, db, query, articles.Filter{}, 0, 1000)
			if int(resp.GetTotalSize()) != len(want) {
				t.Errorf("%s: total_size %d, want %d", query, resp.GetTotalSize(), len(want))
			}
			for _, r := range resp.GetResults() {
				slug := r.GetArticle().GetSlug()
				w, ok := want[slug]
				if !ok {
					t.Errorf("%s: unexpected result %s", query, slug)
					continue
				}
				if math.Abs(r.GetScore()-w) > 1e-9*math.Abs(w) {
					t.Errorf("%s: %s scores %.12f, want %.12f", query, slug, r.GetScore(), w)
				}
			}
		}
	}
	t.Run("segments", check)
	if err := db.MergeAll(ctx); err != nil {
		t.Fatalf("MergeAll: %v", err)
	}
	t.Run("merged", check)
	if err := db.Reindex(ctx); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	t.Run("reindexed", check)
}

// TestOpenRebuildsOlderIndexVersion opens a file whose index is of index
// version 4 (segments holding each term under its own key rather than in
// chunks): Open drops the index and the indexer rebuilds it from the
// articles, in the current layout.
func TestOpenRebuildsOlderIndexVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	bySlug := writeInSegments(t, db)
	want := searchState(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Make the index one of version 4: each chunk's terms under their own
	// keys, and the version (the last uvarint of the corpus stats).
	editFile(t, path+".search", func(tx *bbolt.Tx) error {
		segs := tx.Bucket([]byte("search_segments"))
		err := segs.ForEachBucket(func(k []byte) error {
			b := segs.Bucket(k)
			type chunk struct{ key, val []byte }
			var chunks []chunk
			err := b.ForEach(func(k, v []byte) error {
				if k[0] == 1 {
					chunks = append(chunks, chunk{bytes.Clone(k), bytes.Clone(v)})
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(chunks) == 0 {
				return fmt.Errorf("segment %x has no chunks", k)
			}
			for _, c := range chunks {
				terms, lists, err := fulltext.ChunkEntries(c.val)
				if err != nil {
					return err
				}
				if err := b.Delete(c.key); err != nil {
					return err
				}
				for i, term := range terms {
					if err := b.Put([]byte(term), lists[i]); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		root := tx.Bucket([]byte("search_index"))
		stats := bytes.Clone(root.Get([]byte("stats")))
		if len(stats) == 0 || stats[len(stats)-1] != 6 {
			return fmt.Errorf("stats %x do not end in index version 6", stats)
		}
		stats[len(stats)-1] = 4
		return root.Put([]byte("stats"), stats)
	})

	db, err := openTestDB(path)
	if err != nil {
		t.Fatalf("Open of an index of version 4: %v", err)
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		due, err := db.RebuildPending()
		if err != nil {
			t.Fatal(err)
		}
		if !due {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rebuild after the upgrade did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := searchState(t, db); !slices.Equal(got, want) {
		t.Errorf("after the rebuild:\n%q\nwant\n%q", got, want)
	}
	checkDocLens(t, db, bySlug)
	if segs, dead := segmentStats(t, db); segs == 0 || dead != 0 {
		t.Errorf("after the rebuild: %d segments, %d dead documents; want some, 0", segs, dead)
	}
}
