package fulltext_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
	"github.com/seed9c1868aa/articles/store"
)

// numbered returns n articles, each with the word "common" and its own
// word "uniqN".
func numbered(prefix string, n int) []*articlesv1.Article {
	out := make([]*articlesv1.Article, n)
	for i := range out {
		out[i] = searchArt(fmt.Sprintf("%s-%d", prefix, i), "Common heading",
			fmt.Sprintf("A common body with uniq%d in it.", i))
	}
	return out
}

// importAll imports arts in the server's batches of 500.
func importAll(t *testing.T, db *testDB, arts []*articlesv1.Article) {
	t.Helper()
	for i := 0; i < len(arts); i += 500 {
		resp, err := db.Import(context.Background(), arts[i:min(i+500, len(arts))])
		if err != nil || len(resp.Failures) > 0 {
			t.Fatalf("Import: %v, %v", resp, err)
		}
	}
}

func TestSearchSeesLargeImportAtOnce(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	const n = 1500
	importAll(t, db, numbered("imp", n))
	// No waiting: Search itself waits for the indexer.
	if got := doSearch(t, db, "common", articles.Filter{}, 0, 0).GetTotalSize(); got != n {
		t.Errorf("total_size = %d, want %d", got, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		q := fmt.Sprintf("uniq%d", i)
		want := fmt.Sprintf("imp-%d", i)
		if got := slugs(doSearch(t, db, q, articles.Filter{}, 0, 10)); len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %v, want [%s]", q, got, want)
		}
	}
	resp := doSearch(t, db, "common", articles.Filter{}, 0, 1)
	rev, err := db.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRevision() != rev {
		t.Errorf("revision = %d, want the store's %d", resp.GetRevision(), rev)
	}
}

func TestSearchWaitsForIndexerWithinContext(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	resume := db.PauseIndexer()
	mustCreate(t, db, searchArt("late", "Late heading", "Walruses arrive late."))
	q, err := search.Parse("walruses")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := db.Search(ctx, q, articles.Filter{}, 0, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Search with the index behind: err = %v, want DeadlineExceeded", err)
	}
	resume()
	if got := slugs(doSearch(t, db, "walruses", articles.Filter{}, 0, 10)); len(got) != 1 || got[0] != "late" {
		t.Errorf("after resume: got %v, want [late]", got)
	}
}

// TestSearchUnderConcurrentWrites updates and deletes articles while
// searching: a result is never an article deleted before the search
// began, nor older than its last write acknowledged before it began.
func TestSearchUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	const n = 20
	type state struct {
		rev     int64
		deleted bool
	}
	var mu sync.Mutex
	acked := map[string]state{}
	ids := make([]string, n)
	for i := range n {
		a := mustCreate(t, db, searchArt(fmt.Sprintf("c-%d", i), "Heading", fmt.Sprintf("alpha version zero %d", i)))
		ids[i] = a.GetId()
		acked[a.GetId()] = state{rev: a.GetRevision()}
	}
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < 200 && time.Now().Before(deadline); i++ {
			id := ids[i%n]
			if i%n == n-1 || i >= 150 && i%2 == 0 {
				err := db.Delete(ctx, id, "")
				if err != nil && !errors.Is(err, articles.ErrNotFound) {
					t.Errorf("Delete: %v", err)
					return
				}
				mu.Lock()
				acked[id] = state{deleted: true}
				mu.Unlock()
				continue
			}
			a, err := db.Update(ctx, id, "", func(a *articlesv1.Article) error {
				a.Body = fmt.Sprintf("alpha version %d", i)
				return nil
			})
			if errors.Is(err, articles.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Errorf("Update: %v", err)
				return
			}
			mu.Lock()
			acked[id] = state{rev: a.GetRevision()}
			mu.Unlock()
		}
	})
	failed := false
	for s := 0; s < 100 && !failed && time.Now().Before(deadline); s++ {
		mu.Lock()
		before := make(map[string]state, len(acked))
		for k, v := range acked {
			before[k] = v
		}
		mu.Unlock()
		resp := doSearch(t, db, "alpha", articles.Filter{}, 0, n)
		for _, r := range resp.GetResults() {
			a := r.GetArticle()
			st := before[a.GetId()]
			switch {
			case st.deleted:
				failed = true
				t.Errorf("search %d returned %s, deleted before it began", s, a.GetSlug())
			case a.GetRevision() < st.rev:
				failed = true
				t.Errorf("search %d returned %s at revision %d, older than the acknowledged %d", s, a.GetSlug(), a.GetRevision(), st.rev)
			}
		}
	}
	wg.Wait()
}

func TestIndexerCatchesUpAfterReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	importAll(t, db, numbered("first", 100))
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	db.PauseIndexer()
	importAll(t, db, numbered("second", 300))
	rev, err := db.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := db.IndexedRevision(); got >= rev {
		t.Fatalf("indexed revision %d is not behind the store's %d", got, rev)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenPath(t, path)
	if got := doSearch(t, db, "common", articles.Filter{}, 0, 0).GetTotalSize(); got != 400 {
		t.Errorf("after reopen: total_size = %d, want 400", got)
	}
	if got := slugs(doSearch(t, db, "uniq299", articles.Filter{}, 0, 10)); len(got) != 1 || got[0] != "second-299" {
		t.Errorf("uniq299: got %v, want [second-299]", got)
	}
}

// TestRebuildWhenBehindCompactedLog holds the engine back while the store
// compacts its change log past the engine's revision: the engine then
// rebuilds from the articles, and searches give the full answers.
func TestRebuildWhenBehindCompactedLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t, store.WithHistory(10))
	mustCreate(t, db, searchArt("first", "First", "common words"))
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	rebuilds := db.eng.Rebuilds()
	resume := db.PauseIndexer()
	importAll(t, db, numbered("c", 200))
	indexed := db.IndexedRevision()
	// The compactor does not wait for the engine.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mustCreate(t, db, searchArt(fmt.Sprintf("more-%d", time.Now().UnixNano()), "More", "more words"))
		if _, err := db.Changes(ctx, indexed+1, 1); errors.Is(err, articles.ErrCompacted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the change log was not compacted past %d", indexed)
		}
	}
	resume()
	if got := doSearch(t, db, "common", articles.Filter{}, 0, 0).GetTotalSize(); got != 201 {
		t.Errorf("total_size = %d, want 201", got)
	}
	if got := db.eng.Rebuilds(); got != rebuilds+1 {
		t.Errorf("%d rebuilds, want %d", got-rebuilds, 1)
	}
}

func TestReindexThenWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	a := mustCreate(t, db, searchArt("a", "Heading", "Walruses swim."))
	b := mustCreate(t, db, searchArt("b", "Heading", "Pelicans fly."))
	if err := db.Reindex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error {
		x.Body = "Herons wade."
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(ctx, b.GetId(), ""); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, searchArt("c", "Heading", "Walruses return."))
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"herons", []string{"a"}},
		{"walruses", []string{"c"}},
		{"pelicans", nil},
		{"heading", []string{"a", "c"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			got := slugs(doSearch(t, db, tc.query, articles.Filter{}, 0, 10))
			if fmt.Sprint(slices.Sorted(slices.Values(got))) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
