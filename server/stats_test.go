package server_test

import (
	"context"
	"testing"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

// waitWatchers waits, at most ten seconds, for srv to count want open
// watch streams: a handler returns a moment after its client cancels.
func waitWatchers(t *testing.T, srv *server.Server, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Watchers() != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := srv.Watchers(); got != want {
		t.Fatalf("Watchers() = %d, want %d", got, want)
	}
}

func TestWatchers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if got := e.srv.Watchers(); got != 0 {
		t.Fatalf("Watchers() of a new server = %d, want 0", got)
	}

	// open starts a watch and reads its opening PROGRESS event, after which
	// the handler is counted.
	open := func(t *testing.T) context.CancelFunc {
		t.Helper()
		ctx, cancel := context.WithCancel(testCtx(t))
		stream, err := e.client.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{})
		if err != nil {
			cancel()
			t.Fatalf("WatchArticles: %v", err)
		}
		if ev, err := stream.Recv(); err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
			cancel()
			t.Fatalf("first event = %v, %v; want PROGRESS", ev, err)
		}
		return cancel
	}

	cancels := []context.CancelFunc{open(t), open(t), open(t)}
	waitWatchers(t, e.srv, 3)

	t.Run("CancelOne", func(t *testing.T) {
		cancels[0]()
		waitWatchers(t, e.srv, 2)
	})
	t.Run("CancelAll", func(t *testing.T) {
		for _, c := range cancels[1:] {
			c()
		}
		waitWatchers(t, e.srv, 0)
	})
}
