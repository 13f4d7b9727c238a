package fulltext_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/fulltext"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
	"github.com/seed9c1868aa/articles/store"
	"go.etcd.io/bbolt"
)

// The engine must keep accepting both backends as its feed.
var _ fulltext.Feed = (*store.DB)(nil)

// testDB is a bbolt store with a full-text engine following it: what the
// tests write to and search. Its Search answers as the server does.
type testDB struct {
	*store.DB
	eng  *fulltext.Engine
	path string // the store's file; the engine's is path + ".search"
	once sync.Once
}

// mustOpen opens a store and its engine in a temporary directory, closed
// at cleanup.
func mustOpen(t testing.TB, opts ...store.Option) *testDB {
	t.Helper()
	return mustOpenPath(t, filepath.Join(t.TempDir(), "a.db"), opts...)
}

// mustOpenPath opens the store at path and its engine beside it, closed at
// cleanup.
func mustOpenPath(t testing.TB, path string, opts ...store.Option) *testDB {
	t.Helper()
	tdb, err := openTestDB(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tdb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tdb
}

// Close closes the engine, then the store.
func (db *testDB) Close() error {
	var err error
	db.once.Do(func() {
		err = errors.Join(db.eng.Close(), db.DB.Close())
	})
	return err
}

// Search is SearchArticles without the wire: the engine ranks, the
// articles of the page are loaded from the store (ranking again, up to
// three times, if writes during the call changed them), with a snippet.
func (db *testDB) Search(ctx context.Context, q *search.Query, f articles.Filter, offset, limit int) (*articlesv1.SearchArticlesResponse, error) {
	var (
		res  *search.Results
		page []*articlesv1.Article
		hits []search.Hit
	)
	for attempt := 1; ; attempt++ {
		var err error
		if res, err = db.eng.Search(ctx, q, f, offset, limit); err != nil {
			return nil, err
		}
		page, hits = nil, nil
		changed := false
		for _, h := range res.Hits {
			a, err := db.Get(ctx, h.ID)
			if err != nil && !errors.Is(err, articles.ErrNotFound) {
				return nil, err
			}
			if a == nil || a.GetRevision() > res.Revision {
				changed = true
				continue
			}
			page = append(page, a)
			hits = append(hits, h)
		}
		if !changed || attempt == 3 {
			break
		}
	}
	resp := &articlesv1.SearchArticlesResponse{TotalSize: int32(min(res.Total, math.MaxInt32)), Revision: res.Revision}
	for i, a := range page {
		text := a.GetBody()
		if strings.TrimSpace(text) == "" {
			text = a.GetSummary()
		}
		resp.Results = append(resp.Results, &articlesv1.SearchResult{Article: a, Score: hits[i].Score, Snippet: search.Snippet(text, q, 0)})
	}
	return resp, nil
}

// WaitIndexed waits until the index reflects every write so far.
func (db *testDB) WaitIndexed(ctx context.Context) error { return db.eng.WaitCurrent(ctx) }

// Reindex rebuilds the index and waits for it to catch up.
func (db *testDB) Reindex(ctx context.Context) error { return db.eng.Rebuild(ctx) }

// IndexedRevision returns the revision the index reflects.
func (db *testDB) IndexedRevision() int64 { return db.eng.Revision() }

// The engine's test hooks (export_test.go).

func (db *testDB) PauseIndexer() func()                { return db.eng.PauseIndexer() }
func (db *testDB) MergeAll(ctx context.Context) error  { return db.eng.MergeAll(ctx) }
func (db *testDB) MergeStep() (bool, error)            { return db.eng.MergeStep() }
func (db *testDB) CheckListsCanonical() (int, error)   { return db.eng.CheckListsCanonical() }
func (db *testDB) SegmentStats() (int, int, error)     { return db.eng.SegmentStats() }
func (db *testDB) RebuildPending() (bool, error)       { return db.eng.RebuildPending() }
func (db *testDB) MergesPending() (bool, error)        { return db.eng.MergesPending() }
func (db *testDB) DocLens() (map[string][2]int, error) { return db.eng.DocLens() }
func (db *testDB) SegmentList(i int, term string) ([]byte, error) {
	return db.eng.SegmentList(i, term)
}
func (db *testDB) SegmentTerms(i int, from string, after bool, n int) ([]string, [][]byte, error) {
	return db.eng.SegmentTerms(i, from, after, n)
}
func (db *testDB) SegmentChunks() ([][]fulltext.SegmentChunk, error) {
	return db.eng.SegmentChunks()
}

func mustCreate(t testing.TB, db *testDB, a *articlesv1.Article) *articlesv1.Article {
	t.Helper()
	got, err := db.Create(context.Background(), a, "")
	if err != nil {
		t.Fatalf("Create(%q): %v", a.GetSlug(), err)
	}
	return got
}

// editFile changes the closed bbolt file at path behind its owner's back,
// in one transaction.
func editFile(t *testing.T, path string, fn func(*bbolt.Tx) error) {
	t.Helper()
	bdb, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(fn); err != nil {
		bdb.Close()
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
}

// openTestDB opens the store at path and its engine beside it; the
// caller closes it.
func openTestDB(path string, opts ...store.Option) (*testDB, error) {
	db, err := store.Open(path, opts...)
	if err != nil {
		return nil, err
	}
	eng, err := fulltext.Open(path+".search", db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &testDB{DB: db, eng: eng, path: path}, nil
}

// waitMerges polls db every poll until no segment merge is pending,
// failing tb after timeout.
func waitMerges(tb testing.TB, db *testDB, timeout, poll time.Duration) {
	tb.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(poll) {
		pending, err := db.MergesPending()
		if err != nil {
			tb.Fatal(err)
		}
		if !pending {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("segment merges did not end")
		}
	}
}
