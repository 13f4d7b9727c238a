package etcdstore_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/client"
	"github.com/seed9c1868aa/articles/etcdstore"
	"github.com/seed9c1868aa/articles/etcdstore/etcdtest"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

// The store benchmarks of package store (same article shape, same
// operations) on a single-member etcd on loopback that fsyncs like the
// bbolt store, for BENCHMARKS.md, and reads through one and two servers.

var (
	benchOnce    sync.Once
	benchCluster *etcdtest.Cluster
	benchErr     error
)

// benchStore opens a store under a fresh prefix of the benchmarks'
// cluster: one member, with fsync.
func benchStore(b *testing.B) *etcdstore.Store {
	b.Helper()
	benchOnce.Do(func() {
		var bin string
		if bin, benchErr = etcdBinary(); benchErr == nil {
			benchCluster, benchErr = etcdtest.StartBinary(bin, 1, "", etcdtest.WithFsync())
		}
	})
	if benchErr != nil {
		b.Fatalf("start etcd: %v", benchErr)
	}
	return openStore(b, newClient(b, benchCluster), freshPrefix())
}

// bigArticle returns an article of about 5 KB of text, like the store
// benchmarks'.
func bigArticle(slug string, i int) *articlesv1.Article {
	var body strings.Builder
	for p := 0; body.Len() < 5000; p++ {
		fmt.Fprintf(&body, "Paragraph %d of article %d discusses policy, trade and security in measured words. ", p, i)
		if p%4 == 3 {
			body.WriteString("\n\n")
		}
	}
	return &articlesv1.Article{
		Slug:        slug,
		Title:       fmt.Sprintf("Article number %d on regional affairs", i),
		Body:        body.String(),
		Authors:     []string{"Ann Author"},
		Tags:        []string{"policy"},
		PublishTime: timestamppb.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)),
	}
}

func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		st := benchStore(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := st.Create(ctx, bigArticle(fmt.Sprintf("s-%d", i), i), ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel16", func(b *testing.B) {
		st := benchStore(b)
		var n atomic.Int64
		b.SetParallelism(16)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				if _, err := st.Create(ctx, bigArticle(fmt.Sprintf("p-%d", i), i), ""); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// seeded returns a store holding 1000 big articles, and their ids.
func seeded(b *testing.B) (*etcdstore.Store, []string) {
	b.Helper()
	ctx := context.Background()
	st := benchStore(b)
	var batch []*articlesv1.Article
	for i := range 1000 {
		batch = append(batch, bigArticle(fmt.Sprintf("g-%d", i), i))
	}
	if _, err := st.Import(ctx, batch); err != nil {
		b.Fatal(err)
	}
	var ids []string
	if err := st.List(ctx, articles.Query{}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		ids = append(ids, a.GetId())
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return st, ids
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	st, ids := seeded(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := st.Get(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListPage100(b *testing.B) {
	ctx := context.Background()
	st, _ := seeded(b)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := st.List(ctx, articles.Query{}, articles.Cursor{}, 100, func(*articlesv1.Article) error { n++; return nil }); err != nil || n != 100 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkServerGet is GetArticle over loopback gRPC, 16 callers per
// GOMAXPROCS, through one server or balanced over two servers, each with
// its own store (and etcd client) on the same prefix.
func BenchmarkServerGet(b *testing.B) {
	st, ids := seeded(b)
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			var addrs []string
			for i := range n {
				s := st
				if i > 0 {
					s = openStore(b, newClient(b, benchCluster), st.Prefix())
				}
				addrs = append(addrs, serveBench(b, s))
			}
			c, err := client.New(context.Background(), "", client.WithAddresses(addrs...))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			// Warm: connect to every server before timing.
			for i := range 4 * n {
				if _, err := c.Get(context.Background(), ids[i]); err != nil {
					b.Fatal(err)
				}
			}
			var k atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Get(context.Background(), ids[int(k.Add(1))%len(ids)]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// serveBench serves st on a loopback port until the benchmark ends.
func serveBench(b *testing.B, st server.Store) string {
	b.Helper()
	srv, err := server.New(context.Background(), st)
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := srv.GRPCServer()
	go gs.Serve(lis)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.GracefulStop(ctx)
	})
	return lis.Addr().String()
}

// BenchmarkServerImportStream is the v1 import and stream benchmarks on
// the etcd backend: ImportArticles of n articles of about 5 KB through one
// server, then StreamArticles of all of them (full view).
func BenchmarkServerImportStream(b *testing.B) {
	const n = 2000
	ctx := context.Background()
	for b.Loop() {
		st := benchStore(b)
		c, err := client.New(ctx, serveBench(b, st))
		if err != nil {
			b.Fatal(err)
		}
		arts := make([]*articlesv1.Article, n)
		for i := range arts {
			arts[i] = bigArticle("", i)
		}
		start := time.Now()
		res, err := c.Import(ctx, slices.Values(arts))
		if err != nil || res.GetCreated() != n {
			b.Fatalf("import: %v, %v", res, err)
		}
		b.ReportMetric(n/time.Since(start).Seconds(), "import-articles/s")

		start = time.Now()
		got, bytes := 0, 0
		for a, err := range c.Stream(ctx, &articlesv1.StreamArticlesRequest{View: articlesv1.ArticleView_ARTICLE_VIEW_FULL}) {
			if err != nil {
				b.Fatal(err)
			}
			got++
			bytes += len(a.GetBody())
		}
		if got != n {
			b.Fatalf("streamed %d articles, want %d", got, n)
		}
		sec := time.Since(start).Seconds()
		b.ReportMetric(float64(n)/sec, "stream-articles/s")
		b.ReportMetric(float64(bytes)/sec/1e6, "stream-MB/s")
		c.Close()
	}
}
