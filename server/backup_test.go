package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

var _ server.Backuper = (*store.DB)(nil)

// recvBackup receives a whole Backup stream into a file in a test
// directory, checking the framing: revision and size in the first message
// only, no chunk above 1 MiB, size bytes in all.
func recvBackup(t *testing.T, stream interface {
	Recv() (*articlesv1.BackupResponse, error)
}) (path string, rev int64, chunks int) {
	t.Helper()
	var buf bytes.Buffer
	var size int64
	for i := 0; ; i++ {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if i == 0 {
			rev, size = msg.GetRevision(), msg.GetSize()
			if size <= 0 {
				t.Fatalf("first message has size %d", size)
			}
		} else if msg.GetRevision() != 0 || msg.GetSize() != 0 {
			t.Fatalf("message %d repeats revision/size: %v/%v", i, msg.GetRevision(), msg.GetSize())
		}
		if len(msg.GetData()) > 1<<20 {
			t.Fatalf("message %d has %d bytes, want at most 1 MiB", i, len(msg.GetData()))
		}
		buf.Write(msg.GetData())
		chunks++
	}
	if int64(buf.Len()) != size {
		t.Fatalf("received %d bytes, first message announced %d", buf.Len(), size)
	}
	path = filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, rev, chunks
}

func TestBackup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var made []*articlesv1.Article
	made = append(made, fillStore(t, e, "Backed up")...)
	stream, err := e.client.Backup(testCtx(t), &articlesv1.BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if current.name != "bbolt" {
		_, err := stream.Recv()
		st := wantCode(t, err, codes.FailedPrecondition)
		if !strings.Contains(st.Message(), "etcdctl snapshot save") {
			t.Errorf("message %q does not name etcdctl snapshot save", st.Message())
		}
		return
	}
	path, rev, chunks := recvBackup(t, stream)
	if chunks < 2 {
		t.Errorf("a file of over 2 MiB came in %d messages, want it chunked", chunks)
	}
	if want := made[len(made)-1].GetRevision(); rev != want {
		t.Errorf("backup revision %d, want %d", rev, want)
	}
	restored, err := store.Open(path)
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer restored.Close()
	for _, a := range made {
		got, err := restored.Get(t.Context(), a.GetId())
		if err != nil || !proto.Equal(got, a) {
			t.Fatalf("restored %s = %v, want it as created", a.GetId(), err)
		}
	}
	// A page token made by the live server verifies against the backup:
	// same token key.
	page, err := e.client.ListArticles(testCtx(t), &articlesv1.ListArticlesRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	re := newEnv(t, restored)
	if _, err := re.client.ListArticles(testCtx(t), &articlesv1.ListArticlesRequest{PageSize: 2, PageToken: page.GetNextPageToken()}); err != nil {
		t.Errorf("page token of the live server against the restored copy: %v", err)
	}
}

// fillStore creates articles through e until the store file is over
// 2 MiB (each article is also in its change-log event).
func fillStore(t *testing.T, e *env, title string) []*articlesv1.Article {
	t.Helper()
	var made []*articlesv1.Article
	for i := range 8 {
		made = append(made, e.create(t, &articlesv1.Article{
			Title: title + " " + string(rune('a'+i)),
			Body:  strings.Repeat("A paragraph that fills the file. ", 4000),
		}))
	}
	return made
}

// backupStore is a bbolt store whose Backup reports how it ended. With
// fail set it fails with fail after start; with gate set, its writer
// stops after the first MiB until the context is done.
type backupStore struct {
	*store.DB
	fail  error
	gate  bool
	ended chan error
}

func (b *backupStore) Backup(ctx context.Context, w io.Writer, start func(revision, size int64) error) error {
	var err error
	switch {
	case b.fail != nil:
		if err = start(1, 1); err == nil {
			err = b.fail
		}
	case b.gate:
		n := 0
		err = b.DB.Backup(ctx, writerFunc(func(p []byte) (int, error) {
			if n > 1<<20 { // the first chunk has been sent
				select {
				case <-ctx.Done():
				case <-time.After(30 * time.Second): // longer than the test waits
				}
			}
			n += len(p)
			return w.Write(p)
		}), start)
	default:
		err = b.DB.Backup(ctx, w, start)
	}
	b.ended <- err
	return err
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestBackupCancel(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	st := &backupStore{DB: db, gate: true, ended: make(chan error, 1)}
	e := newEnv(t, st)
	fillStore(t, e, "Cancelled backup")
	ctx, cancel := context.WithCancel(testCtx(t))
	stream, err := e.client.Backup(ctx, &articlesv1.BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	// The client walks away after one chunk of several (the store's writer
	// waits after the first): the server's copy, and its read
	// transaction, end.
	cancel()
	select {
	case err := <-st.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("store Backup ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("store Backup still running 10s after the client cancelled")
	}
	// Writes go on.
	e.create(t, &articlesv1.Article{Title: "After a cancelled backup"})
}

func TestBackupInternalError(t *testing.T) {
	t.Parallel()
	st := &backupStore{DB: openStore(t), fail: errBoom, ended: make(chan error, 1)}
	e := newEnv(t, st)
	stream, err := e.client.Backup(testCtx(t), &articlesv1.BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err = stream.Recv(); err != nil {
			break
		}
	}
	s := wantCode(t, err, codes.Internal)
	if strings.Contains(s.Message(), "/var/lib") {
		t.Errorf("client sees the file path: %q", s.Message())
	}
}
