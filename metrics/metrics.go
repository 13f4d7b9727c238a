// Package metrics exposes the service's Prometheus metrics and, on request,
// its pprof profiles over HTTP.
//
// It depends on no other package of this module: what it measures comes in
// as functions (WithStoreStats, WithWatchers) and observations
// (ObserveCommit), so only cmd/articlesd wires it to a store and a server.
//
// # Basics
//
// New builds a Metrics with its own registry holding:
//
//   - gRPC server metrics as go-grpc-middleware's prometheus provider
//     defines them, recorded by the interceptors of ServerOptions (or
//     UnaryServerInterceptor and StreamServerInterceptor):
//     grpc_server_started_total, grpc_server_handled_total (by grpc_code),
//     grpc_server_msg_received_total, grpc_server_msg_sent_total and the
//     grpc_server_handling_seconds histogram, each labelled by grpc_type,
//     grpc_service and grpc_method.
//   - Store gauges, read at scrape time from WithStoreStats' function:
//     articles_store_articles, articles_store_file_size_bytes,
//     articles_store_revision, articles_store_compacted_revision,
//     articles_search_index_revision, articles_search_index_lag_revisions.
//   - articles_watch_streams, open WatchArticles streams, from WithWatchers'
//     function.
//   - articles_build_info{version, revision, goversion}, always 1: the
//     build WithBuildInfo names, for joining other series on a version.
//   - Group-commit histograms fed by ObserveCommit:
//     articles_store_commit_batch_ops (writes per transaction) and
//     articles_store_commit_fsync_seconds (time to write and fsync it).
//   - The Go runtime and process collectors (go_goroutines,
//     go_memstats_*, process_resident_memory_bytes, ...).
//
// Serve serves /metrics, and /debug/pprof/ only when asked, on a listener
// of its own, apart from the gRPC port.
//
// # Caveats
//
// pprof exposes memory contents (heap profiles hold stack traces and
// symbol names, /debug/pprof/cmdline the command line) and lets a caller
// spend CPU on profiling: enable it only on a listener that only operators
// can reach. The same goes for /metrics to a lesser degree: it has no
// authentication, so bind --metrics-listen to loopback or a private
// network.
//
// Importing this package imports net/http/pprof, which registers its
// handlers on http.DefaultServeMux as a side effect. This package never
// serves DefaultServeMux; a program that does would expose pprof there.
//
// grpc_server_handling_seconds of a streaming method measures the whole
// stream, so for WatchArticles and StreamArticles it is how long clients
// stay connected, not a latency.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
)

// StoreStats is what the store gauges report; a store's own statistics are
// converted to it by the caller (cmd/articlesd), so that this package does
// not depend on a store.
type StoreStats struct {
	Articles  int64 // articles stored
	FileSize  int64 // database file size in bytes
	Revision  int64 // revision of the last committed write
	Compacted int64 // newest revision removed from the change log
	// IndexRevision is the revision the full-text index reflects, and
	// IndexLag how many revisions it trails the store by.
	IndexRevision, IndexLag int64
}

// An Option configures New.
type Option interface {
	apply(*config)
}

type config struct {
	build    *BuildInfo
	stats    func() StoreStats
	watchers func() int
	logger   *slog.Logger
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithStoreStats adds the store gauges, read from fn once per scrape. fn is
// called on the scraping goroutine and should be cheap; nil adds nothing.
func WithStoreStats(fn func() StoreStats) Option {
	return optionFunc(func(c *config) { c.stats = fn })
}

// WithWatchers adds the articles_watch_streams gauge, read from fn once per
// scrape; nil adds nothing.
func WithWatchers(fn func() int) Option {
	return optionFunc(func(c *config) { c.watchers = fn })
}

// BuildInfo names the running build in articles_build_info. Empty fields
// are exported as empty labels.
type BuildInfo struct {
	Version   string // module version: a tag, a pseudo-version or "(devel)"
	Revision  string // VCS commit
	GoVersion string // toolchain, "go1.26.0"
}

// WithBuildInfo adds the articles_build_info gauge, 1 with the labels of b.
func WithBuildInfo(b BuildInfo) Option {
	return optionFunc(func(c *config) { c.build = &b })
}

// WithLogger sets where errors of the metrics endpoint are logged (failed
// scrapes, a failing listener). The default discards them; nil keeps it.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// Buckets of the histograms.
var (
	// handlingBuckets span 0.5 ms to 10 s: bbolt reads take well under a
	// millisecond, fsynced writes a few milliseconds.
	handlingBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// batchBuckets are powers of two up to the committer's 256 ops.
	batchBuckets = prometheus.ExponentialBuckets(1, 2, 9)
	// fsyncBuckets span 100 µs to about 6.5 s.
	fsyncBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)
)

// Metrics is a registry of the service's metrics and the means to record
// and serve them. Build it with New; its methods are safe for concurrent
// use.
type Metrics struct {
	reg   *prometheus.Registry
	grpc  *grpcMetrics
	batch prometheus.Histogram
	fsync prometheus.Histogram
	log   *slog.Logger
}

// New returns a Metrics with a new registry holding every metric the
// package comment lists (the store gauges only with WithStoreStats, the
// watch gauge only with WithWatchers).
func New(opts ...Option) *Metrics {
	cfg := config{logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		grpc: newGRPCMetrics(handlingBuckets),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "articles_store_commit_batch_ops",
			Help:    "Write operations committed together in one bbolt transaction (group commit).",
			Buckets: batchBuckets,
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "articles_store_commit_fsync_seconds",
			Help:    "Time bbolt spent writing a committed transaction's pages and meta page to disk, including both fsyncs.",
			Buckets: fsyncBuckets,
		}),
		log: cfg.logger,
	}
	m.reg.MustRegister(
		m.grpc, m.batch, m.fsync,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if cfg.stats != nil {
		m.reg.MustRegister(newStoreCollector(cfg.stats))
	}
	if b := cfg.build; b != nil {
		info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "articles_build_info",
			Help: "Always 1; its labels name the running build.",
		}, []string{"version", "revision", "goversion"})
		info.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
		m.reg.MustRegister(info)
	}
	if cfg.watchers != nil {
		fn := cfg.watchers
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "articles_watch_streams",
			Help: "Open WatchArticles streams.",
		}, func() float64 { return float64(fn()) }))
	}
	return m
}

// Registry returns the registry, for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// UnaryServerInterceptor records the gRPC metrics of unary calls.
func (m *Metrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return m.grpc.unaryInterceptor()
}

// StreamServerInterceptor records the gRPC metrics of streaming calls.
func (m *Metrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return m.grpc.streamInterceptor()
}

// ServerOptions returns the grpc.ServerOptions that chain both
// interceptors, for passing to grpc.NewServer (or server.GRPCServer, which
// runs them inside its own logging and recovery interceptors, so a
// recovered panic is counted as INTERNAL).
func (m *Metrics) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.StreamServerInterceptor()),
	}
}

// InitializeMetrics creates the zero series of every method gs serves, so
// that rates and alerts see a method before its first call. Call it after
// the services are registered.
func (m *Metrics) InitializeMetrics(gs *grpc.Server) { m.grpc.initialize(gs) }

// ObserveCommit records one group commit: ops writes in one transaction
// whose disk write took fsync. Its signature is store.WithCommitObserver's.
func (m *Metrics) ObserveCommit(ops int, fsync time.Duration) {
	m.batch.Observe(float64(ops))
	m.fsync.Observe(fsync.Seconds())
}

// Handler returns the /metrics handler: the registry in the Prometheus
// exposition formats (text, or OpenMetrics when the scraper asks).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slogPrintln{m.log},
		Registry:          m.reg, // counts promhttp's own errors
		EnableOpenMetrics: true,
	})
}

// Mux returns a mux serving Handler at /metrics and, when pprof is true,
// the net/http/pprof handlers under /debug/pprof/ (the index, cmdline,
// profile, symbol, trace and every named profile such as
// /debug/pprof/goroutine?debug=1). Everything else is 404.
func (m *Metrics) Mux(withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// shutdownGrace bounds how long Serve waits for scrapes and profiles in
// flight once its context ends.
const shutdownGrace = 5 * time.Second

// Serve serves Mux(withPprof) on lis until ctx ends, then shuts the HTTP
// server down (waiting up to five seconds for requests in flight) and
// returns nil. It returns the error if serving fails; it closes lis either
// way. The caller listens, so that a bad address fails at startup rather
// than in a goroutine.
func (m *Metrics) Serve(ctx context.Context, lis net.Listener, withPprof bool) error {
	srv := &http.Server{
		Handler:           m.Mux(withPprof),
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: /debug/pprof/profile and trace stream for as
		// many seconds as asked.
		IdleTimeout: time.Minute,
		ErrorLog:    slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return fmt.Errorf("metrics: serve %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // a profile still streaming: cut it off
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve %s: %w", lis.Addr(), err)
	}
	return nil
}

// slogPrintln adapts a slog.Logger to promhttp's ErrorLog.
type slogPrintln struct{ l *slog.Logger }

func (p slogPrintln) Println(v ...any) { p.l.Error("metrics: " + fmt.Sprint(v...)) }

// storeCollector reports the store gauges from one call of its stats
// function per scrape, so the values come from one snapshot.
type storeCollector struct {
	stats                                   func() StoreStats
	articles, fileSize, revision, compacted *prometheus.Desc
	indexRevision, indexLag                 *prometheus.Desc
}

func newStoreCollector(fn func() StoreStats) *storeCollector {
	return &storeCollector{
		stats:         fn,
		articles:      prometheus.NewDesc("articles_store_articles", "Articles stored.", nil, nil),
		fileSize:      prometheus.NewDesc("articles_store_file_size_bytes", "Size of the database file on disk.", nil, nil),
		revision:      prometheus.NewDesc("articles_store_revision", "Revision of the last committed write.", nil, nil),
		compacted:     prometheus.NewDesc("articles_store_compacted_revision", "Newest revision removed from the change log (0: none); watches can start after it.", nil, nil),
		indexRevision: prometheus.NewDesc("articles_search_index_revision", "Revision the full-text index reflects (0 while it rebuilds).", nil, nil),
		indexLag:      prometheus.NewDesc("articles_search_index_lag_revisions", "Revisions the full-text index trails the store by; searches wait for it.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.articles
	ch <- c.fileSize
	ch <- c.revision
	ch <- c.compacted
	ch <- c.indexRevision
	ch <- c.indexLag
}

// Collect implements prometheus.Collector.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for _, g := range []struct {
		d *prometheus.Desc
		v int64
	}{
		{c.articles, s.Articles}, {c.fileSize, s.FileSize}, {c.revision, s.Revision}, {c.compacted, s.Compacted},
		{c.indexRevision, s.IndexRevision}, {c.indexLag, s.IndexLag},
	} {
		ch <- prometheus.MustNewConstMetric(g.d, prometheus.GaugeValue, float64(g.v))
	}
}
