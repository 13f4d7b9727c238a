package client_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles/client"
	"github.com/seed9c1868aa/articles/fulltext"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// TestMain checks that no test leaves goroutines behind: a Stream or
// Watch the caller stops must release its call, and Close its connection.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clientEnv is a real server (bbolt store, server.Server) on an in-memory
// listener, and a client dialled to it.
type clientEnv struct {
	client *client.Client
	lis    *bufconn.Listener
	stop   func()
}

// dialer returns a context dialer for the env's listener; wrap, if not
// nil, may replace each new connection (to break one, say).
func (e *clientEnv) dialer(wrap func(n int, c net.Conn) net.Conn) func(context.Context, string) (net.Conn, error) {
	n := 0
	return func(ctx context.Context, _ string) (net.Conn, error) {
		c, err := e.lis.DialContext(ctx)
		if err != nil || wrap == nil {
			return c, err
		}
		n++
		return wrap(n, c), nil
	}
}

// startClientEnv starts a server over a fresh store in dir and returns it
// with a client; stop (also registered with t.Cleanup when t is not nil)
// shuts everything down. serverOpts are added to the grpc.Server.
func startClientEnv(dir string, serverOpts []grpc.ServerOption, clientOpts ...client.Option) (*clientEnv, error) {
	st, err := store.Open(filepath.Join(dir, "articles.db"))
	if err != nil {
		return nil, err
	}
	eng, err := fulltext.Open(filepath.Join(dir, "articles.search"), st)
	if err != nil {
		st.Close()
		return nil, err
	}
	closeStore := func() {
		eng.Close()
		st.Close()
	}
	srv, err := server.New(context.Background(), st, server.WithSearcher(eng))
	if err != nil {
		closeStore()
		return nil, err
	}
	lis := bufconn.Listen(1 << 20)
	gs := srv.GRPCServer(serverOpts...)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	e := &clientEnv{lis: lis}
	opts := append([]client.Option{client.WithDialOptions(grpc.WithContextDialer(e.dialer(nil)))}, clientOpts...)
	c, err := client.New(context.Background(), "passthrough:///bufnet", opts...)
	if err != nil {
		gs.Stop()
		<-served
		closeStore()
		return nil, err
	}
	e.client = c
	e.stop = func() {
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.GracefulStop(ctx)
		<-served
		closeStore()
	}
	return e, nil
}

// newClientEnv is startClientEnv for a test, cleaned up with it.
func newClientEnv(t testing.TB, serverOpts []grpc.ServerOption, clientOpts ...client.Option) *clientEnv {
	t.Helper()
	e, err := startClientEnv(t.TempDir(), serverOpts, clientOpts...)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	t.Cleanup(e.stop)
	return e
}

// exampleEnv starts a server for an Example function, which has no
// testing.T; the returned function cleans up.
func exampleEnv(opts ...client.Option) (*client.Client, func()) {
	dir, err := os.MkdirTemp("", "client-example-")
	if err != nil {
		panic(err)
	}
	e, err := startClientEnv(dir, nil, opts...)
	if err != nil {
		panic(err)
	}
	return e.client, func() {
		e.stop()
		os.RemoveAll(dir)
	}
}

// seedArticles imports n articles titled "Article 001".., each published
// one day after the previous one, and returns them in publish order.
func seedArticles(t testing.TB, c *client.Client, n int) {
	t.Helper()
	ctx := context.Background()
	resp, err := c.Import(ctx, func(yield func(*articlesv1.Article) bool) {
		for i := range n {
			if !yield(testArticle(i)) {
				return
			}
		}
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if got := resp.GetCreated(); got != int32(n) {
		t.Fatalf("Import created %d, want %d (failures %v)", got, n, resp.GetFailures())
	}
}

// testArticle is the i-th article seedArticles imports.
func testArticle(i int) *articlesv1.Article {
	return &articlesv1.Article{
		Title:   fmt.Sprintf("Article %03d", i),
		Body:    fmt.Sprintf("Body of article %d.\n\nSecond paragraph.", i),
		Authors: []string{"Ann Writer"},
		Tags:    []string{fmt.Sprintf("t%d", i%3)},
		Source:  "Test",
		// One day apart, so that order_by "publish_time" is import order.
		PublishTime: timestamppb.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)),
	}
}
