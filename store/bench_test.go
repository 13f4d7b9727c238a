package store_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/fulltext"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// bigArticle returns an article of about 5 KB of text.
func bigArticle(slug string, i int) *articlesv1.Article {
	a := art(slug)
	var body strings.Builder
	for p := 0; body.Len() < 5000; p++ {
		fmt.Fprintf(&body, "Paragraph %d of article %d discusses policy, trade and security in measured words. ", p, i)
		if p%4 == 3 {
			body.WriteString("\n\n")
		}
	}
	a.Body = body.String()
	a.Title = fmt.Sprintf("Article number %d on regional affairs", i)
	a.PublishTime = timestamppb.New(day0.Add(time.Duration(i) * time.Minute))
	return a
}

func BenchmarkCreate(b *testing.B) {
	store.ProductionBounds(b)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		db := mustOpen(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := db.Create(ctx, bigArticle(fmt.Sprintf("s-%d", i), i), ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel16", func(b *testing.B) {
		db := mustOpen(b)
		var n atomic.Int64
		b.SetParallelism(16) // 16 goroutines per GOMAXPROCS
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				if _, err := db.Create(ctx, bigArticle(fmt.Sprintf("p-%d", i), i), ""); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// importDocs is the number of articles BenchmarkImport and
// BenchmarkImportRPC import per run.
var importDocs = flag.Int("import.docs", 10_000, "articles BenchmarkImport and BenchmarkImportRPC import per run")

// BenchmarkImport imports 10,000 articles (-import.docs) of about 5 KB
// into a new store in the server's batches of 500, with a full-text engine
// following the store and without one. Two corpora:
// "repetitive" articles of a few dozen distinct words (bigArticle), and
// "zipf" ones of Zipf-distributed words from a 50,000-word vocabulary
// (benchCorpus, some 400 distinct words per article), which is what makes
// indexing costly. Indexing is asynchronous: "articles/s" is the rate at
// which imports are acknowledged, and for the indexed runs
// "indexed-articles/s" the rate until the index has caught up with them.
// "cpu-ms/op" is the processor time the process used meanwhile (till
// indexed), which, unlike those rates, other work on the machine barely
// changes.
func BenchmarkImport(b *testing.B) {
	store.ProductionBounds(b)
	ctx := context.Background()
	n := *importDocs
	repetitive := make([]*articlesv1.Article, n)
	for i := range repetitive {
		repetitive[i] = bigArticle(fmt.Sprintf("imp-%d", i), i)
	}
	zipf := benchCorpus(n)
	for _, corpus := range []struct {
		name string
		arts []*articlesv1.Article
	}{{"repetitive", repetitive}, {"zipf", zipf}} {
		for _, bc := range []struct {
			name  string
			index bool
		}{{"indexed", true}, {"unindexed", false}} {
			b.Run(corpus.name+"/"+bc.name, func(b *testing.B) {
				b.ReportAllocs()
				benchImport(b, n, bc.index, func(db *store.DB, _ *fulltext.Engine) func() {
					return func() {
						// The server imports in batches of at most 500.
						for i := 0; i < n; i += 500 {
							if _, err := db.Import(ctx, corpus.arts[i:min(i+500, n)]); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
			})
		}
	}
}

// benchImport runs b's loop over imports of n articles, each into a new
// store, with the full-text index or without it: prepare, untimed, returns
// the import into the store it is given. It reports the rate at which
// imports were acknowledged, with the index the rate until the index had
// caught up with them, and the process's processor time per import.
func benchImport(b *testing.B, n int, index bool, prepare func(*store.DB, *fulltext.Engine) (run func())) {
	var acked, indexed, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		db := mustOpen(b)
		var eng *fulltext.Engine
		if index {
			var err error
			if eng, err = fulltext.Open(filepath.Join(b.TempDir(), "index"), db); err != nil {
				b.Fatal(err)
			}
		}
		run := prepare(db, eng)
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU()
		run()
		acked += time.Since(start)
		if index {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			err := eng.WaitCurrent(ctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			indexed += time.Since(start)
		}
		cpu += processCPU() - cpu0
		if eng != nil {
			b.StopTimer()
			eng.Close()
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(n*b.N)/acked.Seconds(), "articles/s")
	if index {
		b.ReportMetric(float64(n*b.N)/indexed.Seconds(), "indexed-articles/s")
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

func BenchmarkGet(b *testing.B) {
	store.ProductionBounds(b)
	ctx := context.Background()
	db := mustOpen(b)
	var ids []string
	var batch []*articlesv1.Article
	for i := range 1000 {
		batch = append(batch, bigArticle(fmt.Sprintf("g-%d", i), i))
	}
	if _, err := db.Import(ctx, batch); err != nil {
		b.Fatal(err)
	}
	if err := db.List(ctx, articles.Query{}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		ids = append(ids, a.GetId())
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := db.Get(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListPage100(b *testing.B) {
	store.ProductionBounds(b)
	ctx := context.Background()
	db := mustOpen(b)
	var batch []*articlesv1.Article
	for i := range 1000 {
		batch = append(batch, bigArticle(fmt.Sprintf("l-%d", i), i))
	}
	if _, err := db.Import(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := db.List(ctx, articles.Query{}, articles.Cursor{}, 100, func(*articlesv1.Article) error { n++; return nil }); err != nil || n != 100 {
			b.Fatal(n, err)
		}
	}
}
