package bench_test

// Change-feed benchmarks (issue 3): delivery latency with 1, 100 and 1,000
// watchers, write throughput with 1,000 watchers attached against none, and
// catch-up speed from the change log. Like the rest of this package they
// run the real server on a real bbolt file over loopback TCP, and the
// clients (writers and watchers) share the process, and so the CPU, with
// the server: on a small machine the watchers' own decoding competes with
// the writers.

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

// watchTimeout bounds every change-feed benchmark run, so that a lost event
// fails the run instead of hanging it.
const watchTimeout = 5 * time.Minute

// streamsPerConn is how many watch streams share one client connection: a
// connection's streams share its flow control and its reader goroutine,
// and servers commonly cap concurrent streams per connection.
const streamsPerConn = 100

// listen serves srv once more on its own loopback listener, stopped at
// cleanup, and returns its address.
func listen(b *testing.B, srv *server.Server) string {
	b.Helper()
	g := srv.GRPCServer()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go g.Serve(lis)
	b.Cleanup(g.Stop)
	return lis.Addr().String()
}

// dialN serves srv once more on its own loopback listener and returns n
// client connections to it, all closed at cleanup.
func dialN(b *testing.B, srv *server.Server, n int, opts ...grpc.DialOption) []articlesv1.ArticleServiceClient {
	b.Helper()
	addr := listen(b, srv)
	clients := make([]articlesv1.ArticleServiceClient, n)
	for i := range clients {
		conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		clients[i] = articlesv1.NewArticleServiceClient(conn)
	}
	return clients
}

// openWatchers opens n watch streams from now, spread over n/100+1
// connections dialled with opts, and waits for each one's opening PROGRESS
// event. It returns the streams and the revision they all start after. The
// streams end when ctx does.
func openWatchers(ctx context.Context, b *testing.B, srv *server.Server, n int, opts ...grpc.DialOption) ([]grpc.ServerStreamingClient[articlesv1.ArticleEvent], int64) {
	return openFilteredWatchers(ctx, b, srv, n, "", opts...)
}

// openFilteredWatchers is openWatchers for streams filtered by tag.
func openFilteredWatchers(ctx context.Context, b *testing.B, srv *server.Server, n int, tag string, opts ...grpc.DialOption) ([]grpc.ServerStreamingClient[articlesv1.ArticleEvent], int64) {
	b.Helper()
	clients := dialN(b, srv, n/streamsPerConn+1, opts...)
	streams := make([]grpc.ServerStreamingClient[articlesv1.ArticleEvent], n)
	base := int64(-1)
	for i := range streams {
		s, rev := openWatchRequest(ctx, b, clients[i%len(clients)], &articlesv1.WatchArticlesRequest{Tag: tag})
		if base >= 0 && rev != base {
			b.Fatalf("watcher %d starts after revision %d, the others after %d", i, rev, base)
		}
		streams[i], base = s, rev
	}
	if base < 0 {
		base = currentRevision(ctx, b, clients[0])
	}
	return streams, base
}

// currentRevision returns the store's revision, as the opening PROGRESS
// event of a watch from now tells it, and closes that watch.
func currentRevision(ctx context.Context, b *testing.B, rpc articlesv1.ArticleServiceClient) int64 {
	b.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, rev := openWatch(ctx, b, rpc, 0)
	return rev
}

// openWatch opens one watch stream from start and returns it with the
// revision of its opening PROGRESS event.
func openWatch(ctx context.Context, b *testing.B, rpc articlesv1.ArticleServiceClient, start int64) (grpc.ServerStreamingClient[articlesv1.ArticleEvent], int64) {
	b.Helper()
	return openWatchRequest(ctx, b, rpc, &articlesv1.WatchArticlesRequest{StartRevision: start})
}

// openWatchRequest is openWatch for any request.
func openWatchRequest(ctx context.Context, b *testing.B, rpc articlesv1.ArticleServiceClient, req *articlesv1.WatchArticlesRequest) (grpc.ServerStreamingClient[articlesv1.ArticleEvent], int64) {
	b.Helper()
	s, err := rpc.WatchArticles(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	ev, err := s.Recv()
	if err != nil {
		b.Fatalf("opening a watch: %v", err)
	}
	if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
		b.Fatalf("first event of a watch is %v, want PROGRESS", ev.GetType())
	}
	return s, ev.GetRevision()
}

// receive reads s until it has had the count events after revision base,
// checking that each is a CREATED event of the next revision (no gap, no
// duplicate, in order), and calls got(i) as the i-th arrives. PROGRESS
// events are skipped; batches are taken apart. It ends early when the stream fails (its context
// ends).
func receive(s grpc.ServerStreamingClient[articlesv1.ArticleEvent], base int64, count int, got func(i int)) error {
	next, last := base+1, base+int64(count)
	for next <= last {
		m, err := s.Recv()
		if err != nil {
			return fmt.Errorf("watch after revision %d of %d: %w", next-1, last, err)
		}
		evs := m.GetEvents() // a batch, if the watch asked for them
		if len(evs) == 0 {
			evs = []*articlesv1.ArticleEvent{m}
		}
		for _, ev := range evs {
			if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
				continue
			}
			if ev.GetRevision() != next || ev.GetType() != articlesv1.ArticleEvent_CREATED {
				return fmt.Errorf("watch got %v at revision %d, want CREATED at %d", ev.GetType(), ev.GetRevision(), next)
			}
			if got != nil {
				got(int(next - base - 1))
			}
			next++
		}
	}
	return nil
}

// receiveNone reads s until ctx ends, failing if anything but a PROGRESS
// event arrives.
func receiveNone(ctx context.Context, s grpc.ServerStreamingClient[articlesv1.ArticleEvent]) error {
	for {
		ev, err := s.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
			return fmt.Errorf("a watcher filtered by a tag no article has got %v at revision %d", ev.GetType(), ev.GetRevision())
		}
	}
}

// headerCodec is a client codec that decodes only the type and revision of
// an ArticleEvent and skips its article; other messages are plain proto.
// Watchers using it still receive every byte of every event but spend
// almost nothing decoding, so that a benchmark sharing the CPU with them
// shows the server's own cost of feeding them.
type headerCodec struct{}

func (headerCodec) Name() string { return "proto" }

func (headerCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := proto.Marshal(v.(proto.Message))
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (headerCodec) Unmarshal(data mem.BufferSlice, v any) error {
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	ev, ok := v.(*articlesv1.ArticleEvent)
	if !ok {
		return proto.Unmarshal(b, v.(proto.Message))
	}
	ev.Reset()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.VarintType && (num == 1 || num == 2) {
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if num == 1 {
				ev.Type = articlesv1.ArticleEvent_Type(x)
			} else {
				ev.Revision = int64(x)
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// percentile returns the p-quantile (0 < p <= 1) of sorted, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// BenchmarkWatchLatency measures event delivery latency: from a create
// being acknowledged to its client until each of N watchers (reading from
// now, in their own goroutines, over N/100+1 connections) has received its
// event. One writer creates b.N articles of about 5 KB serially; p50-ms and
// p99-ms are over every (write, watcher) pair. An event that arrives before
// its create's reply counts as 0, and early-% is the share of those. ns/op
// is the time per write until every watcher has it. filtered=999 adds
// watchers filtered by a tag no article has, which receive nothing.
func BenchmarkWatchLatency(b *testing.B) {
	for _, c := range []struct {
		n, filtered int // watchers that receive every event, and ones filtered by a tag no article has
	}{{1, 0}, {100, 0}, {1000, 0}, {1, 999}} {
		name := fmt.Sprintf("watchers=%d", c.n)
		if c.filtered > 0 {
			name += fmt.Sprintf("/filtered=%d", c.filtered)
		}
		b.Run(name, func(b *testing.B) {
			n := c.n
			rpc, srv := startReal(b)
			ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }() // also on b.Fatal
			if c.filtered > 0 {
				fctx, stop := context.WithCancel(ctx)
				var fwg sync.WaitGroup
				defer func() { stop(); fwg.Wait() }()
				others, _ := openFilteredWatchers(fctx, b, srv, c.filtered, "no-such-tag")
				for _, s := range others {
					fwg.Go(func() {
						if err := receiveNone(fctx, s); err != nil {
							b.Error(err)
						}
					})
				}
			}
			streams, base := openWatchers(ctx, b, srv, n)

			// sent[i] is when the create of revision base+1+i returned;
			// recv[w*b.N+i] is when watcher w received that event. Both
			// count from t0 on the monotonic clock.
			t0 := time.Now()
			sent := make([]time.Duration, b.N)
			recv := make([]time.Duration, n*b.N)
			errs := make([]error, n)
			for w, s := range streams {
				mine := recv[w*b.N : (w+1)*b.N]
				wg.Go(func() {
					errs[w] = receive(s, base, b.N, func(i int) { mine[i] = time.Since(t0) })
				})
			}
			b.ResetTimer()
			for i := range b.N {
				a, err := rpc.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: article(i)})
				if err != nil {
					b.Fatal(err)
				}
				sent[i] = time.Since(t0)
				if got, want := a.GetRevision(), base+int64(i)+1; got != want {
					b.Fatalf("create %d has revision %d, want %d", i, got, want)
				}
			}
			wg.Wait()
			b.StopTimer()
			for w, err := range errs {
				if err != nil {
					b.Fatalf("watcher %d: %v", w, err)
				}
			}
			early := 0
			for j := range recv {
				recv[j] -= sent[j%b.N] // now the latency
				if recv[j] < 0 {
					recv[j] = 0
					early++
				}
			}
			slices.Sort(recv)
			b.ReportMetric(float64(percentile(recv, 0.50))/1e6, "p50-ms")
			b.ReportMetric(float64(percentile(recv, 0.99))/1e6, "p99-ms")
			b.ReportMetric(100*float64(early)/float64(len(recv)), "early-%")
		})
	}
}

// BenchmarkWatchWriteThroughput measures creates of about 5 KB from 16
// concurrent callers with 0 or 1,000 watchers attached that read every
// event (the target: at most 10% fewer creates/s with 1,000 watchers than
// with none). creates/s counts until the last create is acknowledged;
// drain-ms is how long after that the last watcher had every event. Every
// watcher must get every event, in order, or the run fails.
//
// Where the watchers run:
//   - in-process: in this process, so with full decoding (as a real client
//     does) their own work competes with the server for the CPU; the
//     "headers" case decodes only each event's type and revision
//     (headerCodec).
//   - process=nice19: in a process of their own at the lowest CPU priority
//     (watchproc_test.go), standing in for watchers on other machines;
//     view=basic: watching in the BASIC view (no body, no author bio).
//   - process=idle: the same under Linux's SCHED_IDLE policy as well,
//     which runs the process only when no other wants the CPU: at nice 19
//     it still takes a share, and a server thread that wakes may wait for
//     it to finish its slice.
//
// rate=100MiB runs the server with WithWatchRate(100 MiB/s). cpu-µs/create
// is the CPU time of this process (server and writers, and in-process
// watchers) per create while the creates run, and drained-cpu-µs/create
// the same until every watcher has every event (the server's whole cost
// of feeding them, however far behind they were); watcher-cpu-µs/create is
// the watcher process's, from its start to its end (it drains after the
// creates), per create; idle-% is the share of the machine's CPU time
// idle while the creates run (Linux only).
func BenchmarkWatchWriteThroughput(b *testing.B) {
	const (
		callers = 16
		capped  = 100 << 20 // bytes/s of server.WithWatchRate
	)
	for _, c := range []struct {
		name    string
		n       int
		headers bool // in this process, decoding only type and revision
		process bool // in a watcher process at nice 19 (watchproc_test.go)
		rate    int  // server.WithWatchRate
		none    bool // filtered by a tag no article has: they receive nothing
		basic   bool // in the BASIC view (process only)
		idle    bool // the watcher process also under SCHED_IDLE (Linux)
		gzip    bool // the watcher process's streams ask for gzip
	}{
		{name: "watchers=0", n: 0},
		{name: "watchers=1000/uncapped/in-process/filter=none", n: 1000, none: true},
		{name: "watchers=1000/uncapped/in-process/decode=full", n: 1000},
		{name: "watchers=1000/uncapped/in-process/decode=headers", n: 1000, headers: true},
		{name: "watchers=1000/uncapped/process=nice19", n: 1000, process: true},
		{name: "watchers=1000/uncapped/process=nice19/view=basic", n: 1000, process: true, basic: true},
		{name: "watchers=1000/uncapped/process=nice19/view=basic/gzip", n: 1000, process: true, basic: true, gzip: true},
		{name: "watchers=1000/uncapped/process=nice19/gzip", n: 1000, process: true, gzip: true},
		{name: "watchers=1000/uncapped/process=idle", n: 1000, process: true, idle: true},
		{name: "watchers=1000/uncapped/process=idle/view=basic", n: 1000, process: true, idle: true, basic: true},
		{name: "watchers=1000/rate=100MiB/in-process/decode=full", n: 1000, rate: capped},
		{name: "watchers=1000/rate=100MiB/process=nice19", n: 1000, process: true, rate: capped},
	} {
		b.Run(c.name, func(b *testing.B) {
			rpc, srv := startReal(b, server.WithWatchRate(c.rate))
			ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			var (
				base     int64
				errs     = make([]error, 1)
				other    func() (time.Duration, error)
				stopNone = func() {}
			)
			switch {
			case c.process:
				view := articlesv1.ArticleView_ARTICLE_VIEW_FULL
				if c.basic {
					view = articlesv1.ArticleView_ARTICLE_VIEW_BASIC
				}
				base, other = startWatcherProcess(b, listen(b, srv), c.n, b.N, view, c.idle, c.gzip)
			case c.none:
				var sctx context.Context
				sctx, stopNone = context.WithCancel(ctx)
				var streams []grpc.ServerStreamingClient[articlesv1.ArticleEvent]
				streams, base = openFilteredWatchers(sctx, b, srv, c.n, "no-such-tag")
				errs = make([]error, c.n)
				for w, s := range streams {
					wg.Go(func() { errs[w] = receiveNone(sctx, s) })
				}
			default:
				var opts []grpc.DialOption
				if c.headers {
					opts = append(opts, grpc.WithDefaultCallOptions(grpc.ForceCodecV2(headerCodec{})))
				}
				var streams []grpc.ServerStreamingClient[articlesv1.ArticleEvent]
				streams, base = openWatchers(ctx, b, srv, c.n, opts...)
				errs = make([]error, c.n)
				for w, s := range streams {
					wg.Go(func() { errs[w] = receive(s, base, b.N, nil) })
				}
			}
			var next atomic.Int64
			var writers sync.WaitGroup
			b.ResetTimer()
			cpu0 := processCPU()
			idle0, total0 := machineIdle()
			for range callers {
				writers.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						a, err := rpc.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: article(int(i))})
						if err != nil {
							b.Error(err)
							return
						}
						if a.GetRevision() <= base {
							b.Errorf("create has revision %d, but the watchers start after %d", a.GetRevision(), base)
						}
					}
				})
			}
			writers.Wait()
			acked := time.Now()
			b.StopTimer()
			written := b.Elapsed()
			cpu := processCPU() - cpu0
			idle1, total1 := machineIdle()
			stopNone()
			wg.Wait()
			var otherCPU time.Duration
			if other != nil {
				otherCPU, errs[0] = other()
			}
			drain := time.Since(acked)
			drained := processCPU() - cpu0
			for w, err := range errs {
				if err != nil {
					b.Fatalf("watcher %d: %v", w, err)
				}
			}
			b.ReportMetric(float64(b.N)/written.Seconds(), "creates/s")
			b.ReportMetric(float64(drain)/1e6, "drain-ms")
			b.ReportMetric(float64(cpu)/float64(b.N)/1e3, "cpu-µs/create")
			b.ReportMetric(float64(drained)/float64(b.N)/1e3, "drained-cpu-µs/create")
			if other != nil {
				b.ReportMetric(float64(otherCPU)/float64(b.N)/1e3, "watcher-cpu-µs/create")
			}
			if total1 > total0 {
				b.ReportMetric(100*float64(idle1-idle0)/float64(total1-total0), "idle-%")
			}
		})
	}
}

// BenchmarkWatchCatchUp measures how fast a watcher from revision 1 reads
// a change log of 20,000 small events: almost all of it comes from the
// store (the server's ring holds only the newest events), in short read
// transactions.
func BenchmarkWatchCatchUp(b *testing.B) {
	const k = 20_000
	rpc, srv := startReal(b)
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	batch := make([]*articlesv1.Article, k)
	for i := range batch {
		batch[i] = &articlesv1.Article{
			Title:   fmt.Sprintf("Catch-up article %d", i),
			Body:    fmt.Sprintf("A short body for catch-up article %d.", i),
			Authors: []string{fmt.Sprintf("Author %d", i%17)},
			Source:  "BENCH",
			Tags:    []string{"bench"},
		}
	}
	res, err := srv.Import(ctx, batch)
	if err != nil || len(res.GetFailures()) > 0 || res.GetCreated() != k {
		b.Fatalf("import: %v %v", res, err)
	}
	// A search waits for the full-text engine to index every write
	// before it, which keeps the indexer from competing with the watcher.
	if _, err := rpc.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "catch"}); err != nil {
		b.Fatalf("search (waiting for the indexer): %v", err)
	}
	first := currentRevision(ctx, b, rpc) - k + 1

	for b.Loop() {
		wctx, wcancel := context.WithCancel(ctx)
		s, start := openWatch(wctx, b, rpc, first)
		if start != first-1 {
			wcancel()
			b.Fatalf("watch from %d opens at %d, want %d", first, start, first-1)
		}
		err := receive(s, first-1, k, nil)
		wcancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(k*b.N)/b.Elapsed().Seconds(), "events/s")
}
