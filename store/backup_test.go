package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/store"
)

// backupTo runs db.Backup into a new file in a test directory and returns
// its path and the revision and size that start reported.
func backupTo(t *testing.T, db *store.DB, w func(io.Writer) io.Writer) (path string, rev, size int64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out io.Writer = f
	if w != nil {
		out = w(f)
	}
	calls := 0
	err = db.Backup(context.Background(), out, func(r, s int64) error {
		calls++
		rev, size = r, s
		return nil
	})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if calls != 1 {
		t.Fatalf("start called %d times, want 1", calls)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Fatalf("backup has %d bytes, start reported %d", fi.Size(), size)
	}
	return path, rev, size
}

func TestBackupRestores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	var made []string
	for i := range 50 {
		made = append(made, mustCreate(t, db, art(fmt.Sprintf("kept-%d", i))).GetId())
	}
	if err := db.Delete(ctx, made[0], ""); err != nil {
		t.Fatal(err)
	}
	wantRev, _ := db.Revision(ctx)
	wantKey, _ := db.TokenKey(ctx)

	path, rev, _ := backupTo(t, db, nil)
	if rev != wantRev {
		t.Errorf("backup revision %d, want %d", rev, wantRev)
	}
	checkFile(t, path)

	restored := mustOpenPath(t, path)
	if got, _ := restored.Revision(ctx); got != wantRev {
		t.Errorf("restored revision %d, want %d", got, wantRev)
	}
	if got, _ := restored.TokenKey(ctx); !bytes.Equal(got, wantKey) {
		t.Error("restored token key differs: tokens made before the backup would not verify")
	}
	if _, err := restored.Get(ctx, made[0]); !errors.Is(err, articles.ErrNotFound) {
		t.Errorf("deleted article in the backup: %v", err)
	}
	for _, id := range made[1:] {
		want, err := db.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := restored.Get(ctx, id)
		if err != nil || !proto.Equal(got, want) {
			t.Fatalf("restored Get(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	evs, err := restored.Changes(ctx, 1, 1000)
	if err != nil || int64(len(evs)) != wantRev {
		t.Errorf("restored change log has %d events (%v), want %d", len(evs), err, wantRev)
	}
	// The restored copy takes writes after the backup's revision.
	a := mustCreate(t, restored, art("after-restore"))
	if a.GetRevision() != wantRev+1 {
		t.Errorf("first write after restore has revision %d, want %d", a.GetRevision(), wantRev+1)
	}
}

// slowWriter delays every write, so that a backup overlaps many commits.
type slowWriter struct{ w io.Writer }

func (s slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return s.w.Write(p)
}

// TestBackupUnderLoad takes a backup while writers commit, and checks that
// it holds exactly the acknowledged writes up to its revision: every one
// acknowledged before Backup was called, none from after its revision.
func TestBackupUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	const writers, perWriter = 4, 150

	var (
		mu    sync.Mutex
		acked = map[string]int64{} // id -> revision, for every acknowledged create
	)
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				a, err := db.Create(ctx, art(fmt.Sprintf("w%d-%d", w, i)), "")
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				acked[a.GetId()] = a.GetRevision()
				mu.Unlock()
			}
		})
	}
	ackedNow := func() map[string]int64 {
		mu.Lock()
		defer mu.Unlock()
		m := make(map[string]int64, len(acked))
		for k, v := range acked {
			m[k] = v
		}
		return m
	}
	// Start the backup once some writes are in, while the rest go on.
	for deadline := time.Now().Add(30 * time.Second); len(ackedNow()) < writers*perWriter/4; {
		if time.Now().After(deadline) {
			t.Fatal("writers did not get a quarter of the way within 30s")
		}
		time.Sleep(time.Millisecond)
	}
	before := ackedNow()
	path, rev, _ := backupTo(t, db, func(w io.Writer) io.Writer { return slowWriter{w} })
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("writer: %v", err)
	}
	all := ackedNow()
	if len(all) != writers*perWriter {
		t.Fatalf("%d writes acknowledged, want %d", len(all), writers*perWriter)
	}

	checkFile(t, path)
	restored := mustOpenPath(t, path)
	if got, _ := restored.Revision(ctx); got != rev {
		t.Fatalf("restored revision %d, backup reported %d", got, rev)
	}
	for id, r := range before {
		if r > rev {
			t.Fatalf("write %s acknowledged before the backup at revision %d, after the backup's %d", id, r, rev)
		}
	}
	var inside int
	for id, r := range all {
		_, err := restored.Get(ctx, id)
		switch {
		case r <= rev && err != nil:
			t.Errorf("write %s (revision %d <= backup's %d) missing from the backup: %v", id, r, rev, err)
		case r > rev && !errors.Is(err, articles.ErrNotFound):
			t.Errorf("write %s (revision %d > backup's %d) in the backup: %v", id, r, rev, err)
		case r <= rev:
			inside++
		}
	}
	if inside < len(before) {
		t.Fatalf("backup holds %d writes, fewer than the %d acknowledged before it began", inside, len(before))
	}
	t.Logf("backup at revision %d holds %d of %d writes (%d acknowledged before it began)", rev, inside, len(all), len(before))
}

// failingWriter fails after n bytes.
type failingWriter struct {
	n   int
	err error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestBackupErrors(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	for i := range 20 {
		mustCreate(t, db, art(fmt.Sprintf("e-%d", i)))
	}
	errWrite := errors.New("disk full")
	errStart := errors.New("refused")

	t.Run("StartError", func(t *testing.T) {
		var buf bytes.Buffer
		err := db.Backup(context.Background(), &buf, func(int64, int64) error { return errStart })
		if !errors.Is(err, errStart) || buf.Len() != 0 {
			t.Errorf("Backup = %v with %d bytes written, want %v and none", err, buf.Len(), errStart)
		}
	})
	t.Run("WriterError", func(t *testing.T) {
		err := db.Backup(context.Background(), &failingWriter{n: 64 << 10, err: errWrite}, nil)
		if !errors.Is(err, errWrite) {
			t.Errorf("Backup = %v, want %v", err, errWrite)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var n int
		w := writerFunc(func(p []byte) (int, error) {
			n += len(p)
			cancel() // after the first write
			return len(p), nil
		})
		err := db.Backup(ctx, w, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Backup = %v, want context.Canceled", err)
		}
		if n > 64<<10 {
			t.Errorf("%d bytes written after cancelling, want the copy to stop at once", n)
		}
	})
	t.Run("ErrClosed", func(t *testing.T) {
		closed, err := store.Open(filepath.Join(t.TempDir(), "c.db"))
		if err != nil {
			t.Fatal(err)
		}
		closed.Close()
		if err := closed.Backup(context.Background(), io.Discard, nil); !errors.Is(err, articles.ErrClosed) {
			t.Errorf("Backup after Close = %v, want ErrClosed", err)
		}
	})
	// The store stays usable after every failed backup.
	mustCreate(t, db, art("after-errors"))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
