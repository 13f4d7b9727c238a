package main_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed9c1868aa/articles/etcdstore/etcdtest"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestClusterScript runs scripts/etcd-cluster.sh as a user would (with
// this test's binaries and free ports): it starts three etcd members and
// two articlesd; a write through one server is read through the other;
// SIGTERM stops every process it started.
func TestClusterScript(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	etcdBin, err := etcdtest.Binary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	etcdBase, articlesBase := freeRange(t, 13), freeRange(t, 2)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "scripts", "etcd-cluster.sh"), dir)
	cmd.Env = append(cleanEnv(), "ETCD="+etcdBin, "ARTICLESD="+bin,
		fmt.Sprintf("ETCD_PORT=%d", etcdBase), fmt.Sprintf("ARTICLES_PORT=%d", articlesBase))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	outFile, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd.Stdout = outFile
	output := func() string {
		b, _ := os.ReadFile(outFile.Name())
		return string(b)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		close(ready)
		exited <- cmd.Wait()
	}()
	if !<-ready {
		err := <-exited
		logs, _ := os.ReadFile(filepath.Join(dir, "logs", "articlesd1.log"))
		t.Fatalf("script exited before ready (%v): %s\n%s", err, output(), logs)
	}
	if !strings.Contains(output(), fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", articlesBase+1, articlesBase+2)) {
		t.Errorf("script output %q does not name both servers", output())
	}

	clients := make([]articlesv1.ArticleServiceClient, 2)
	for i := range clients {
		conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", articlesBase+1+i), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		clients[i] = articlesv1.NewArticleServiceClient(conn)
	}
	created, err := clients[0].CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Through the script"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := clients[1].GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}})
	if err != nil || got.GetEtag() != created.GetEtag() {
		t.Fatalf("GetArticle through the other server = %v, %v; want etag %q", got, err, created.GetEtag())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("script exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("script still running 30 s after SIGTERM")
	}
	for _, port := range []int{etcdBase + 1, etcdBase + 2, etcdBase + 3, articlesBase + 1, articlesBase + 2} {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still served after the script stopped", port)
		}
	}
}

// freeRange returns a base such that ports base+1 .. base+n were free a
// moment ago (another process could take one before the script binds it).
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+n > 65535 {
			continue
		}
		ok := true
		for p := base + 1; p <= base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free range of ports")
	return 0
}
