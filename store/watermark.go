package store

import (
	"context"
	"sync"

	"github.com/seed9c1868aa/articles"
)

// watermark is a revision that only grows and that goroutines can wait
// for: the revision of the last committed write.
type watermark struct {
	mu sync.Mutex // guards v and ch
	v  int64
	// ch is closed, and replaced by a new channel, each time v grows, so
	// that waiters can sleep on it.
	ch chan struct{}
}

func newWatermark() *watermark { return &watermark{ch: make(chan struct{})} }

// load returns the current value, and a channel that is closed when the
// value next grows.
func (w *watermark) load() (int64, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.v, w.ch
}

// value returns the current value.
func (w *watermark) value() int64 {
	v, _ := w.load()
	return v
}

// advance raises the value to v and wakes the waiters. It never lowers the
// value, and reports whether it raised it.
func (w *watermark) advance(v int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v <= w.v {
		return false
	}
	w.v = v
	close(w.ch)
	w.ch = make(chan struct{})
	return true
}

// wait blocks until the value is at least v, ctx is done (returning
// ctx.Err()) or quit is closed (returning articles.ErrClosed).
func (w *watermark) wait(ctx context.Context, v int64, quit <-chan struct{}) error {
	for {
		cur, ch := w.load()
		if cur >= v {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-quit:
			return articles.ErrClosed
		}
	}
}
