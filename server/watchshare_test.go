package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// recvBatched receives from a batched watch until it has n non-PROGRESS
// events, taking them out of batches, and checks that their revisions
// increase.
func recvBatched(t *testing.T, s watchStream, n int) []*articlesv1.ArticleEvent {
	t.Helper()
	var out []*articlesv1.ArticleEvent
	for len(out) < n {
		m, err := s.Recv()
		if err != nil {
			t.Errorf("Recv after %d of %d events: %v", len(out), n, err)
			return out
		}
		evs := m.GetEvents()
		switch {
		case m.GetType() == articlesv1.ArticleEvent_PROGRESS:
			continue
		case len(evs) == 0:
			evs = []*articlesv1.ArticleEvent{m}
		}
		for _, ev := range evs {
			if len(out) > 0 && ev.GetRevision() <= out[len(out)-1].GetRevision() {
				t.Errorf("event revision %d after %d: out of order or repeated", ev.GetRevision(), out[len(out)-1].GetRevision())
				return out
			}
			out = append(out, ev)
		}
	}
	return out
}

// TestWatchSharedBatches: batched watchers that wake at the same revision
// send their group's batches, made once for all of them, and every
// watcher still gets exactly the events it should, in order: unfiltered
// ones in both views, one whose filter passes half the events (it makes
// its own batches), one whose filter passes every event (it shares), and
// one that starts in the middle of a group.
func TestWatchSharedBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	const (
		imports = 4
		per     = 40 // per import: several batches of FULL events
		events  = imports * per
	)
	const basic, full = articlesv1.ArticleView_ARTICLE_VIEW_BASIC, articlesv1.ArticleView_ARTICLE_VIEW_FULL
	type watch struct {
		name  string
		req   *articlesv1.WatchArticlesRequest
		want  func(*articlesv1.ArticleEvent) bool // of the reference's events
		views articlesv1.ArticleView
	}
	everything := func(*articlesv1.ArticleEvent) bool { return true }
	var watches []watch
	for i := range 8 {
		view := full
		if i%2 == 1 {
			view = basic
		}
		watches = append(watches, watch{
			name: fmt.Sprintf("%v/%d", view, i),
			req:  &articlesv1.WatchArticlesRequest{View: view, Batch: true},
			want: everything, views: view,
		})
	}
	watches = append(watches,
		watch{
			name:  "TagEven",
			req:   &articlesv1.WatchArticlesRequest{Tag: "even", Batch: true},
			want:  func(ev *articlesv1.ArticleEvent) bool { return slices.Contains(ev.GetArticle().GetTags(), "even") },
			views: full,
		},
		watch{
			name: "TagAll",
			req:  &articlesv1.WatchArticlesRequest{Tag: "all", View: basic, Batch: true},
			want: everything, views: basic,
		})

	ref, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{}, -1)
	streams := make([]watchStream, len(watches))
	for i, w := range watches {
		streams[i], _ = openWatch(t, ctx, e.client, w.req, -1)
	}
	body := strings.Repeat("Words of the body. ", 60) // about 1 KB
	for k := range imports {
		arts := make([]*articlesv1.Article, per)
		for i := range arts {
			n := k*per + i
			tags := []string{"all"}
			if n%2 == 0 {
				tags = append(tags, "even")
			}
			arts[i] = &articlesv1.Article{Title: fmt.Sprintf("Shared %d", n), Body: body, AuthorBio: "Bio.", Tags: tags}
		}
		if _, err := e.srv.Import(ctx, arts); err != nil {
			t.Fatalf("Import: %v", err)
		}
	}
	want := recvEvents(t, ref, events)

	// One more watcher starts inside the first import's group, which
	// the ring still holds.
	const joinAt = per/2 + 3
	watches = append(watches, watch{
		name:  "JoinMidGroup",
		req:   &articlesv1.WatchArticlesRequest{StartRevision: want[joinAt].GetRevision(), Batch: true},
		want:  func(ev *articlesv1.ArticleEvent) bool { return ev.GetRevision() >= want[joinAt].GetRevision() },
		views: full,
	})
	s, _ := openWatch(t, ctx, e.client, watches[len(watches)-1].req, want[joinAt].GetRevision()-1)
	streams = append(streams, s)

	var wg sync.WaitGroup
	for i, w := range watches {
		var expect []*articlesv1.ArticleEvent
		for _, ev := range want {
			if w.want(ev) {
				if w.views == basic {
					ev = proto.CloneOf(ev)
					ev.GetArticle().Body, ev.GetArticle().AuthorBio = "", ""
				}
				expect = append(expect, ev)
			}
		}
		wg.Go(func() {
			got := recvBatched(t, streams[i], len(expect))
			for j := range got {
				if !proto.Equal(got[j], expect[j]) {
					t.Errorf("%s: event %d = revision %d, want %d (or content differs)", w.name, j, got[j].GetRevision(), expect[j].GetRevision())
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	waitWatchers(t, e.srv, 0)
	built, shared, own := e.srv.WatchBatches()
	t.Logf("batches: %d shared ones made, sent %d times; %d of streams' own", built, shared, own)
	// Nine streams send every batch of their view whole: each batch made
	// is sent about four times or more.
	if built == 0 || shared < 3*built {
		t.Errorf("%d shared batches made, sent %d times: the streams did not share them", built, shared)
	}
	// The half-filtered stream and the one that joins mid-group make
	// batches of their own.
	if own == 0 {
		t.Errorf("no stream made a batch of its own; the filtered one should have")
	}
}
