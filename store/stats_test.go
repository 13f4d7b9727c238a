package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
)

// listed counts the articles by walking them: the ground truth Stats'
// kept count must agree with.
func listed(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	err := db.List(context.Background(), articles.Query{}, articles.Cursor{}, 0, func(*articlesv1.Article) error {
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return n
}

func TestStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// statsFirst calls Stats before the writes, so the count is
		// tracked through commits rather than counted afterwards.
		statsFirst bool
		write      func(t *testing.T, db *store.DB)
		want       store.Stats // FileSize is only checked to be positive
	}{
		{name: "Empty", write: func(*testing.T, *store.DB) {}, want: store.Stats{}},
		{
			name: "Creates", statsFirst: true,
			write: func(t *testing.T, db *store.DB) {
				for i := range 3 {
					mustCreate(t, db, art(fmt.Sprintf("a-%d", i)))
				}
			},
			want: store.Stats{Articles: 3, Revision: 3},
		},
		{
			name: "CreateUpdateDelete", statsFirst: true,
			write: func(t *testing.T, db *store.DB) {
				a := mustCreate(t, db, art("a"))
				b := mustCreate(t, db, art("b"))
				if _, err := db.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error { x.Title = "New"; return nil }); err != nil {
					t.Fatal(err)
				}
				if err := db.Delete(ctx, b.GetId(), ""); err != nil {
					t.Fatal(err)
				}
			},
			want: store.Stats{Articles: 1, Revision: 4},
		},
		{
			name: "FailedWritesCountNothing", statsFirst: true,
			write: func(t *testing.T, db *store.DB) {
				mustCreate(t, db, art("a"))
				if _, err := db.Create(ctx, art("a"), ""); !errors.Is(err, articles.ErrAlreadyExists) {
					t.Fatalf("duplicate Create: %v", err)
				}
				if err := db.Delete(ctx, "01ARZ3NDEKTSV4RRFFQ69G5FAV", ""); !errors.Is(err, articles.ErrNotFound) {
					t.Fatalf("Delete missing: %v", err)
				}
			},
			want: store.Stats{Articles: 1, Revision: 1},
		},
		{
			name: "Import", statsFirst: true,
			write: func(t *testing.T, db *store.DB) {
				mustCreate(t, db, art("old"))
				changed := art("old")
				changed.Title = "Changed"
				resp, err := db.Import(ctx, []*articlesv1.Article{art("new-1"), changed, art("new-2"), {Title: "no slug"}})
				if err != nil || resp.Created != 2 || resp.Updated != 1 {
					t.Fatalf("Import = %v, %v", resp, err)
				}
			},
			want: store.Stats{Articles: 3, Revision: 4},
		},
		{
			name: "CountedAfterWrites",
			write: func(t *testing.T, db *store.DB) {
				for i := range 5 {
					mustCreate(t, db, art(fmt.Sprintf("a-%d", i)))
				}
			},
			want: store.Stats{Articles: 5, Revision: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := mustOpen(t)
			if tt.statsFirst {
				if got := db.Stats().Articles; got != 0 {
					t.Fatalf("Stats().Articles of a new store = %d", got)
				}
			}
			tt.write(t, db)
			got := db.Stats()
			if got.FileSize <= 0 {
				t.Errorf("FileSize = %d, want > 0", got.FileSize)
			}
			got.FileSize = 0
			if got != tt.want {
				t.Errorf("Stats() = %+v, want %+v", got, tt.want)
			}
			if n := listed(t, db); got.Articles != n {
				t.Errorf("Stats().Articles = %d, List finds %d", got.Articles, n)
			}
		})
	}
}

func TestStatsReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	for i := range 4 {
		mustCreate(t, db, art(fmt.Sprintf("a-%d", i)))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	closed := db.Stats()
	if closed.Revision != 4 || closed.FileSize != 0 {
		t.Errorf("Stats() after Close = %+v, want revision 4 and no file size", closed)
	}

	db = mustOpenPath(t, path)
	got := db.Stats()
	if got.Articles != 4 || got.Revision != 4 {
		t.Errorf("Stats() after reopening = %+v, want 4 articles at revision 4", got)
	}
}

// TestStatsConcurrent takes the first count while writers commit, then
// checks the kept count against the articles actually stored: a commit
// racing the count must be counted exactly once.
func TestStatsConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	for i := range 10 {
		mustCreate(t, db, art(fmt.Sprintf("pre-%d", i)))
	}
	const writers, perWriter = 4, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				a, err := db.Create(ctx, art(fmt.Sprintf("w%d-%d", w, i)), "")
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				if i%3 == 0 {
					if err := db.Delete(ctx, a.GetId(), ""); err != nil {
						t.Errorf("Delete: %v", err)
					}
				}
			}
		})
	}
	for range 20 {
		db.Stats()
	}
	wg.Wait()
	want := int64(10 + writers*(perWriter-5))
	if got := db.Stats().Articles; got != want {
		t.Errorf("Stats().Articles = %d, want %d", got, want)
	}
	if n := listed(t, db); n != want {
		t.Errorf("List finds %d articles, want %d", n, want)
	}
}

func TestStatsCompacted(t *testing.T) {
	t.Parallel()
	db := mustOpen(t, store.WithHistory(5))
	for i := range 20 {
		mustCreate(t, db, art(fmt.Sprintf("a-%d", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Compaction runs in the background; wait for it, bounded.
	for ctx.Err() == nil && db.Stats().Compacted < 15 {
		time.Sleep(5 * time.Millisecond)
	}
	if got := db.Stats(); got.Compacted != 15 || got.Revision != 20 || got.Articles != 20 {
		t.Errorf("Stats() = %+v, want compacted 15, revision 20, 20 articles", got)
	}
}

// commitLog records what a commit observer was told.
type commitLog struct {
	mu  sync.Mutex
	ops []int
}

func (c *commitLog) observe(ops int, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 {
		ops = -1000 // a negative duration fails the sum below
	}
	c.ops = append(c.ops, ops)
}

func (c *commitLog) snapshot() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ops)
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func TestCommitObserver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Serial", func(t *testing.T) {
		t.Parallel()
		var log commitLog
		db := mustOpen(t, store.WithCommitObserver(log.observe))
		for i := range 3 {
			mustCreate(t, db, art(fmt.Sprintf("a-%d", i)))
		}
		// A write that fails its own checks still shares a commit.
		if _, err := db.Create(ctx, art("a-0"), ""); !errors.Is(err, articles.ErrAlreadyExists) {
			t.Fatalf("duplicate Create: %v", err)
		}
		if got, want := log.snapshot(), []int{1, 1, 1, 1}; !slices.Equal(got, want) {
			t.Errorf("observed ops %v, want %v", got, want)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		var log commitLog
		db := mustOpen(t, store.WithCommitObserver(log.observe))
		const n = 32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := db.Create(ctx, art(fmt.Sprintf("c-%d", i)), ""); err != nil {
					t.Errorf("Create: %v", err)
				}
			})
		}
		wg.Wait()
		got := log.snapshot()
		if sum(got) != n || len(got) > n {
			t.Errorf("observed ops %v: sum %d, want %d over at most %d commits", got, sum(got), n, n)
		}
	})

	t.Run("RolledBackNotObserved", func(t *testing.T) {
		t.Parallel()
		var log commitLog
		db := mustOpen(t, store.WithCommitObserver(log.observe))
		target := mustCreate(t, db, art("target"))
		_, err := db.Update(ctx, target.GetId(), "", func(*articlesv1.Article) error { panic("bad mutate") })
		if err == nil {
			t.Fatal("Update with a panicking mutate succeeded")
		}
		if got, want := log.snapshot(), []int{1}; !slices.Equal(got, want) {
			t.Errorf("observed ops %v, want %v (the rolled-back update is not a commit)", got, want)
		}
		if got := db.Stats().Articles; got != 1 {
			t.Errorf("Stats().Articles = %d, want 1", got)
		}
	})
}

// mustOpenPath opens the store at path, closed at cleanup.
func mustOpenPath(t *testing.T, path string, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// editFile changes the closed store file at path behind the store's back,
// in one bbolt transaction: for tests of what Open makes of such a file.
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
