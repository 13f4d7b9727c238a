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
