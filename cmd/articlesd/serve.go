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
	"time"

	"google.golang.org/grpc"

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

	db, err := store.Open(cfg.db,
		store.WithHistory(cfg.history),
		store.WithLogger(log.With("component", "store")),
	)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the database: %w", cerr)
		}
	}()

	srv, err := server.New(ctx, db,
		server.WithLogger(log.With("component", "server")),
		server.WithMaxBodyBytes(cfg.maxBodyBytes),
		server.WithProgressInterval(cfg.progressInterval),
		server.WithReflection(!cfg.noReflection),
		server.WithDefaultTimeout(cfg.defaultTimeout),
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

	if err := seed(ctx, cfg, db, srv, log); err != nil {
		if ctx.Err() != nil {
			// A signal during seeding: the seeds fit in one store transaction, so
			// nothing half-written stays, and the next start seeds again.
			log.Info("stopped before serving", "reason", context.Cause(ctx))
			return nil
		}
		return err
	}

	lis, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return err // "listen tcp ...: bind: address already in use"
	}
	addr := lis.Addr().String()
	lis = cfg.limitListener(lis)
	gs := srv.GRPCServer(append(cfg.limitOptions(), sec.opts...)...)
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("listening", "addr", addr, "tls", cfg.useTLS(), "db", cfg.db,
		"mtls", sec.mtls, "tokens", sec.tokens, "reflection", !cfg.noReflection)
	if tcp, ok := lis.Addr().(*net.TCPAddr); ok && !cfg.useTLS() && !tcp.IP.IsLoopback() {
		log.Warn("serving plaintext on a non-loopback address: calls cross the network unencrypted; serve TLS with --tls-cert and --tls-key")
	}

	select {
	case err := <-served:
		// Serve only returns on its own when the listener fails.
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down", "grace_period", cfg.gracePeriod)

	graceCtx, cancel := context.WithTimeout(context.Background(), cfg.gracePeriod)
	defer cancel()
	srv.GracefulStop(graceCtx)
	if graceCtx.Err() != nil {
		log.Warn("grace period ended; remaining calls were cancelled")
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		log.Warn("serve returned", "err", err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("closing the database: %w", err)
	}
	log.Info("stopped")
	return nil
}

// seed loads the embedded seed articles into a database that was never
// written. Deciding by revision rather than by article count means a
// database whose articles were all deleted stays empty across restarts.
func seed(ctx context.Context, cfg config, db *store.DB, srv *server.Server, log *slog.Logger) error {
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

	db, err := store.Open(cfg.db, store.WithLogger(log.With("component", "store")))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the database: %w", cerr)
		}
	}()
	start := time.Now()
	if err := db.Reindex(ctx); err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	log.Info("reindexed", "db", cfg.db, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}
