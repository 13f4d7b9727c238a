package main

// The bench subcommand: a load generator for one server.
//
// Workers run a mixed workload until --duration has passed, each keeping
// its own latency histograms and error counts (no shared state on the hot
// path), merged at the end. Reads are gets of preloaded articles, list
// pages and searches; writes are creates, updates of preloaded articles
// and deletes of the worker's own creations, so no op fails because
// another worker deleted its target. Held WatchArticles streams read every
// event and check that revisions arrive in order without gaps.
//
// Latencies go into log-linear histograms (32 buckets per power of two,
// so percentiles are within about 3% and memory does not grow with the
// run's length); the maximum is exact.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// benchConfig is what the bench flags set.
type benchConfig struct {
	duration    time.Duration
	concurrency int
	writeRatio  float64
	streams     int
	size        int
	preload     int
	conns       int
}

func (a *app) benchCommand() *cobra.Command {
	var cfg benchConfig
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a mixed read/write load against the server and report throughput and latency",
		Long: `Run a mixed workload against --addr for --duration and print, per kind of
operation, the count, errors, throughput and latency percentiles (p50, p90,
p99, max), then the errors by status code and what the held watch streams
received.

Before the clock starts, --preload articles are created. Then --concurrency
workers each loop: with probability --write-ratio a write (create 50%,
update of a preloaded article 35%, delete of one of the worker's own
creations 15%), otherwise a read (get by id 60%, a list page of 20 30%, a
search 10%). Bodies are --size bytes of plain text. Each call has the
--timeout deadline, and calls are never retried, so every failure is
counted. --streams WatchArticles streams are held open for the whole run,
read every event and check that revisions arrive in order with no gap;
--conns spreads workers and streams over that many connections.

The run takes --duration plus the time for calls in flight to finish. It
writes real articles (slugs bench-<run>-...) and leaves them behind, so
point it at a scratch server. The exit status is 1 when any call or
stream failed.`,
		Example: `  articles bench --duration 30s --concurrency 16 --write-ratio 0.1
  articles bench --addr 127.0.0.1:50051 --duration 60s --streams 200 --size 4096`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.check(); err != nil {
				return err
			}
			return a.bench(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to run the workload (after preloading)")
	f.IntVar(&cfg.concurrency, "concurrency", 8, "workers issuing calls concurrently, each one call at a time")
	f.Float64Var(&cfg.writeRatio, "write-ratio", 0.2, "fraction of calls that are writes, 0 to 1")
	f.IntVar(&cfg.streams, "streams", 0, "WatchArticles streams held open and read during the run")
	f.IntVar(&cfg.size, "size", 2048, "body size in bytes of created and updated articles")
	f.IntVar(&cfg.preload, "preload", 100, "articles created before the run, for gets and updates")
	f.IntVar(&cfg.conns, "conns", 1, "client connections to spread workers and streams over")
	return cmd
}

// check validates the flags.
func (c benchConfig) check() error {
	switch {
	case c.duration <= 0:
		return usagef("--duration must be positive")
	case c.concurrency < 1 || c.concurrency > 10_000:
		return usagef("--concurrency must be between 1 and 10000")
	case math.IsNaN(c.writeRatio) || c.writeRatio < 0 || c.writeRatio > 1:
		return usagef("--write-ratio must be between 0 and 1")
	case c.streams < 0 || c.streams > 100_000:
		return usagef("--streams must be between 0 and 100000")
	case c.size < 0 || c.size > 64<<20:
		return usagef("--size must be between 0 and 64 MiB")
	case c.preload < 1 || c.preload > 1_000_000:
		return usagef("--preload must be between 1 and 1000000")
	case c.conns < 1 || c.conns > 1000:
		return usagef("--conns must be between 1 and 1000")
	}
	return nil
}

// Operation kinds, in report order.
const (
	opGet = iota
	opList
	opSearch
	opCreate
	opUpdate
	opDelete
	numOps
)

var opNames = [numOps]string{"get", "list", "search", "create", "update", "delete"}

// words make up bodies, titles and search queries, so searches match.
var words = strings.Fields(`trade energy policy market border climate water grain
	railway harbour treaty election budget pipeline satellite archive museum
	festival drought harvest reform summit currency tariff migration research`)

// bench runs the workload and prints the report.
func (a *app) bench(ctx context.Context, cfg benchConfig) error {
	clients := make([]*client.Client, 0, cfg.conns)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range cfg.conns {
		c, err := a.dialBench(ctx)
		if err != nil {
			return err
		}
		clients = append(clients, c)
	}
	run := fmt.Sprintf("%08x", rand.Uint32())
	fmt.Fprintf(a.stderr, "bench %s: preloading %d articles\n", run, cfg.preload)
	ids, err := preload(ctx, clients, cfg, run)
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}

	// Watch streams start from now and are established before the clock
	// starts, so they see every write of the run.
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchers := make([]*watchStream, cfg.streams)
	var wwg sync.WaitGroup
	for i := range watchers {
		w := &watchStream{ready: make(chan struct{})}
		watchers[i] = w
		wwg.Go(func() { w.run(wctx, clients[i%len(clients)].Service()) })
	}
	for _, w := range watchers {
		select {
		case <-w.ready:
		case <-ctx.Done():
			stopWatch()
			wwg.Wait()
			return ctx.Err()
		}
	}

	fmt.Fprintf(a.stderr, "bench %s: running %v against %s (concurrency %d, write ratio %.2f, %d watch streams, body %d bytes)\n",
		run, cfg.duration, a.target.dial, cfg.concurrency, cfg.writeRatio, cfg.streams, cfg.size)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	results := make([]*workerStats, cfg.concurrency)
	var wg sync.WaitGroup
	for i := range results {
		ws := newWorkerStats()
		results[i] = ws
		w := &worker{
			id: i, run: run, cfg: cfg, ids: ids, stats: ws,
			rpc: clients[i%len(clients)].Service(),
			rng: rand.New(rand.NewPCG(rand.Uint64(), uint64(i))),
		}
		wg.Go(func() { w.loop(ctx, deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Give the watchers a bounded moment to receive the run's last writes.
	total := mergeStats(results)
	var final int64
	for _, ws := range results {
		final = max(final, ws.lastRev)
	}
	caughtUp := time.Now().Add(5 * time.Second)
	for _, w := range watchers {
		for w.last.Load() < final && w.err.Load() == nil && time.Now().Before(caughtUp) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	stopWatch()
	wwg.Wait()

	failed := a.benchReport(total, watchers, final, elapsed)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed {
		return errors.New("bench: some calls or streams failed (see the report)")
	}
	return nil
}

// dialBench connects like dial, without retries: a load test counts every
// failure instead of hiding it.
func (a *app) dialBench(ctx context.Context) (*client.Client, error) {
	return a.dial(ctx, client.WithRetry(1))
}

// preload creates cfg.preload articles, concurrently, and returns their ids.
func preload(ctx context.Context, clients []*client.Client, cfg benchConfig, run string) ([]string, error) {
	ids := make([]string, cfg.preload)
	var (
		next     atomic.Int64
		firstErr error
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	for w := range min(cfg.concurrency, cfg.preload) {
		rpc := clients[w%len(clients)].Service()
		rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(w)))
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				a, err := rpc.CreateArticle(ctx, &articlesv1.CreateArticleRequest{
					Article: benchArticle(rng, fmt.Sprintf("bench-%s-pre-%d", run, i), cfg.size),
				})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				ids[i] = a.GetId()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ids, nil
}

// benchArticle returns an article to create with the given slug and a body
// of size bytes.
func benchArticle(rng *rand.Rand, slug string, size int) *articlesv1.Article {
	return &articlesv1.Article{
		Slug:    slug,
		Title:   phrase(rng, 5) + " " + slug,
		Body:    text(rng, size),
		Authors: []string{"Bench Author"},
		Tags:    []string{"bench", words[rng.IntN(len(words))]},
		Source:  "bench",
	}
}

// phrase returns n random words.
func phrase(rng *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = words[rng.IntN(len(words))]
	}
	return strings.Join(ws, " ")
}

// text returns size bytes of words, in sentences and paragraphs.
func text(rng *rand.Rand, size int) string {
	var b strings.Builder
	b.Grow(size + 16)
	for n := 0; b.Len() < size; n++ {
		switch {
		case n == 0:
		case n%60 == 0:
			b.WriteString(".\n\n")
		case n%12 == 0:
			b.WriteString(". ")
		default:
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()[:size]
}

// worker issues calls one at a time.
type worker struct {
	id    int
	run   string
	cfg   benchConfig
	ids   []string // preloaded articles: read and updated, never deleted
	rpc   articlesv1.ArticleServiceClient
	rng   *rand.Rand
	stats *workerStats
	own   []string // articles this worker created and has not deleted
	made  int
}

// loop runs calls until deadline or ctx ends. A call in flight at the
// deadline finishes and counts; one cut off by ctx does not.
func (w *worker) loop(ctx context.Context, deadline time.Time) {
	for time.Now().Before(deadline) && ctx.Err() == nil {
		kind := w.pick()
		t0 := time.Now()
		rev, err := w.call(ctx, kind)
		d := time.Since(t0)
		if ctx.Err() != nil {
			return
		}
		w.stats.record(kind, d, err)
		w.stats.lastRev = max(w.stats.lastRev, rev)
	}
}

// pick chooses the next kind of call.
func (w *worker) pick() int {
	r := w.rng.Float64()
	if w.rng.Float64() < w.cfg.writeRatio {
		switch {
		case r < 0.50 || (r >= 0.85 && len(w.own) == 0):
			return opCreate
		case r < 0.85:
			return opUpdate
		default:
			return opDelete
		}
	}
	switch {
	case r < 0.60:
		return opGet
	case r < 0.90:
		return opList
	default:
		return opSearch
	}
}

// call makes one call of kind and returns the revision of a write.
func (w *worker) call(ctx context.Context, kind int) (int64, error) {
	id := w.ids[w.rng.IntN(len(w.ids))]
	switch kind {
	case opGet:
		_, err := w.rpc.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: id}})
		return 0, err
	case opList:
		_, err := w.rpc.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 20})
		return 0, err
	case opSearch:
		_, err := w.rpc.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: phrase(w.rng, 1+w.rng.IntN(2)), PageSize: 10})
		return 0, err
	case opCreate:
		w.made++
		a, err := w.rpc.CreateArticle(ctx, &articlesv1.CreateArticleRequest{
			Article: benchArticle(w.rng, fmt.Sprintf("bench-%s-%d-%d", w.run, w.id, w.made), w.cfg.size),
		})
		if err != nil {
			return 0, err
		}
		w.own = append(w.own, a.GetId())
		return a.GetRevision(), nil
	case opUpdate:
		a, err := w.rpc.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
			Article:    &articlesv1.Article{Id: id, Body: text(w.rng, w.cfg.size)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"body"}},
		})
		return a.GetRevision(), err
	case opDelete:
		i := w.rng.IntN(len(w.own))
		target := w.own[i]
		w.own[i] = w.own[len(w.own)-1]
		w.own = w.own[:len(w.own)-1]
		_, err := w.rpc.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: target})
		// A delete returns no revision; the watchers' final check uses
		// the other writes' revisions.
		return 0, err
	}
	return 0, fmt.Errorf("bench: unknown op %d", kind)
}

// watchStream is one held WatchArticles stream.
type watchStream struct {
	ready  chan struct{} // closed once the stream is established (or failed)
	events atomic.Int64  // change events received
	last   atomic.Int64  // revision of the last event (or the start)
	gaps   atomic.Int64  // events whose revision was not last+1
	err    atomic.Pointer[error]
}

// run reads the stream until ctx ends.
func (w *watchStream) run(ctx context.Context, rpc articlesv1.ArticleServiceClient) {
	readyOnce := sync.OnceFunc(func() { close(w.ready) })
	defer readyOnce()
	fail := func(err error) {
		if ctx.Err() == nil {
			w.err.Store(&err)
		}
	}
	stream, err := rpc.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{})
	if err != nil {
		fail(err)
		return
	}
	first, err := stream.Recv()
	if err != nil {
		fail(err)
		return
	}
	w.last.Store(first.GetRevision())
	readyOnce()
	for {
		ev, err := stream.Recv()
		if err != nil {
			fail(err)
			return
		}
		if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
			continue
		}
		w.events.Add(1)
		if ev.GetRevision() != w.last.Load()+1 {
			w.gaps.Add(1)
		}
		w.last.Store(ev.GetRevision())
	}
}

// workerStats is one worker's record of its calls.
type workerStats struct {
	ops     [numOps]*histogram
	errs    [numOps]int64
	codes   map[codes.Code]int64
	lastRev int64 // highest revision a write of this worker returned
}

func newWorkerStats() *workerStats {
	s := &workerStats{codes: map[codes.Code]int64{}}
	for i := range s.ops {
		s.ops[i] = new(histogram)
	}
	return s
}

// record counts one call; failed calls count as errors, not latencies.
func (s *workerStats) record(kind int, d time.Duration, err error) {
	if err != nil {
		s.errs[kind]++
		s.codes[status.Code(err)]++
		return
	}
	s.ops[kind].add(d)
}

// mergeStats adds up the workers' records.
func mergeStats(all []*workerStats) *workerStats {
	out := newWorkerStats()
	for _, s := range all {
		for i := range numOps {
			out.ops[i].merge(s.ops[i])
			out.errs[i] += s.errs[i]
		}
		for c, n := range s.codes {
			out.codes[c] += n
		}
		out.lastRev = max(out.lastRev, s.lastRev)
	}
	return out
}

// benchReport prints the report and says whether anything failed.
func (a *app) benchReport(s *workerStats, watchers []*watchStream, final int64, elapsed time.Duration) (failed bool) {
	secs := elapsed.Seconds()
	fmt.Fprintf(a.stdout, "duration %.2fs\n", secs)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tok\terrors\tops/s\tp50\tp90\tp99\tmax\t")
	all := new(histogram)
	var allErrs int64
	for i := range numOps {
		h := s.ops[i]
		all.merge(h)
		allErrs += s.errs[i]
		printRow(tw, opNames[i], h, s.errs[i], secs)
	}
	printRow(tw, "total", all, allErrs, secs)
	tw.Flush()

	if allErrs == 0 {
		fmt.Fprintln(a.stdout, "errors: none")
	} else {
		failed = true
		fmt.Fprintln(a.stdout, "errors by code:")
		cs := make([]codes.Code, 0, len(s.codes))
		for c := range s.codes {
			cs = append(cs, c)
		}
		slices.Sort(cs)
		for _, c := range cs {
			fmt.Fprintf(a.stdout, "  %s %d\n", codeName(c), s.codes[c])
		}
	}

	if len(watchers) > 0 {
		var events, gaps, behind, broken int64
		var firstErr error
		for _, w := range watchers {
			events += w.events.Load()
			gaps += w.gaps.Load()
			if w.last.Load() < final {
				behind++
			}
			if e := w.err.Load(); e != nil {
				broken++
				if firstErr == nil {
					firstErr = *e
				}
			}
		}
		fmt.Fprintf(a.stdout, "watch: %d streams, %d events (%.0f/s), %d out of order, %d behind revision %d at the end, %d broken\n",
			len(watchers), events, float64(events)/secs, gaps, behind, final, broken)
		if firstErr != nil {
			fmt.Fprintf(a.stdout, "watch: first stream error: %s\n", errorLine(firstErr))
		}
		if gaps > 0 || behind > 0 || broken > 0 {
			failed = true
		}
	}
	return failed
}

// printRow prints one line of the latency table.
func printRow(w io.Writer, name string, h *histogram, errs int64, secs float64) {
	if h.n == 0 {
		fmt.Fprintf(w, "%s\t%d\t%d\t%.1f\t-\t-\t-\t-\t\n", name, 0, errs, 0.0)
		return
	}
	fmt.Fprintf(w, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", name, h.n, errs, float64(h.n)/secs,
		fmtDur(h.quantile(0.50)), fmtDur(h.quantile(0.90)), fmtDur(h.quantile(0.99)), fmtDur(h.max))
}

// fmtDur prints a latency in milliseconds with three significant digits.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3fms", ms)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

// histogram counts durations in log-linear buckets: exact below 32 ns,
// then 32 buckets per power of two (at most about 3% wide).
type histogram struct {
	counts [64 << subBits]int64
	n      int64
	max    time.Duration
}

const subBits = 5

// bucketOf returns the bucket of ns nanoseconds.
func bucketOf(ns uint64) int {
	if ns < 1<<subBits {
		return int(ns)
	}
	e := bits.Len64(ns) - subBits - 1
	return (e+1)<<subBits + int((ns>>e)&(1<<subBits-1))
}

// lowerBound returns the smallest value in bucket i.
func lowerBound(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	e := i>>subBits - 1
	m := uint64(i&(1<<subBits-1)) | 1<<subBits
	return m << e
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the lower bound of the bucket holding the q-quantile,
// never more than the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(lowerBound(i)), h.max)
		}
	}
	return h.max
}
