package server_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

var _ server.RawStore = (*store.DB)(nil)

// plainStore hides a store's RawStore methods, so that the server reads it
// through Store alone.
type plainStore struct{ server.Store }

// TestRawReplies checks that GetArticle and StreamArticles answer the same
// from a RawStore, whose stored bytes they send as they are (trimmed to
// the view), as from the same store read through Store's methods: for
// every view, by id and by slug, with and without filters.
func TestRawReplies(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	raw, plain := newEnv(t, db), newEnv(t, plainStore{db})
	ctx := testCtx(t)
	var arts []*articlesv1.Article
	for i := range 12 {
		a := &articlesv1.Article{
			Title:     fmt.Sprintf("Raw reply %d", i),
			Summary:   "A summary.",
			Body:      fmt.Sprintf("The body of article %d.\n\nTwo paragraphs.", i),
			Authors:   []string{"Ann Author", fmt.Sprintf("Author %d", i%3)},
			AuthorBio: "Writes tests.",
			Source:    []string{"RIAC", "Other"}[i%2],
			Tags:      []string{"raw", fmt.Sprintf("t%d", i%3)},
			Labels:    map[string]string{"b": "2", "a": "1", "c": fmt.Sprint(i)},
		}
		arts = append(arts, raw.create(t, a))
	}
	views := []articlesv1.ArticleView{
		articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED,
		articlesv1.ArticleView_ARTICLE_VIEW_BASIC,
		articlesv1.ArticleView_ARTICLE_VIEW_FULL,
	}
	t.Run("GetArticle", func(t *testing.T) {
		for _, view := range views {
			for _, req := range []*articlesv1.GetArticleRequest{
				{Key: &articlesv1.GetArticleRequest_Id{Id: arts[3].GetId()}, View: view},
				{Key: &articlesv1.GetArticleRequest_Slug{Slug: arts[5].GetSlug()}, View: view},
			} {
				got, err := raw.client.GetArticle(ctx, req)
				if err != nil {
					t.Fatalf("GetArticle(%v): %v", req, err)
				}
				want, err := plain.client.GetArticle(ctx, req)
				if err != nil {
					t.Fatalf("GetArticle(%v) without raw reads: %v", req, err)
				}
				if !proto.Equal(got, want) {
					t.Errorf("GetArticle(%v) = %v, want %v", req, got, want)
				}
				if basic := view == articlesv1.ArticleView_ARTICLE_VIEW_BASIC; basic != (got.GetBody() == "") || basic != (got.GetAuthorBio() == "") {
					t.Errorf("GetArticle(%v): body %q, author_bio %q", req, got.GetBody(), got.GetAuthorBio())
				}
			}
		}
		for _, req := range []*articlesv1.GetArticleRequest{
			{Key: &articlesv1.GetArticleRequest_Id{Id: "01J00000000000000000000000"}},
			{Key: &articlesv1.GetArticleRequest_Slug{Slug: "no-such-slug"}},
		} {
			_, err := raw.client.GetArticle(ctx, req)
			wantCode(t, err, codes.NotFound)
		}
	})
	t.Run("StreamArticles", func(t *testing.T) {
		for _, view := range views {
			for _, req := range []*articlesv1.StreamArticlesRequest{
				{View: view},
				{View: view, OrderBy: "title"},
				{View: view, Tag: "t1", Source: "RIAC"},
				{View: view, Author: "Author 2", OrderBy: "create_time desc"},
			} {
				got, want := streamReplies(t, raw, req), streamReplies(t, plain, req)
				if len(got) != len(want) {
					t.Fatalf("StreamArticles(%v): %d replies, want %d", req, len(got), len(want))
				}
				for i := range got {
					if !proto.Equal(got[i], want[i]) {
						t.Errorf("StreamArticles(%v) reply %d = %v, want %v", req, i, got[i], want[i])
					}
				}
				if len(got) > 2 {
					// Resuming from a raw reply's cursor works.
					req := proto.Clone(req).(*articlesv1.StreamArticlesRequest)
					req.StartAfter = got[1].GetCursor()
					if rest := streamReplies(t, raw, req); len(rest) != len(got)-2 || !proto.Equal(rest[0], got[2]) {
						t.Errorf("StreamArticles(%v) resumed after reply 1: %d replies, want %d", req, len(rest), len(got)-2)
					}
				}
			}
		}
	})
}

// streamReplies reads a whole StreamArticles stream.
func streamReplies(t *testing.T, e *env, req *articlesv1.StreamArticlesRequest) []*articlesv1.StreamArticlesResponse {
	t.Helper()
	s, err := e.client.StreamArticles(testCtx(t), req)
	if err != nil {
		t.Fatalf("StreamArticles(%v): %v", req, err)
	}
	var out []*articlesv1.StreamArticlesResponse
	for range 1000 {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("StreamArticles(%v): %v", req, err)
		}
		out = append(out, m)
	}
	t.Fatal("stream never ended")
	return nil
}
