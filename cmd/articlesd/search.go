package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/seed9c1868aa/articles/fulltext"
)

// The full-text index: one fulltext.Engine per process, in its own file
// (--search-index), following whichever backend --store names.

// addSearchFlags adds the full-text index flags to f.
func addSearchFlags(f *pflag.FlagSet, c *config) {
	f.StringVar(&c.searchIndex, "search-index", "", "full-text index `file` (default: the --db file's path with .search appended); with --store etcd, local to this server")
	f.DurationVar(&c.searchCheckpoint, "search-checkpoint-interval", fulltext.DefaultCheckpointInterval, "how often the full-text index is made durable while it changes")
}

// searchIndexPath returns the index file the settings name.
func (c config) searchIndexPath() string {
	if c.searchIndex != "" {
		return c.searchIndex
	}
	return c.db + ".search"
}

// openEngine opens the full-text engine over feed. It rebuilds in the
// background when its file is new or damaged.
func openEngine(cfg config, feed fulltext.Feed, log *slog.Logger) (*fulltext.Engine, error) {
	eng, err := fulltext.Open(cfg.searchIndexPath(), feed,
		fulltext.WithLogger(log),
		fulltext.WithCheckpointInterval(cfg.searchCheckpoint))
	if err != nil {
		return nil, fmt.Errorf("opening the search index: %w", err)
	}
	return eng, nil
}

// rebuildIndex rebuilds the index of feed and waits for it to catch up.
func rebuildIndex(ctx context.Context, cfg config, feed fulltext.Feed, log *slog.Logger) (err error) {
	eng, err := openEngine(cfg, feed, log.With("component", "search"))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := eng.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the search index: %w", cerr)
		}
	}()
	start := time.Now()
	if err := eng.Rebuild(ctx); err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	log.Info("reindexed", "index", cfg.searchIndexPath(), "revision", eng.Revision(), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}
