package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/seed9c1868aa/articles/metrics"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// Example wires metrics the way cmd/articlesd does: the store reports its
// commits and statistics, the server its watchers, and the gRPC server
// built with ServerOptions records every call.
func Example() {
	dir, err := os.MkdirTemp("", "metrics-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The gauges read db and srv only when scraped, after both are set.
	var (
		db  *store.DB
		srv *server.Server
	)
	m := metrics.New(
		metrics.WithStoreStats(func() metrics.StoreStats {
			s := db.Stats()
			return metrics.StoreStats{Articles: s.Articles, FileSize: s.FileSize, Revision: s.Revision, Compacted: s.Compacted}
		}),
		metrics.WithWatchers(func() int { return srv.Watchers() }),
	)
	db, err = store.Open(filepath.Join(dir, "articles.db"), store.WithCommitObserver(m.ObserveCommit))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	srv, err = server.New(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.GracefulStop(ctx)
	gs := srv.GRPCServer(m.ServerOptions()...) // serve it on a listener
	m.InitializeMetrics(gs)

	if _, err := srv.Import(ctx, []*articlesv1.Article{{Title: "Hello", Body: "World."}}); err != nil {
		log.Fatal(err)
	}

	// A scrape; a daemon would run m.Serve(ctx, listener, pprof) instead.
	rec := httptest.NewRecorder()
	m.Mux(false).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"articles_store_articles ", "articles_store_revision ", "articles_store_commit_batch_ops_count ", "articles_watch_streams "} {
			if strings.HasPrefix(line, name) {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// articles_store_articles 1
	// articles_store_commit_batch_ops_count 1
	// articles_store_revision 1
	// articles_watch_streams 0
}
