package bench_test

// Paired runs: the no-op server and the real one measured in alternating
// short rounds within one benchmark, so that the drift of a shared
// machine's speed (other work starting and stopping) falls on both alike
// and their ratio is meaningful. Run with -benchtime 1x.

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// pairRounds is how many rounds each server gets per iteration.
const pairRounds = 6

// BenchmarkGetArticlePaired reports the GetArticle calls/s of the no-op
// server and of the real one with 1 and with 50 callers, alternating
// rounds of 500 ms, and their ratio.
func BenchmarkGetArticlePaired(b *testing.B) {
	for _, callers := range []int{1, 50} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			noopRPC := startNoop(b, 0)
			realRPC, srv := startReal(b)
			seed(b, srv, 100)
			settle(b, realRPC)
			noopReq := &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: "01J0000000000000000000000"}}
			realReq := &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: firstID(b, realRPC)}}
			// round runs callers goroutines calling rpc for d and returns
			// the calls completed.
			round := func(rpc articlesv1.ArticleServiceClient, req *articlesv1.GetArticleRequest, d time.Duration) int64 {
				ctx := context.Background()
				var calls atomic.Int64
				deadline := time.Now().Add(d)
				var wg sync.WaitGroup
				for range callers {
					wg.Go(func() {
						for time.Now().Before(deadline) {
							if _, err := rpc.GetArticle(ctx, req); err != nil {
								b.Error(err)
								return
							}
							calls.Add(1)
						}
					})
				}
				wg.Wait()
				return calls.Load()
			}
			const d = 500 * time.Millisecond
			round(noopRPC, noopReq, d/5) // warm both up
			round(realRPC, realReq, d/5)
			var noopCalls, realCalls int64
			for b.Loop() {
				for range pairRounds {
					noopCalls += round(noopRPC, noopReq, d)
					realCalls += round(realRPC, realReq, d)
				}
			}
			sec := (d * pairRounds * time.Duration(b.N)).Seconds()
			b.ReportMetric(float64(noopCalls)/sec, "noop-calls/s")
			b.ReportMetric(float64(realCalls)/sec, "real-calls/s")
			b.ReportMetric(float64(realCalls)/float64(noopCalls), "ratio")
		})
	}
}

// BenchmarkStreamArticlesPaired reports the MB/s of article bodies of a
// stream of 10,000 articles of about 5 KB (FULL view) from the no-op
// server and from the real one, alternating whole streams, and their
// ratio; and the CPU time of the process (client and server) per stream,
// which a loaded machine disturbs less than the wall time.
func BenchmarkStreamArticlesPaired(b *testing.B) {
	const n = 10_000
	noopRPC := startNoop(b, n)
	realRPC, srv := startReal(b)
	seed(b, srv, n)
	settle(b, realRPC)
	// stream reads one whole stream and returns the body bytes, the time
	// it took and the CPU time of this process (client and server).
	stream := func(rpc articlesv1.ArticleServiceClient) (int64, time.Duration, time.Duration) {
		start, cpu := time.Now(), processCPU()
		s, err := rpc.StreamArticles(context.Background(), &articlesv1.StreamArticlesRequest{View: articlesv1.ArticleView_ARTICLE_VIEW_FULL})
		if err != nil {
			b.Fatal(err)
		}
		var bytes int64
		got := 0
		for {
			m, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			bytes += int64(len(m.GetArticle().GetBody()))
			got++
		}
		if got != n {
			b.Fatalf("streamed %d articles, want %d", got, n)
		}
		return bytes, time.Since(start), processCPU() - cpu
	}
	stream(noopRPC) // warm both up
	stream(realRPC)
	var noopBytes, realBytes int64
	var noopTime, realTime, noopCPU, realCPU time.Duration
	for b.Loop() {
		for range pairRounds {
			nb, nt, nc := stream(noopRPC)
			rb, rt, rc := stream(realRPC)
			noopBytes, noopTime, noopCPU = noopBytes+nb, noopTime+nt, noopCPU+nc
			realBytes, realTime, realCPU = realBytes+rb, realTime+rt, realCPU+rc
		}
	}
	streams := float64(pairRounds * b.N)
	b.ReportMetric(noopCPU.Seconds()*1e3/streams, "noop-cpu-ms/stream")
	b.ReportMetric(realCPU.Seconds()*1e3/streams, "real-cpu-ms/stream")
	noopRate := float64(noopBytes) / noopTime.Seconds() / 1e6
	realRate := float64(realBytes) / realTime.Seconds() / 1e6
	b.ReportMetric(noopRate, "noop-MB/s")
	b.ReportMetric(realRate, "real-MB/s")
	b.ReportMetric(realRate/noopRate, "ratio")
}
