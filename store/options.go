package store

import (
	"log/slog"
	"time"
)

// An Option configures Open.
type Option interface {
	apply(*config)
}

// config is what the options set.
type config struct {
	history     int64
	logger      *slog.Logger
	openTimeout time.Duration
	mmapSize    int
	// commitObserver is WithCommitObserver's function (stats.go).
	commitObserver func(ops int, fsync time.Duration)
}

func defaultConfig() config {
	return config{
		history:     100_000,
		logger:      slog.New(slog.DiscardHandler),
		openTimeout: time.Second,
		mmapSize:    DefaultInitialMmapSize,
	}
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithHistory sets how many of the most recent revisions the change log
// keeps; older events are compacted away in the background. The default is
// 100,000. Values below 1 are treated as 1.
func WithHistory(n int64) Option {
	return optionFunc(func(c *config) { c.history = max(n, 1) })
}

// WithLogger sets the logger for background work (compaction) and for
// internal failures whose detail is kept out of returned errors. The default
// discards everything. A nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithOpenTimeout sets how long Open waits for the file lock held by another
// process before failing. The default is one second; zero or less also means
// the default, because waiting forever is never what a server wants.
func WithOpenTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.openTimeout = d
		}
	})
}

// DefaultInitialMmapSize is WithInitialMmapSize's default: 16 GiB on
// 64-bit platforms other than Windows, 0 (bbolt's default) elsewhere
// (mmap_windows.go, mmap_other.go).
const DefaultInitialMmapSize = defaultMmapSize

// WithInitialMmapSize sets how many bytes of the file bbolt maps from the
// start. As the file grows past its mapping, bbolt maps it anew, which
// waits for every read transaction to end, and makes the write
// transaction copy every node it has touched out of the old mapping.
// Mapping more at once reserves address space, not memory, so files up to
// that size are never mapped twice. While the file is under half the
// initial mapping, a commit syncs only the write-ahead log (wal.go);
// past it, every commit also syncs the file. Zero or less leaves bbolt's
// default (32 KiB, doubling as the file grows, so every commit syncs the
// file). On Windows a mapping grows the file to its size: keep it small
// there.
func WithInitialMmapSize(n int) Option {
	return optionFunc(func(c *config) { c.mmapSize = max(n, 0) })
}
