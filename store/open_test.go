package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

func TestOpenFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("file mode = %v, want no group or other access (0600)", got)
	}
}

func TestOpenLockedFailsFast(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	defer db.Close()
	// bbolt's lock is per open file, so a second Open in this process
	// behaves as a second process would.
	second, err := store.Open(path, store.WithOpenTimeout(50*time.Millisecond))
	if err == nil {
		second.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second Open: %v, want a message saying the file is locked", err)
	}
}

func TestReopenKeepsDataAndRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	a := mustCreate(t, db, art("keep"))
	mustCreate(t, db, art("other"))
	key1, _ := db.TokenKey(ctx)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenPath(t, path)
	if rev, _ := db.Revision(ctx); rev != 2 {
		t.Errorf("Revision after reopen = %d, want 2", rev)
	}
	if got, err := db.GetBySlug(ctx, "keep"); err != nil || !proto.Equal(got, a) {
		t.Errorf("after reopen: %v, %v", got, err)
	}
	key2, _ := db.TokenKey(ctx)
	if len(key1) < 32 || string(key1) != string(key2) {
		t.Errorf("token key changed across reopen (%d bytes)", len(key1))
	}
	b := mustCreate(t, db, art("next"))
	if b.GetRevision() != 3 {
		t.Errorf("first write after reopen has revision %d, want 3", b.GetRevision())
	}
}

func TestTokenKeyPerDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k1, _ := mustOpen(t).TokenKey(ctx)
	k2, _ := mustOpen(t).TokenKey(ctx)
	if len(k1) != 32 || string(k1) == string(k2) {
		t.Errorf("token keys %x and %x: want 32 random bytes each", k1, k2)
	}
}

func TestOpenNewerSchemaFails(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	editFile(t, path, func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	})
	db, err := store.Open(path)
	if err == nil {
		db.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "schema version 99 is newer") {
		t.Errorf("Open: %v, want a message about the newer schema", err)
	}
}

// TestConcurrentWriters runs bounded concurrent creates, updates and
// deletes; all succeed, revisions are unique, each write has its event at
// its revision, and the file passes bbolt's consistency check afterwards.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db := mustOpenPath(t, path)
	const workers, each = 8, 25
	revs := make(chan int64, workers*each*2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a, err := db.Create(ctx, art(fmt.Sprintf("w%d-%d", w, i)), "")
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				revs <- a.GetRevision()
				// The event is committed with the write.
				evs, err := db.Changes(ctx, a.GetRevision(), 1)
				if err != nil || len(evs) != 1 || evs[0].GetArticle().GetId() != a.GetId() {
					t.Errorf("event for revision %d: %v, %v", a.GetRevision(), evs, err)
				}
				if i%5 == 0 {
					u, err := db.Update(ctx, a.GetId(), a.GetEtag(), func(x *articlesv1.Article) error { x.Title += "!"; return nil })
					if err != nil {
						t.Errorf("Update: %v", err)
						return
					}
					revs <- u.GetRevision()
				}
			}
		}()
	}
	wg.Wait()
	close(revs)
	seen := map[int64]bool{}
	for r := range revs {
		if seen[r] {
			t.Errorf("revision %d given twice", r)
		}
		seen[r] = true
	}
	want := int64(workers * (each + each/5))
	if rev, _ := db.Revision(ctx); rev != want || int64(len(seen)) != want {
		t.Errorf("Revision = %d, %d distinct; want %d", rev, len(seen), want)
	}
	evs, err := db.Changes(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if e.GetRevision() != int64(i+1) {
			t.Fatalf("event %d has revision %d: the log has a gap", i, e.GetRevision())
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path)
}

// TestSameSlugConcurrently races creates of one slug, many of which share
// a commit: exactly one wins.
func TestSameSlugConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.Create(ctx, art("contested"), "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, articles.ErrAlreadyExists):
			t.Errorf("Create: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d creates of one slug succeeded, want 1", ok)
	}
	if rev, _ := db.Revision(ctx); rev != 1 {
		t.Errorf("Revision = %d, want 1", rev)
	}
}

// checkFile runs bbolt's consistency check on a closed store file.
func checkFile(t *testing.T, path string) {
	t.Helper()
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("bbolt Check: %v", err)
	}
}
