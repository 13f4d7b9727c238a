package store_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed9c1868aa/articles/fulltext"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// BenchmarkImportRPC is BenchmarkImport's Zipf import as clients make
// it: 10,000 articles (-import.docs) through one ImportArticles stream of the real
// server on loopback TCP, with a full-text engine following the store
// and without one. The client, the server and the engine share the
// machine. Figures as in BenchmarkImport.
func BenchmarkImportRPC(b *testing.B) {
	store.ProductionBounds(b)
	n := *importDocs
	ctx := context.Background()
	arts := benchCorpus(n)
	for _, bc := range []struct {
		name  string
		index bool
	}{{"indexed", true}, {"unindexed", false}} {
		b.Run(bc.name, func(b *testing.B) {
			benchImport(b, n, bc.index, func(db *store.DB, eng *fulltext.Engine) func() {
				rpc := serveStore(b, db, eng)
				return func() {
					stream, err := rpc.ImportArticles(ctx)
					if err != nil {
						b.Fatal(err)
					}
					for _, a := range arts {
						if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
							b.Fatal(err)
						}
					}
					res, err := stream.CloseAndRecv()
					if err != nil || int(res.GetCreated()) != n {
						b.Fatalf("import: %v, %v", res, err)
					}
				}
			})
		})
	}
}

// serveStore serves db (searched through eng, if not nil) through the real server on a loopback port until
// the benchmark ends, and returns a client of it.
func serveStore(b *testing.B, db *store.DB, eng *fulltext.Engine) articlesv1.ArticleServiceClient {
	b.Helper()
	opts := []server.Option{server.WithLogger(slog.New(slog.DiscardHandler))}
	if eng != nil {
		opts = append(opts, server.WithSearcher(eng))
	}
	srv, err := server.New(context.Background(), db, opts...)
	if err != nil {
		b.Fatal(err)
	}
	g := srv.GRPCServer()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go g.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.GracefulStop(ctx)
	})
	return articlesv1.NewArticleServiceClient(conn)
}
