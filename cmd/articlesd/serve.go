package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	"github.com/seed9c1868aa/articles/fulltext"
	"github.com/seed9c1868aa/articles/metrics"
	"github.com/seed9c1868aa/articles/seeds"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// serve runs the server until ctx ends or SIGINT/SIGTERM arrives, then
// shuts it down gracefully. It returns nil after a clean shutdown.
func serve(ctx context.Context, cfg config, logw io.Writer) (err error) {
	log := cfg.newLogger(logw)

	// Only the first signal is graceful: stop() restores the default
	// action, so a second Ctrl-C kills a shutdown that hangs.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	sec, err := loadSecurity(ctx, cfg)
	if err != nil {
		return err
	}
	for _, w := range sec.warnings {
		log.Warn(w)
	}
	lns, err := listen(ctx, cfg)
	if err != nil {
		return err
	}
	defer lns.close()

	// Metrics read the store and the server through closures: both are
	// set before the metrics listener starts, and commits only start with
	// seeding, after m exists.
	var (
		db  *store.DB    // the bbolt store, nil with --store etcd
		st  server.Store // db, or the etcd store
		eng *fulltext.Engine
		srv *server.Server
		m   *metrics.Metrics
	)
	storeOpts := []store.Option{
		store.WithHistory(cfg.history),
		store.WithInitialMmapSize(cfg.mmapSize),
		store.WithLogger(log.With("component", "store")),
	}
	if cfg.metricsListen != "" {
		m = metrics.New(
			metrics.WithLogger(log.With("component", "metrics")),
			metrics.WithStoreStats(func() metrics.StoreStats {
				indexed := eng.Revision()
				if db == nil {
					// etcd: the rest is in etcd's own metrics.
					return metrics.StoreStats{IndexRevision: indexed, IndexLag: etcdIndexLag(ctx, st.Revision, indexed)}
				}
				s := db.Stats()
				return metrics.StoreStats{Articles: s.Articles, FileSize: s.FileSize, Revision: s.Revision, Compacted: s.Compacted,
					IndexRevision: indexed, IndexLag: max(s.Revision-indexed, 0)}
			}),
			metrics.WithWatchers(func() int { return srv.Watchers() }),
			metrics.WithBuildInfo(buildMetric()),
		)
		storeOpts = append(storeOpts, store.WithCommitObserver(m.ObserveCommit))
	}
	var closeStore func() error
	db, st, closeStore, err = openStore(ctx, cfg.etcd, cfg.db, log, storeOpts)
	if err != nil {
		return err
	}
	if eng, err = openEngine(cfg, st, log.With("component", "search")); err != nil {
		_ = closeStore()
		return err
	}
	// The engine follows the store: it closes first.
	closeBackend := closeStore
	closeStore = func() error {
		eerr := eng.Close()
		if err := closeBackend(); err != nil {
			return err
		}
		return eerr
	}
	defer func() {
		if cerr := closeStore(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the database: %w", cerr)
		}
	}()

	srv, err = server.New(ctx, st,
		server.WithLogger(log.With("component", "server")),
		server.WithMaxBodyBytes(cfg.maxBodyBytes),
		server.WithProgressInterval(cfg.progressInterval),
		server.WithWatchRate(cfg.watchRate),
		server.WithReflection(!cfg.noReflection),
		server.WithAccessLog(cfg.accessLog),
		server.WithDefaultTimeout(cfg.defaultTimeout),
		server.WithSearcher(eng),
	)
	if err != nil {
		return err
	}
	// On the early returns below this stops the server's background work;
	// after a shutdown it is a no-op.
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.gracePeriod)
		defer cancel()
		srv.GracefulStop(stopCtx)
	}()

	if err := seed(ctx, cfg, st, srv, log); err != nil {
		if ctx.Err() != nil {
			// A signal during seeding: the seeds fit in one store transaction, so
			// nothing half-written stays, and the next start seeds again.
			log.Info("stopped before serving", "reason", context.Cause(ctx))
			return nil
		}
		return err
	}

	lis := lns.grpc
	addr := lis.Addr().String()
	lis = cfg.limitListener(lis)
	gopts := cfg.limitOptions()
	if m != nil {
		// Before the auth interceptors, so rejected calls are counted too.
		gopts = append(gopts, m.ServerOptions()...)
	}
	gs := srv.GRPCServer(append(gopts, sec.opts...)...)
	metricsDone := make(chan error, 1)
	if m != nil {
		m.InitializeMetrics(gs)
		mlis := lns.metrics
		log.Info("serving metrics", "addr", mlis.Addr().String(), "pprof", cfg.pprof)
		go func() { metricsDone <- m.Serve(ctx, mlis, cfg.pprof) }()
	} else {
		metricsDone <- nil
	}
	httpDone := make(chan error, 1)
	httpCalls := new(inflight)
	var httpFailed <-chan error // receives only while serving http fails
	if lns.http != nil {
		httpFailed = httpDone
		h, err := httpHandler(gs, cfg, httpCalls)
		if err != nil {
			gs.Stop()
			return err
		}
		hs := newHTTPServer(h, cfg, sec.tls, log.With("component", "http"))
		log.Info("serving http", "addr", lns.http.Addr().String(), "tls", cfg.useTLS(), "cors_origins", cfg.corsOrigins)
		go func() { httpDone <- serveHTTP(ctx, hs, cfg.limitListener(lns.http), cfg.gracePeriod) }()
	} else {
		httpDone <- nil
	}
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("listening", "addr", addr, "tls", cfg.useTLS(), "db", cfg.db, "search_index", cfg.searchIndexPath(),
		"mtls", sec.mtls, "tokens", sec.tokens, "reflection", !cfg.noReflection)
	if tcp, ok := lis.Addr().(*net.TCPAddr); ok && !cfg.useTLS() && !tcp.IP.IsLoopback() {
		log.Warn("serving plaintext on a non-loopback address: calls cross the network unencrypted; serve TLS with --tls-cert and --tls-key")
	}

	select {
	case err := <-served:
		// Serve only returns on its own when the listener fails.
		return fmt.Errorf("serving: %w", err)
	case err := <-httpFailed:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down", "grace_period", cfg.gracePeriod)

	graceCtx, cancel := context.WithTimeout(context.Background(), cfg.gracePeriod)
	defer cancel()
	// The HTTP listener stops accepting as ctx ends; its unary calls finish
	// first, since stopping the gRPC server would cancel them.
	httpCalls.wait(graceCtx)
	srv.GracefulStop(graceCtx)
	if graceCtx.Err() != nil {
		log.Warn("grace period ended; remaining calls were cancelled")
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		log.Warn("serve returned", "err", err)
	}
	if err := <-httpDone; err != nil {
		log.Warn("http listener", "err", err)
	}
	if err := <-metricsDone; err != nil {
		log.Warn("metrics listener", "err", err)
	}
	if err := closeStore(); err != nil {
		return fmt.Errorf("closing the database: %w", err)
	}
	log.Info("stopped")
	return nil
}

// seed loads the embedded seed articles into a database that was never
// written. Deciding by revision rather than by article count means a
// database whose articles were all deleted stays empty across restarts.
func seed(ctx context.Context, cfg config, db server.Store, srv *server.Server, log *slog.Logger) error {
	if cfg.noSeed {
		return nil
	}
	rev, err := db.Revision(ctx)
	if err != nil {
		return fmt.Errorf("reading the database revision: %w", err)
	}
	if rev != 0 {
		log.Debug("database already written; not seeding", "revision", rev)
		return nil
	}
	arts, err := seeds.Articles()
	if err != nil {
		return err
	}
	resp, err := srv.Import(ctx, arts)
	if err != nil {
		return fmt.Errorf("loading the seed articles: %w", err)
	}
	for _, f := range resp.GetFailures() {
		log.Warn("seed article rejected", "index", f.GetIndex(), "reason", f.GetReason())
	}
	log.Info("seeded", "articles", len(arts), "created", resp.GetCreated(),
		"updated", resp.GetUpdated(), "unchanged", resp.GetUnchanged(), "failed", len(resp.GetFailures()))
	return nil
}

// runReindex rebuilds the search index of the database and exits.
func runReindex(ctx context.Context, cfg config, logw io.Writer) (err error) {
	log := cfg.newLogger(logw)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	_, st, closeStore, err := openStore(ctx, cfg.etcd, cfg.db, log, []store.Option{store.WithLogger(log.With("component", "store"))})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeStore(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the database: %w", cerr)
		}
	}()
	return rebuildIndex(ctx, cfg, st, log)
}
