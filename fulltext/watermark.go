package fulltext

import (
	"context"
	"sync"
)

// watermark is a revision that goroutines can wait for: the revision the
// index reflects.
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

// set sets the value to v, waking the waiters if it grew.
func (w *watermark) set(v int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	grew := v > w.v
	w.v = v
	if grew {
		close(w.ch)
		w.ch = make(chan struct{})
	}
}

// wait blocks until the value is at least v, ctx is done (returning
// ctx.Err()) or quit is closed (returning ErrClosed).
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
			return ErrClosed
		}
	}
}
