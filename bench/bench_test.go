package bench_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles/fulltext"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// bodyOf returns a plain-text body of about n bytes in paragraphs.
func bodyOf(seed, n int) string {
	words := []string{"security", "council", "federation", "treaty", "ukraine", "sanctions",
		"cooperation", "strategic", "economic", "partnership", "dialogue", "europe"}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		if i > 0 && i%60 == 0 {
			b.WriteString(".\n\n")
		} else if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[(seed*7+i*13+i/5)%len(words)])
	}
	return b.String()
}

func article(i int) *articlesv1.Article {
	return &articlesv1.Article{
		Title:       fmt.Sprintf("Benchmark article %d on strategic cooperation", i),
		Body:        bodyOf(i, 5000),
		Authors:     []string{fmt.Sprintf("Author %d", i%17)},
		Source:      "BENCH",
		Tags:        []string{"bench", fmt.Sprintf("t%d", i%5)},
		PublishTime: timestamppb.New(time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)),
	}
}

// startReal serves the real service (bbolt file in a temp dir) on loopback
// TCP and returns a client for it and the server for seeding.
func startReal(b *testing.B, opts ...server.Option) (articlesv1.ArticleServiceClient, *server.Server) {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.db")
	st, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := fulltext.Open(path+".search", st)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(ctx, st, append([]server.Option{server.WithLogger(slog.New(slog.DiscardHandler)), server.WithSearcher(eng)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	g := srv.GRPCServer()
	rpc := serve(b, g)
	b.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.GracefulStop(c)
		eng.Close()
		st.Close()
	})
	return rpc, srv
}

func serve(b *testing.B, g *grpc.Server) articlesv1.ArticleServiceClient {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go g.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(); g.Stop() })
	return articlesv1.NewArticleServiceClient(conn)
}

// noop answers GetArticle and StreamArticles from memory: the cost of gRPC
// alone, for comparison.
type noop struct {
	articlesv1.UnimplementedArticleServiceServer
	a *articlesv1.Article
	n int
}

func (s *noop) GetArticle(context.Context, *articlesv1.GetArticleRequest) (*articlesv1.Article, error) {
	return s.a, nil
}

func (s *noop) StreamArticles(_ *articlesv1.StreamArticlesRequest, stream grpc.ServerStreamingServer[articlesv1.StreamArticlesResponse]) error {
	for range s.n {
		if err := stream.Send(&articlesv1.StreamArticlesResponse{Article: s.a, Cursor: "c"}); err != nil {
			return err
		}
	}
	return nil
}

func startNoop(b *testing.B, n int) articlesv1.ArticleServiceClient {
	b.Helper()
	a := article(1)
	a.Id, a.Slug = "01J0000000000000000000000", "noop"
	g := grpc.NewServer()
	articlesv1.RegisterArticleServiceServer(g, &noop{a: a, n: n})
	return serve(b, g)
}

func seed(b *testing.B, srv *server.Server, n int) {
	b.Helper()
	batch := make([]*articlesv1.Article, n)
	for i := range batch {
		batch[i] = article(i)
	}
	res, err := srv.Import(context.Background(), batch)
	if err != nil || len(res.GetFailures()) > 0 || int(res.GetCreated()) != n {
		b.Fatalf("seed: %v %v", res, err)
	}
}

// settle waits until the full-text engine has indexed every article
// seeded (a search waits for that), so that its background work does not
// share the CPU with what is measured.
func settle(b *testing.B, rpc articlesv1.ArticleServiceClient) {
	b.Helper()
	if _, err := rpc.SearchArticles(context.Background(), &articlesv1.SearchArticlesRequest{Query: "strategic"}); err != nil {
		b.Fatalf("search (waiting for the indexer): %v", err)
	}
}

func firstID(b *testing.B, rpc articlesv1.ArticleServiceClient) string {
	b.Helper()
	resp, err := rpc.ListArticles(context.Background(), &articlesv1.ListArticlesRequest{PageSize: 1})
	if err != nil || len(resp.GetArticles()) == 0 {
		b.Fatalf("list: %v", err)
	}
	return resp.GetArticles()[0].GetId()
}

// BenchmarkGetArticle measures unary reads of one 5 KB article, serially and
// from 50 concurrent callers, against the no-op server in the same run.
func BenchmarkGetArticle(b *testing.B) {
	for _, impl := range []string{"noop", "real"} {
		for _, callers := range []int{1, 50} {
			b.Run(fmt.Sprintf("%s/callers=%d", impl, callers), func(b *testing.B) {
				var rpc articlesv1.ArticleServiceClient
				var id string
				if impl == "noop" {
					rpc, id = startNoop(b, 0), "01J0000000000000000000000"
				} else {
					var srv *server.Server
					rpc, srv = startReal(b)
					seed(b, srv, 100)
					settle(b, rpc)
					id = firstID(b, rpc)
				}
				req := &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: id}}
				ctx := context.Background()
				b.SetBytes(5000)
				b.ResetTimer()
				if callers == 1 {
					for b.Loop() {
						if _, err := rpc.GetArticle(ctx, req); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism((callers + 1) / 2) // GOMAXPROCS is 2 here
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := rpc.GetArticle(ctx, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkListArticles measures one page of 100 (BASIC view) out of 1,000.
func BenchmarkListArticles(b *testing.B) {
	rpc, srv := startReal(b)
	seed(b, srv, 1000)
	settle(b, rpc)
	ctx := context.Background()
	req := &articlesv1.ListArticlesRequest{PageSize: 100}
	b.ResetTimer()
	for b.Loop() {
		resp, err := rpc.ListArticles(ctx, req)
		if err != nil || len(resp.GetArticles()) != 100 {
			b.Fatalf("list: %d articles, %v", len(resp.GetArticles()), err)
		}
	}
}

// BenchmarkStreamArticles streams 10,000 articles of about 5 KB (FULL view)
// per iteration, beside the no-op server streaming the same message.
func BenchmarkStreamArticles(b *testing.B) {
	const n = 10_000
	for _, impl := range []string{"noop", "real"} {
		b.Run(impl, func(b *testing.B) {
			var rpc articlesv1.ArticleServiceClient
			if impl == "noop" {
				rpc = startNoop(b, n)
			} else {
				var srv *server.Server
				rpc, srv = startReal(b)
				seed(b, srv, n)
				settle(b, rpc)
			}
			ctx := context.Background()
			var sent atomic.Int64
			b.ResetTimer()
			for b.Loop() {
				stream, err := rpc.StreamArticles(ctx, &articlesv1.StreamArticlesRequest{View: articlesv1.ArticleView_ARTICLE_VIEW_FULL})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for {
					m, err := stream.Recv()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					sent.Add(int64(len(m.GetArticle().GetBody())))
					got++
				}
				if got != n {
					b.Fatalf("streamed %d articles, want %d", got, n)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(n*b.N)/sec, "articles/s")
			b.ReportMetric(float64(sent.Load())/sec/1e6, "MB/s")
		})
	}
}

// BenchmarkCreateArticle measures durable creates of a 5 KB article, serially
// and from 16 concurrent callers (who share fsyncs through group commit).
func BenchmarkCreateArticle(b *testing.B) {
	for _, callers := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			rpc, _ := startReal(b)
			ctx := context.Background()
			var next atomic.Int64
			create := func() error {
				a := article(int(next.Add(1)))
				_, err := rpc.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: a})
				return err
			}
			b.ResetTimer()
			if callers == 1 {
				for b.Loop() {
					if err := create(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(callers / 2)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := create(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

// BenchmarkImportArticles imports 10,000 new articles of about 5 KB per
// iteration through the client stream, durably and with every index.
func BenchmarkImportArticles(b *testing.B) {
	const n = 10_000
	rpc, _ := startReal(b)
	ctx := context.Background()
	arts := make([]*articlesv1.Article, n)
	for i := range arts {
		arts[i] = article(i)
	}
	round := 0
	b.ResetTimer()
	for b.Loop() {
		round++
		stream, err := rpc.ImportArticles(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for i, a := range arts {
			a.Title = fmt.Sprintf("Import round %d article %d", round, i)
			if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
				b.Fatal(err)
			}
		}
		res, err := stream.CloseAndRecv()
		if err != nil || res.GetCreated() != n {
			b.Fatalf("import: %v, %v", res, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "articles/s")
}
