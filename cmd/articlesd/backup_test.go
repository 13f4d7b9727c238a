package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/etcdstore/etcdtest"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// ackedWrite is a create the server acknowledged.
type ackedWrite struct {
	id, etag string
	revision int64
}

// TestBackupUnderLoad takes "articles backup" of a daemon while writers
// create articles, then checks the file: it passes bbolt's check, and
// "articlesd --db" over it serves every write acknowledged before the
// backup began and none after the revision the CLI printed. A read token
// is refused and leaves no file.
func TestBackupUnderLoad(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--tokens", goodTokens(t))
	rpc := d.client()
	dir := t.TempDir()
	path := filepath.Join(dir, "copy.db")

	const writers, perWriter = 4, 60
	var (
		mu    sync.Mutex
		acked []ackedWrite
	)
	snapshot := func() []ackedWrite {
		mu.Lock()
		defer mu.Unlock()
		return append([]ackedWrite(nil), acked...)
	}
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				a, err := rpc.CreateArticle(withToken(t, writeSecret), &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{
					Title: fmt.Sprintf("Written under backup %d-%d", w, i),
					Body:  strings.Repeat("Words to give the file some bulk. ", 200),
				}})
				if err != nil {
					errc <- fmt.Errorf("writer %d, create %d: %w", w, i, err)
					return
				}
				mu.Lock()
				acked = append(acked, ackedWrite{a.GetId(), a.GetEtag(), a.GetRevision()})
				mu.Unlock()
			}
		})
	}
	for deadline := time.Now().Add(callTimeout); len(snapshot()) < writers*perWriter/4; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("writers did not reach a quarter of their writes within %v", callTimeout)
		}
	}
	before := snapshot()
	out := mustCLI(t, d.addr, "", "--token", writeSecret, "backup", path)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var rev, size int64
	if _, err := fmt.Sscanf(out, path+": revision %d, %d bytes", &rev, &size); err != nil {
		t.Fatalf("backup printed %q: %v", out, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want %d bytes, mode 0600", fi, err, size)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("backup directory holds %d entries, want only the backup (no partial file)", len(entries))
	}

	checkBolt(t, path)

	// Serve the copy: the writes up to its revision, as acknowledged.
	r := start(t, path, nil)
	restored := r.client()
	all := snapshot()
	if len(all) != writers*perWriter {
		t.Fatalf("%d writes acknowledged, want %d", len(all), writers*perWriter)
	}
	for _, w := range before {
		if w.revision > rev {
			t.Fatalf("write at revision %d acknowledged before the backup began, but the backup is at %d", w.revision, rev)
		}
	}
	inside := 0
	for _, w := range all {
		got, err := restored.GetArticle(callCtx(t), &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: w.id}})
		switch {
		case w.revision <= rev && (err != nil || got.GetEtag() != w.etag):
			t.Errorf("write %s at revision %d <= %d: restored %v, %v", w.id, w.revision, rev, got.GetEtag(), err)
		case w.revision > rev && status.Code(err) != codes.NotFound:
			t.Errorf("write %s at revision %d > %d in the backup: %v", w.id, w.revision, rev, err)
		case w.revision <= rev:
			inside++
		}
	}
	t.Logf("backup at revision %d (%d bytes) holds %d of %d writes, %d acknowledged before it began", rev, size, inside, len(all), len(before))

	t.Run("ReadToken", func(t *testing.T) {
		denied := filepath.Join(t.TempDir(), "denied.db")
		code, _, errOut := cli(t, d.addr, "", "--token", readSecret, "backup", denied)
		if code != 1 || !strings.Contains(errOut, "PERMISSION_DENIED") {
			t.Errorf("backup with a read token: exit %d, stderr %q; want 1 and PERMISSION_DENIED", code, errOut)
		}
		if entries, _ := os.ReadDir(filepath.Dir(denied)); len(entries) != 0 {
			t.Errorf("a refused backup left %d files", len(entries))
		}
	})
}

// TestBackupEtcd checks that a daemon on the etcd backend refuses a backup
// with FAILED_PRECONDITION, naming etcd's own tool, and the CLI leaves no
// file.
func TestBackupEtcd(t *testing.T) {
	t.Parallel()
	etcdBin, err := etcdtest.Binary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := etcdtest.StartBinary(etcdBin, 1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	d := start(t, newDB(t), nil, "--store", "etcd", "--etcd-endpoints", strings.Join(c.Endpoints(), ","), "--etcd-prefix", "/backup/", "--no-seed")
	path := filepath.Join(t.TempDir(), "etcd.db")
	code, _, errOut := cli(t, d.addr, "", "backup", path)
	if code != 1 || !strings.Contains(errOut, "FAILED_PRECONDITION") || !strings.Contains(errOut, "etcdctl snapshot save") {
		t.Errorf("backup on etcd: exit %d, stderr %q; want 1, FAILED_PRECONDITION and etcdctl snapshot save", code, errOut)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Errorf("a refused backup left %d files", len(entries))
	}
}
