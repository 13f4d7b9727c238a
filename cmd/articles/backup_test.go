package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
)

func TestBackup(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	createArticle(t, addr, "--title", "Kept in the backup")
	dir := t.TempDir()
	path := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(path, []byte("an older backup"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := mustCLI(t, addr, "", "backup", path)
	var rev, size int64
	if _, err := fmt.Sscanf(r.stdout, path+": revision %d, %d bytes", &rev, &size); err != nil || rev != 1 {
		t.Fatalf("backup printed %q (%v), want revision 1", r.stdout, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file %v, %v; want %d bytes, mode 0600", fi, err, size)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the backup only", len(entries))
	}
	db, err := store.Open(path)
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer db.Close()
	if got, _ := db.Revision(context.Background()); got != 1 {
		t.Errorf("backup revision %d, want 1", got)
	}
}

// brokenBackup is a server whose Backup sends one chunk of a larger file
// and fails.
type brokenBackup struct {
	articlesv1.UnimplementedArticleServiceServer
}

func (brokenBackup) Backup(_ *articlesv1.BackupRequest, s grpc.ServerStreamingServer[articlesv1.BackupResponse]) error {
	if err := s.Send(&articlesv1.BackupResponse{Revision: 7, Size: 1 << 20, Data: make([]byte, 4096)}); err != nil {
		return err
	}
	return status.Error(codes.Unavailable, "server is shutting down")
}

// TestBackupFailure checks that a backup that fails part-way leaves
// neither a partial FILE nor a temporary file, and keeps the FILE that was
// there.
func TestBackupFailure(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	articlesv1.RegisterArticleServiceServer(gs, brokenBackup{})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	dir := t.TempDir()
	path := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(path, []byte("an older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, lis.Addr().String(), "", "backup", path)
	if want := "articles: UNAVAILABLE: server is shutting down\n"; r.code != exitError || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitError, want)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "an older backup" {
		t.Errorf("FILE after a failed backup: %q, %v; want it untouched", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed backup, want FILE only", len(entries))
	}
}

func TestBackupUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{"backup"}, {"backup", "a", "b"}, {"backup", dir}} {
		if r := cli(t, "127.0.0.1:1", "", args...); r.code != exitUsage {
			t.Errorf("articles %q: exit %d (%q), want %d", args, r.code, r.stderr, exitUsage)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a usage error left %d files", len(entries))
	}
}

// TestBackupOverLiveDatabase checks that FILE cannot be a database a
// server holds open: the rename would unlink it from under the server.
func TestBackupOverLiveDatabase(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	live := filepath.Join(t.TempDir(), "live.db")
	db, err := store.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	r := cli(t, addr, "", "backup", live)
	if r.code != exitError || !strings.Contains(r.stderr, "running database") {
		t.Errorf("backup over a live database: exit %d, stderr %q; want %d and a refusal", r.code, r.stderr, exitError)
	}
	if after, err := os.ReadFile(live); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the live database changed (%v)", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(live))
	for _, e := range entries {
		if n := e.Name(); n != "live.db" && n != "live.db.wal" {
			t.Errorf("directory holds %s, want the database and its log only", n)
		}
	}
}
