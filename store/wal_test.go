package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
)

// walWrites makes n creates, an update of every third and a delete of
// every fifth on db, and returns what each id must hold afterwards (nil:
// deleted).
func walWrites(t *testing.T, db *store.DB, prefix string, n int) map[string]*articlesv1.Article {
	t.Helper()
	ctx := context.Background()
	want := map[string]*articlesv1.Article{}
	for i := range n {
		a := mustCreate(t, db, art(fmt.Sprintf("%s-%d", prefix, i)))
		switch {
		case i%5 == 0:
			if err := db.Delete(ctx, a.GetId(), ""); err != nil {
				t.Fatal(err)
			}
			want[a.GetId()] = nil
			continue
		case i%3 == 0:
			var err error
			a, err = db.Update(ctx, a.GetId(), "", func(a *articlesv1.Article) error {
				a.Title += " (edited)"
				a.Tags = append(a.Tags, "edited")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		want[a.GetId()] = a
	}
	return want
}

// checkWrites fails unless db holds exactly want's articles, by id and by
// slug, with its revision at least rev.
func checkWrites(t *testing.T, db *store.DB, want map[string]*articlesv1.Article, rev int64) {
	t.Helper()
	ctx := context.Background()
	for id, w := range want {
		got, err := db.Get(ctx, id)
		if w == nil {
			if err == nil {
				t.Errorf("deleted %s is back", id)
			}
			continue
		}
		if err != nil {
			t.Errorf("Get(%s): %v", id, err)
			continue
		}
		if got.GetEtag() != w.GetEtag() || got.GetTitle() != w.GetTitle() {
			t.Errorf("Get(%s) = etag %s %q, want %s %q", id, got.GetEtag(), got.GetTitle(), w.GetEtag(), w.GetTitle())
		}
		if bySlug, err := db.GetBySlug(ctx, w.GetSlug()); err != nil || bySlug.GetId() != id {
			t.Errorf("GetBySlug(%s) = %v, %v", w.GetSlug(), bySlug.GetId(), err)
		}
	}
	if got := db.Stats().Revision; got < rev {
		t.Errorf("revision %d after recovery, want at least %d", got, rev)
	}
}

// TestWALMachineCrash stands for a machine that loses power after
// acknowledging writes that only the write-ahead log made durable: of
// every page written since the checkpoint, any may or may not have
// reached the disk. Open must recover every acknowledged write from the
// log, and the file must pass bbolt's consistency check.
func TestWALMachineCrash(t *testing.T) {
	store.HoldCheckpoints(t)
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.db")
			db, err := store.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			before := walWrites(t, db, "before", 50)
			db.Close() // a clean close: all of it synced
			db, err = store.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			synced, err := os.ReadFile(path) // the disk at Open's checkpoint
			if err != nil {
				t.Fatal(err)
			}
			after := walWrites(t, db, "after", 300)
			rev := db.Stats().Revision
			db.Crash()

			// The disk after the crash: each page as synced or as
			// written since, at random, meta pages included.
			written, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(seed, 1))
			const page = 4096
			mixed := append([]byte(nil), written...)
			changed := 0
			for off := 0; off+page <= len(mixed); off += page {
				if off+page <= len(synced) && string(synced[off:off+page]) != string(written[off:off+page]) {
					changed++
					if r.IntN(2) == 0 {
						copy(mixed[off:], synced[off:off+page])
					}
				} else if off >= len(synced) && r.IntN(2) == 0 {
					clear(mixed[off : off+page])
				}
			}
			if changed < 10 {
				t.Fatalf("only %d pages changed since the checkpoint: the test proves nothing", changed)
			}
			if err := os.WriteFile(path, mixed, 0o600); err != nil {
				t.Fatal(err)
			}

			db, err = store.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			checkWrites(t, db, before, 0)
			checkWrites(t, db, after, rev)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			checkFile(t, path)
			if _, err := os.Stat(path + ".wal"); !os.IsNotExist(err) {
				t.Errorf("the log is still there after a clean close: %v", err)
			}
		})
	}
}

// TestWALRecovery covers the ways a log is found at Open.
func TestWALRecovery(t *testing.T) {
	store.HoldCheckpoints(t)
	tests := []struct {
		name string
		// damage changes the files after the crash; it returns how many
		// of the last writes the log no longer holds.
		damage func(t *testing.T, path string) (lost int)
		opts   []store.Option
	}{
		{name: "kill", damage: func(*testing.T, string) int { return 0 }},
		{name: "torn last record", damage: func(t *testing.T, path string) int {
			fi, err := os.Stat(path + ".wal")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path+".wal", fi.Size()-3); err != nil {
				t.Fatal(err)
			}
			return 1
		}},
		{name: "garbage after the last record", damage: func(t *testing.T, path string) int {
			f, err := os.OpenFile(path+".wal", os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 'p', 1}); err != nil {
				t.Fatal(err)
			}
			return 0
		}},
		{name: "unpinned, checkpointed per commit", opts: []store.Option{store.WithInitialMmapSize(0)},
			damage: func(*testing.T, string) int { return 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.db")
			db, err := store.Open(path, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var last []*articlesv1.Article
			for i := range 20 {
				last = append(last, mustCreate(t, db, art(fmt.Sprintf("a-%d", i))))
			}
			db.Crash()
			lost := tt.damage(t, path)

			db, err = store.Open(path, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			for i, a := range last {
				_, err := db.Get(ctx, a.GetId())
				if gone := i >= len(last)-lost; gone != (err != nil) {
					t.Errorf("article %d: Get error %v, want lost=%v", i, err, gone)
				}
			}
			// The store goes on writing after recovery.
			mustCreate(t, db, art("after-recovery"))
		})
	}
}

// crashed makes a store at path holding one article with the given slug,
// crashes it with the write in its log, and returns path.
func crashed(t *testing.T, path, slug string) string {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, art(slug))
	db.Crash()
	return path
}

// TestWALBesideMissingDatabase: a log whose database file was removed is
// dropped, and a new database is made.
func TestWALBesideMissingDatabase(t *testing.T) {
	store.HoldCheckpoints(t)
	path := crashed(t, filepath.Join(t.TempDir(), "a.db"), "x")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.GetBySlug(context.Background(), "x"); err == nil {
		t.Error("an article of the removed database is back")
	}
}

// TestWALDamagedHeader: a log whose header does not check out stops Open,
// rather than leaving the file as the crash left it.
func TestWALDamagedHeader(t *testing.T) {
	store.HoldCheckpoints(t)
	path := crashed(t, filepath.Join(t.TempDir(), "a.db"), "x")
	f, err := os.OpenFile(path+".wal", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("XX"), 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if db, err := store.Open(path); err == nil {
		db.Close()
		t.Fatal("Open succeeded with a damaged log header")
	}
}

// TestWALBesideRestoredBackup: a log left by a crash beside a database
// file that was then replaced (here by a backup of another store) stops
// Open, and the file is left as it was.
func TestWALBesideRestoredBackup(t *testing.T) {
	store.HoldCheckpoints(t)
	dir := t.TempDir()
	path, other := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	for _, p := range []string{path, other} {
		db, err := store.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, db, art("x-"+filepath.Base(p)))
		if p == path {
			db.Crash()
		} else {
			db.Close()
		}
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if db, err := store.Open(path); err == nil {
		db.Close()
		t.Fatal("Open applied a log to a file it was not written for")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the refused Open changed the file")
	}
}

// TestWALCheckpointDuringWrites: writes acknowledged while a checkpoint's
// sync runs are carried into the new log, so a crash right after the
// checkpoint loses none of them.
func TestWALCheckpointDuringWrites(t *testing.T) {
	store.CheckpointEvery(t, 10*time.Millisecond)
	began, release := store.HoldFirstSync(t)
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := walWrites(t, db, "before", 5)
	select {
	case <-began:
	case <-time.After(10 * time.Second):
		t.Fatal("no checkpoint began")
	}
	done := db.Checkpoints()
	for id, a := range walWrites(t, db, "during", 20) {
		want[id] = a
	}
	rev := db.Stats().Revision
	close(release)
	for deadline := time.Now().Add(10 * time.Second); db.Checkpoints() == done; {
		if time.Now().After(deadline) {
			t.Fatal("the checkpoint did not finish")
		}
		time.Sleep(time.Millisecond)
	}
	db.Crash()
	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	checkWrites(t, db, want, rev)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path)
}
