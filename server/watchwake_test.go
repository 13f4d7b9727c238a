package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

// TestWatchWakesByFilter: filtered watchers wake only for appends with an
// event that can pass their filter. While writes they do not want go by
// (enough to turn the ring over several times), they stay asleep, and
// their PROGRESS events still report the current revision, without
// reading those writes back from the log. Then each gets exactly its own
// events.
func TestWatchWakesByFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, server.WithWatchBuffer(4), server.WithProgressInterval(30*time.Millisecond))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	const (
		watchers = 5
		others   = 40 // creates no watcher wants: ten turns of the ring
		own      = 2  // creates per watcher
	)
	streams := make([]watchStream, watchers)
	for i := range streams {
		req := &articlesv1.WatchArticlesRequest{Tag: fmt.Sprintf("t%d", i), Batch: i%2 == 0}
		streams[i], _ = openWatch(t, ctx, e.client, req, -1)
	}
	create := func(title, tag string) *articlesv1.Article {
		t.Helper()
		a, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: title, Tags: []string{tag, "common"}}})
		if err != nil {
			t.Fatalf("CreateArticle: %v", err)
		}
		return a
	}
	// progressed waits until every watcher reports rev as delivered, by
	// PROGRESS alone.
	progressed := func(rev int64) {
		t.Helper()
		for i, s := range streams {
			deadline := time.Now().Add(10 * time.Second)
			for {
				ev, err := s.Recv()
				if err != nil {
					t.Fatalf("watcher %d: Recv: %v", i, err)
				}
				if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
					t.Fatalf("watcher %d got an event it does not want: %v", i, ev)
				}
				if ev.GetRevision() >= rev {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("watcher %d: PROGRESS still at %d, want %d", i, ev.GetRevision(), rev)
				}
			}
		}
	}
	// A stream that opens before the hub has read the store's revision
	// (on etcd that can take a moment) reads the log until it has: let
	// every watcher settle on the live feed first.
	progressed(create("Warm-up", "other").GetRevision())
	catchUps := e.srv.WatchCatchUps()
	var last *articlesv1.Article
	for i := range others {
		last = create(fmt.Sprintf("Other %d", i), "other")
	}
	progressed(last.GetRevision())
	if n := e.srv.WatchCatchUps() - catchUps; n != 0 {
		t.Errorf("filtered watchers read the log %d times for writes they do not want", n)
	}
	want := make([][]*articlesv1.Article, watchers)
	for k := range own {
		for i := range watchers {
			want[i] = append(want[i], create(fmt.Sprintf("Own %d of %d", k, i), fmt.Sprintf("t%d", i)))
		}
	}
	for i, s := range streams {
		var got []*articlesv1.ArticleEvent
		if i%2 == 0 {
			got = recvBatched(t, s, own)
		} else {
			got = recvEvents(t, s, own)
		}
		for k, ev := range got {
			if ev.GetArticle().GetId() != want[i][k].GetId() || ev.GetRevision() != want[i][k].GetRevision() {
				t.Errorf("watcher %d: event %d = %s at %d, want %s at %d", i, k, ev.GetArticle().GetId(), ev.GetRevision(), want[i][k].GetId(), want[i][k].GetRevision())
			}
		}
	}
	cancel()
	waitWatchers(t, e.srv, 0)
	// Each watcher wakes at most once per event it wants, and once when
	// the hub's ring starts (which on etcd may follow the watch's start);
	// woken by every append, each would wake about others+own*watchers
	// times.
	if wakes, most := e.srv.WatchWakes(), int64(watchers*(own+1)); wakes > most {
		t.Errorf("filtered watchers woke %d times for news, want at most %d (one per event they want)", wakes, most)
	}
}
