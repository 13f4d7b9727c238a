//go:build !unix

package bench_test

import (
	"testing"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// startWatcherProcess needs setpriority, which only Unix systems have.
func startWatcherProcess(b *testing.B, _ string, _, _ int, _ articlesv1.ArticleView, _, _ bool) (int64, func() (time.Duration, error)) {
	b.Skip("a watcher process at nice 19 needs a Unix system")
	return 0, nil
}

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }

// machineIdle is not measured here.
func machineIdle() (idle, total time.Duration) { return 0, 0 }
