package fulltext_test

import (
	"context"
	"flag"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles/fulltext"
)

var indexDocs = flag.Int("index.docs", 10_000, "articles BenchmarkIndexFeed indexes per run")

// BenchmarkIndexFeed measures the engine alone indexing an import: the
// store takes -index.docs Zipf articles of about 5 KB (in writes of 500)
// while the indexer is paused, then the indexer catches up through the
// change feed, as it does behind an ImportArticles stream. It reports
// the process's CPU time per article until a search would see them all
// (cpu-µs/searchable) and until the merges that follow have ended too
// (cpu-µs/merged), and the wall time to searchable per article. Nothing
// else of the process runs meanwhile, so the CPU time is the engine's
// (reading the feed included).
func BenchmarkIndexFeed(b *testing.B) {
	fulltext.ProductionBounds(b)
	ctx := context.Background()
	n := *indexDocs
	arts := benchCorpus(n)
	var searchable, merged, wall time.Duration
	runs := 0
	for b.Loop() {
		b.StopTimer()
		db := mustOpen(b)
		// The new file's rebuild first: the import is to go through
		// the feed.
		if err := db.WaitIndexed(ctx); err != nil {
			b.Fatal(err)
		}
		resume := db.PauseIndexer()
		for chunk := range slices.Chunk(arts, 500) {
			if _, err := db.Import(ctx, chunk); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		cpu0, start := cpuTime(b), time.Now()
		resume()
		if err := db.WaitIndexed(ctx); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		searchable += cpuTime(b) - cpu0
		waitMerges(b, db, 5*time.Minute, time.Millisecond)
		merged += cpuTime(b) - cpu0
		b.StopTimer()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		runs++
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n*runs) }
	b.ReportMetric(per(searchable), "cpu-µs/searchable")
	b.ReportMetric(per(merged), "cpu-µs/merged")
	b.ReportMetric(per(wall), "wall-µs/searchable")
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnalyze analyses articles of about 5 KB of Zipf-distributed
// words, one per op, after the process's dictionary has met them all.
func BenchmarkAnalyze(b *testing.B) {
	arts := benchCorpus(2000)
	for _, a := range arts {
		fulltext.AnalyzeSize(a)
	}
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		fulltext.AnalyzeSize(arts[i%len(arts)])
		i++
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(i), "cpu-ns/op")
}
