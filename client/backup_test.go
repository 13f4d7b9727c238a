package client_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
)

func TestBackup(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()
	seedArticles(t, e.client, 20)
	last, err := e.client.Create(ctx, testArticle(99), "")
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	var lastDone, lastSize int64
	rev, err := e.client.Backup(ctx, f, func(done, size int64) {
		calls++
		lastDone, lastSize = done, size
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if rev != last.GetRevision() {
		t.Errorf("Backup revision %d, want %d", rev, last.GetRevision())
	}
	if calls == 0 || lastDone != lastSize {
		t.Errorf("progress called %d times, last with %d of %d bytes", calls, lastDone, lastSize)
	}
	restored, err := store.Open(path)
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer restored.Close()
	got, err := restored.Get(ctx, last.GetId())
	if err != nil || got.GetTitle() != last.GetTitle() {
		t.Errorf("restored Get = %v, %v; want %q", got, err, last.GetTitle())
	}
}

// lyingBackup is a server whose Backup sends chunks as told.
type lyingBackup struct {
	articlesv1.UnimplementedArticleServiceServer
	msgs []*articlesv1.BackupResponse
}

func (l lyingBackup) Backup(_ *articlesv1.BackupRequest, s grpc.ServerStreamingServer[articlesv1.BackupResponse]) error {
	for _, m := range l.msgs {
		if err := s.Send(m); err != nil {
			return err
		}
	}
	return nil
}

// TestBackupBadStream checks that a stream that does not add up to the
// file it announced is an error, not a short backup.
func TestBackupBadStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msgs []*articlesv1.BackupResponse
		want string
	}{
		{"Empty", nil, "sent nothing"},
		{"NoSize", []*articlesv1.BackupResponse{{Data: []byte("x")}}, "announced a file of 0 bytes"},
		{"Short", []*articlesv1.BackupResponse{{Size: 10, Data: []byte("12345")}}, "after 5 of 10 bytes"},
		{"Long", []*articlesv1.BackupResponse{{Size: 4, Data: []byte("1234")}, {Data: []byte("5")}}, "more than the 4 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lis := bufconn.Listen(1 << 20)
			gs := grpc.NewServer()
			articlesv1.RegisterArticleServiceServer(gs, lyingBackup{msgs: tt.msgs})
			go func() { _ = gs.Serve(lis) }()
			t.Cleanup(gs.Stop)
			c, err := client.New(context.Background(), "passthrough:///bufnet", client.WithDialOptions(
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			var buf bytes.Buffer
			_, err = c.Backup(context.Background(), &buf, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Backup = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func ExampleClient_Backup() {
	c, cleanup := exampleEnv()
	defer cleanup()
	ctx := context.Background()
	for _, title := range []string{"First", "Second"} {
		if _, err := c.Create(ctx, &articlesv1.Article{Title: title}, ""); err != nil {
			log.Fatal(err)
		}
	}

	// A real program writes to a temporary file, syncs it and renames it
	// into place, as "articles backup" does.
	var buf bytes.Buffer
	rev, err := c.Backup(ctx, &buf, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revision", rev, "complete:", buf.Len() > 0)
	// Output: revision 2 complete: true
}
