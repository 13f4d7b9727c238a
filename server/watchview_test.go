package server_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestWatchView checks that a watch in the BASIC view gets every event a
// FULL one gets, with body and author_bio left out and nothing else
// changed, from the live feed and from the log, compressed or not, and
// that FULL is the default.
func TestWatchView(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	const basic, full = articlesv1.ArticleView_ARTICLE_VIEW_BASIC, articlesv1.ArticleView_ARTICLE_VIEW_FULL
	type watch struct {
		name string
		view articlesv1.ArticleView
		opts []grpc.CallOption
	}
	watches := []watch{
		{"Default", articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED, nil},
		{"Full", full, nil},
		{"Basic", basic, nil},
		{"BasicGzip", basic, []grpc.CallOption{grpc.UseCompressor(gzip.Name)}},
	}
	var live []watchStream
	var start int64
	for _, w := range watches {
		s, err := e.client.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{View: w.view}, w.opts...)
		if err != nil {
			t.Fatalf("WatchArticles(%s): %v", w.name, err)
		}
		ev, err := s.Recv()
		if err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
			t.Fatalf("WatchArticles(%s): opening event %v, %v", w.name, ev, err)
		}
		start = ev.GetRevision() + 1
		live = append(live, s)
	}

	// Creates, an update and a delete, each article with a body and an
	// author_bio.
	var ids []string
	for i := range 3 {
		a := &articlesv1.Article{
			Title:     fmt.Sprintf("View %d", i),
			Body:      fmt.Sprintf("The body of article %d.", i),
			AuthorBio: "A biography.",
			Authors:   []string{"Vera View"},
			Tags:      []string{"view"},
			Labels:    map[string]string{"k": "v", "a": "b"},
		}
		ids = append(ids, e.create(t, a).GetId())
	}
	if _, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
		Article:    &articlesv1.Article{Id: ids[1], Body: "A new body."},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"body"}},
	}); err != nil {
		t.Fatalf("UpdateArticle: %v", err)
	}
	if _, err := e.client.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: ids[2]}); err != nil {
		t.Fatalf("DeleteArticle: %v", err)
	}
	const events = 5

	check := func(t *testing.T, name string, view articlesv1.ArticleView, got, fullEvs []*articlesv1.ArticleEvent) {
		t.Helper()
		for i, ev := range got {
			want := proto.Clone(fullEvs[i]).(*articlesv1.ArticleEvent)
			if view == basic {
				want.GetArticle().Body = ""
				want.GetArticle().AuthorBio = ""
			}
			if !proto.Equal(ev, want) {
				t.Errorf("%s: event %d = %v, want %v", name, i, ev, want)
			}
		}
	}
	fullEvs := recvEvents(t, live[1], events)
	for _, ev := range fullEvs[:4] {
		if ev.GetArticle().GetBody() == "" || ev.GetArticle().GetAuthorBio() == "" {
			t.Fatalf("FULL event %v lacks body or author_bio", ev)
		}
	}
	for i, s := range live {
		if i != 1 {
			check(t, watches[i].name, watches[i].view, recvEvents(t, s, events), fullEvs)
		}
	}
	// From the log: a watch from the first of these revisions, in each view.
	for _, w := range watches {
		s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: start, View: w.view}, start-1)
		check(t, w.name+"/FromLog", w.view, recvEvents(t, s, events), fullEvs)
	}
}

// TestWatchBatch checks that a watch that asks for batches gets the same
// events as one that does not, in fewer messages, from the log and from
// the live feed, in both views; and that PROGRESS events come alone.
func TestWatchBatch(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "revisions start at 1 and are consecutive")
	e := newEnv(t, nil)
	ctx := testCtx(t)
	const logged, live = 40, 40
	create := func(from, n int) {
		t.Helper()
		arts := make([]*articlesv1.Article, n)
		for i := range arts {
			arts[i] = &articlesv1.Article{Title: fmt.Sprintf("Batch %d", from+i), Body: "Body.", AuthorBio: "Bio."}
		}
		if _, err := e.srv.Import(ctx, arts); err != nil {
			t.Fatalf("Import: %v", err)
		}
	}
	create(0, logged)
	for _, view := range []articlesv1.ArticleView{articlesv1.ArticleView_ARTICLE_VIEW_FULL, articlesv1.ArticleView_ARTICLE_VIEW_BASIC} {
		t.Run(view.String(), func(t *testing.T) {
			plain, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: 1, View: view}, 0)
			batched, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: 1, View: view, Batch: true}, 0)
			want := recvEvents(t, plain, logged)
			var got []*articlesv1.ArticleEvent
			messages := 0
			for len(got) < logged {
				m, err := batched.Recv()
				if err != nil {
					t.Fatalf("Recv after %d events: %v", len(got), err)
				}
				messages++
				switch {
				case m.GetType() == articlesv1.ArticleEvent_PROGRESS:
					if len(m.GetEvents()) > 0 {
						t.Fatalf("a PROGRESS event carries a batch: %v", m)
					}
				case len(m.GetEvents()) > 0:
					if m.GetType() != articlesv1.ArticleEvent_TYPE_UNSPECIFIED || m.GetArticle() != nil {
						t.Fatalf("a batch is also an event: %v", m)
					}
					got = append(got, m.GetEvents()...)
				default:
					got = append(got, m)
				}
			}
			if messages >= logged {
				t.Errorf("%d events from the log came in %d messages; want fewer", logged, messages)
			}
			for i := range want {
				if !proto.Equal(got[i], want[i]) {
					t.Fatalf("batched event %d = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
	// The live feed: a batched watch from now sees an import's events.
	s, now := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{Batch: true}, -1)
	create(logged, live)
	var revs []int64
	for len(revs) < live {
		m, err := s.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		evs := m.GetEvents()
		if len(evs) == 0 && m.GetType() != articlesv1.ArticleEvent_PROGRESS {
			evs = []*articlesv1.ArticleEvent{m}
		}
		for _, ev := range evs {
			revs = append(revs, ev.GetRevision())
		}
	}
	for i, r := range revs {
		if r != now+1+int64(i) {
			t.Fatalf("live revisions %v, want %d on, each once", revs, now+1)
		}
	}
}
