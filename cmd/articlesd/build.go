package main

import (
	"context"
	"time"

	"github.com/seed9c1868aa/articles/internal/buildinfo"
	"github.com/seed9c1868aa/articles/metrics"
)

// buildMetric returns the labels of articles_build_info for this binary.
func buildMetric() metrics.BuildInfo {
	b := buildinfo.Read()
	rev := b.Revision
	if b.Modified && rev != "" {
		rev += "+dirty"
	}
	return metrics.BuildInfo{Version: b.Version, Revision: rev, GoVersion: b.GoVersion}
}

// etcdScrapeTimeout bounds the revision read of one scrape on etcd.
const etcdScrapeTimeout = 2 * time.Second

// etcdIndexLag returns how many revisions the index at indexed trails the
// store whose revision revision reads from etcd (0 when that read fails: a
// scrape reports what it can, and etcd's own metrics show why it failed).
func etcdIndexLag(ctx context.Context, revision func(context.Context) (int64, error), indexed int64) int64 {
	ctx, cancel := context.WithTimeout(ctx, etcdScrapeTimeout)
	defer cancel()
	rev, err := revision(ctx)
	if err != nil {
		return 0
	}
	return max(rev-indexed, 0)
}
