package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// stubCreate answers CreateArticle with the article it was sent, after
// spinning for spin or writing 5 KB to f and fdatasyncing it: a server
// whose handler costs only that.
type stubCreate struct {
	articlesv1.UnimplementedArticleServiceServer
	spin time.Duration
	f    *os.File
}

func (s stubCreate) CreateArticle(_ context.Context, r *articlesv1.CreateArticleRequest) (*articlesv1.Article, error) {
	for t := time.Now(); time.Since(t) < s.spin; {
	}
	if s.f != nil {
		if _, err := s.f.Write(value5K); err != nil {
			return nil, err
		}
		if err := syscall.Fdatasync(int(s.f.Fd())); err != nil {
			return nil, err
		}
	}
	a := r.GetArticle()
	a.Id = "01J0000000000000000000000"
	return a, nil
}

// BenchmarkCreateBreakdown takes a serial create apart: the real server,
// the same handler on a bare grpc.Server and called in process, the store
// alone, and stub servers whose handler does nothing, spins 600 µs or
// fdatasyncs 5 KB, beside raw etcd's Put and a bare fdatasync, all
// alternated in rounds in one process. It reports microseconds per call.
func BenchmarkCreateBreakdown(b *testing.B) {
	ctx := context.Background()
	full, _ := startReal(b)
	st, err := store.Open(filepath.Join(b.TempDir(), "handler.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	srv, err := server.New(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	bare := grpc.NewServer()
	articlesv1.RegisterArticleServiceServer(bare, srv)
	bareRPC := serve(b, bare)
	alone, err := store.Open(filepath.Join(b.TempDir(), "alone.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { alone.Close() })
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	stub := func(s stubCreate) articlesv1.ArticleServiceClient {
		g := grpc.NewServer()
		articlesv1.RegisterArticleServiceServer(g, s)
		return serve(b, g)
	}
	noop, spin, syncer := stub(stubCreate{}), stub(stubCreate{spin: 600 * time.Microsecond}), stub(stubCreate{f: f})
	etcd := rawEtcd(b, 1)[0]
	arts := zipfCorpus("c", 64)
	round := 0
	// mk returns the i-th article of side p's round, with a slug of its own.
	mk := func(p string, i int) *articlesv1.Article {
		a := proto.Clone(arts[i%len(arts)]).(*articlesv1.Article)
		a.Slug = fmt.Sprintf("%s%d-%d", p, round, i)
		return a
	}
	create := func(p string, rpc articlesv1.ArticleServiceClient) func(int, int) error {
		return func(_, i int) error {
			_, err := rpc.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: mk(p, i)})
			return err
		}
	}
	sides := []struct {
		name string
		op   func(c, i int) error
	}{
		{"etcd-put", func(_, i int) error {
			_, err := etcd.Put(ctx, fmt.Sprintf("/raw/%d-%d", round, i), string(value5K))
			return err
		}},
		{"server", create("s", full)},
		{"bare-grpc", create("b", bareRPC)},
		{"handler", func(_, i int) error {
			_, err := srv.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: mk("h", i)})
			return err
		}},
		{"store", func(_, i int) error {
			_, err := alone.Create(ctx, mk("a", i), "")
			return err
		}},
		{"stub", create("n", noop)},
		{"stub-spin600", create("n", spin)},
		{"stub-fdatasync", create("n", syncer)},
		{"fdatasync", func(int, int) error {
			if _, err := f.Write(value5K); err != nil {
				return err
			}
			return syscall.Fdatasync(int(f.Fd()))
		}},
	}
	sum := make([]float64, len(sides))
	for b.Loop() {
		clear(sum)
		for range writeRounds {
			round++
			for k, s := range sides {
				sum[k] += rate(b, 1, s.op)
			}
		}
	}
	for k, s := range sides {
		b.ReportMetric(1e6*writeRounds/sum[k], s.name+"-µs")
	}
}
