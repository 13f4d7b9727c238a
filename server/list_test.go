package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

var day0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// seedList creates n articles, article i published on day i, by "Ann" when
// i is even, tagged "odd" when i is odd, from source "S<i%3>".
func seedList(t *testing.T, e *env, n int) []*articlesv1.Article {
	t.Helper()
	var out []*articlesv1.Article
	for i := range n {
		a := &articlesv1.Article{
			Title:       fmt.Sprintf("Title %02d", i),
			Body:        "Body text.",
			AuthorBio:   "Bio.",
			Source:      fmt.Sprintf("S%d", i%3),
			PublishTime: timestamppb.New(day0.AddDate(0, 0, i)),
		}
		if i%2 == 0 {
			a.Authors = []string{"Ann"}
		} else {
			a.Tags = []string{"odd"}
		}
		out = append(out, e.create(t, a))
	}
	return out
}

// listAll pages through ListArticles with req, returning every title.
func listAll(t *testing.T, e *env, req *articlesv1.ListArticlesRequest) []string {
	t.Helper()
	ctx := testCtx(t)
	var titles []string
	for range 1000 {
		resp, err := e.client.ListArticles(ctx, req)
		if err != nil {
			t.Fatalf("ListArticles(%v): %v", req, err)
		}
		for _, a := range resp.GetArticles() {
			titles = append(titles, a.GetTitle())
		}
		if resp.GetNextPageToken() == "" {
			return titles
		}
		req.PageToken = resp.GetNextPageToken()
	}
	t.Fatal("ListArticles never ended")
	return nil
}

func titlesOf(idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, fmt.Sprintf("Title %02d", i))
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seedList(t, e, 7)
	tests := []struct {
		name string
		req  *articlesv1.ListArticlesRequest
		want []string
	}{
		{"DefaultNewestFirst", &articlesv1.ListArticlesRequest{PageSize: 2}, titlesOf(6, 5, 4, 3, 2, 1, 0)},
		{"PublishTimeAsc", &articlesv1.ListArticlesRequest{PageSize: 3, OrderBy: "publish_time"}, titlesOf(0, 1, 2, 3, 4, 5, 6)},
		{"CreateTimeDesc", &articlesv1.ListArticlesRequest{PageSize: 1, OrderBy: " Create_Time  DESC "}, titlesOf(6, 5, 4, 3, 2, 1, 0)},
		{"Title", &articlesv1.ListArticlesRequest{OrderBy: "title"}, titlesOf(0, 1, 2, 3, 4, 5, 6)},
		{"Author", &articlesv1.ListArticlesRequest{PageSize: 2, Author: "Ann"}, titlesOf(6, 4, 2, 0)},
		{"TagCaseInsensitive", &articlesv1.ListArticlesRequest{PageSize: 2, Tag: "ODD"}, titlesOf(5, 3, 1)},
		{"Source", &articlesv1.ListArticlesRequest{Source: "S1"}, titlesOf(4, 1)},
		{"PublishedRange", &articlesv1.ListArticlesRequest{
			PublishedAfter: timestamppb.New(day0.AddDate(0, 0, 2)), PublishedBefore: timestamppb.New(day0.AddDate(0, 0, 5)),
		}, titlesOf(4, 3, 2)},
		{"Combined", &articlesv1.ListArticlesRequest{Author: "Ann", Source: "S0"}, titlesOf(6, 0)},
		{"NoMatch", &articlesv1.ListArticlesRequest{Author: "Nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listAll(t, e, tt.req); !slices.Equal(got, tt.want) {
				t.Errorf("titles = %v, want %v", got, tt.want)
			}
		})
	}

	ctx := testCtx(t)
	t.Run("ExactLastPageHasNoToken", func(t *testing.T) {
		resp, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 7})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetArticles()) != 7 || resp.GetNextPageToken() != "" {
			t.Errorf("got %d articles and token %q, want 7 and none", len(resp.GetArticles()), resp.GetNextPageToken())
		}
	})
	t.Run("Views", func(t *testing.T) {
		for _, v := range []struct {
			view     articlesv1.ArticleView
			wantBody string
		}{{articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED, ""}, {articlesv1.ArticleView_ARTICLE_VIEW_BASIC, ""}, {articlesv1.ArticleView_ARTICLE_VIEW_FULL, "Body text."}} {
			resp, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 1, View: v.view})
			if err != nil {
				t.Fatal(err)
			}
			a := resp.GetArticles()[0]
			if a.GetBody() != v.wantBody || (v.wantBody == "") != (a.GetAuthorBio() == "") {
				t.Errorf("view %v: body %q bio %q", v.view, a.GetBody(), a.GetAuthorBio())
			}
			if a.GetSummary() == "" || a.GetTitle() == "" {
				t.Errorf("view %v dropped summary or title", v.view)
			}
		}
	})
	t.Run("PageSizeClamped", func(t *testing.T) {
		resp, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 5000})
		if err != nil || len(resp.GetArticles()) != 7 {
			t.Errorf("page_size 5000: %v, %v; want all 7", len(resp.GetArticles()), err)
		}
	})

	first, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 2, Author: "Ann"})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	tok := first.GetNextPageToken()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("token is not base64url: %v", err)
	}
	edited := slices.Clone(raw)
	edited[len(edited)/2] ^= 1
	stream := streamCursor(t, e)
	bad := []struct {
		name    string
		req     *articlesv1.ListArticlesRequest
		field   string
		message string
	}{
		{"NegativePageSize", &articlesv1.ListArticlesRequest{PageSize: -1}, "page_size", ""},
		{"UnknownOrder", &articlesv1.ListArticlesRequest{OrderBy: "popularity"}, "order_by", ""},
		{"BadTimestamp", &articlesv1.ListArticlesRequest{PublishedAfter: &timestamppb.Timestamp{Seconds: -1 << 62}}, "published_after", ""},
		{"InvertedRange", &articlesv1.ListArticlesRequest{PublishedAfter: timestamppb.New(day0.AddDate(1, 0, 0)), PublishedBefore: timestamppb.New(day0)}, "published_after", ""},
		{"BadView", &articlesv1.ListArticlesRequest{View: 9}, "view", ""},
		{"GarbageToken", &articlesv1.ListArticlesRequest{PageToken: "not a token!"}, "page_token", "invalid page_token"},
		{"TruncatedToken", &articlesv1.ListArticlesRequest{Author: "Ann", PageToken: tok[:len(tok)-3]}, "page_token", "invalid page_token"},
		{"EditedToken", &articlesv1.ListArticlesRequest{Author: "Ann", PageToken: base64.RawURLEncoding.EncodeToString(edited)}, "page_token", "invalid page_token"},
		{"StreamCursorAsToken", &articlesv1.ListArticlesRequest{PageToken: stream}, "page_token", "invalid page_token"},
		{"OtherFilter", &articlesv1.ListArticlesRequest{Author: "Bob", PageToken: tok}, "page_token", "page_token does not match the request's filters"},
		{"NoFilter", &articlesv1.ListArticlesRequest{PageToken: tok}, "page_token", "page_token does not match the request's filters"},
		{"OtherOrder", &articlesv1.ListArticlesRequest{Author: "Ann", OrderBy: "title", PageToken: tok}, "page_token", "page_token does not match the request's filters"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.ListArticles(ctx, tt.req)
			wantViolation(t, err, tt.field)
			if st := wantCode(t, err, codes.InvalidArgument); tt.message != "" && st.Message() != tt.message {
				t.Errorf("message = %q, want %q", st.Message(), tt.message)
			}
		})
	}
	t.Run("SameFiltersOtherPageSize", func(t *testing.T) {
		resp, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 10, Author: " Ann ", PageToken: tok})
		if err != nil {
			t.Fatalf("ListArticles: %v", err)
		}
		var got []string
		for _, a := range resp.GetArticles() {
			got = append(got, a.GetTitle())
		}
		if want := titlesOf(2, 0); !slices.Equal(got, want) {
			t.Errorf("second page = %v, want %v", got, want)
		}
	})
}

// streamCursor returns the cursor of the first article StreamArticles sends.
func streamCursor(t *testing.T, e *env) string {
	t.Helper()
	s, err := e.client.StreamArticles(testCtx(t), &articlesv1.StreamArticlesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m.GetCursor()
}

// TestListPagingConcurrentWrites pages through a listing in small pages
// while other goroutines insert and delete articles, in every order, and
// checks that each article that existed throughout is seen exactly once.
func TestListPagingConcurrentWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	stable := seedList(t, e, 30)
	orders := []string{"", "publish_time", "create_time", "create_time desc", "title"}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; i < 500; i++ { // bounded; normally ended by stop
				select {
				case <-stop:
					return
				default:
				}
				a, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{
					Title:       fmt.Sprintf("Churn %d-%d", w, i),
					PublishTime: timestamppb.New(day0.AddDate(0, 0, (i*7+w)%40-5)),
				}})
				if err != nil {
					t.Errorf("churn create: %v", err)
					return
				}
				if i%2 == 0 {
					if _, err := e.client.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: a.GetId()}); err != nil {
						t.Errorf("churn delete: %v", err)
						return
					}
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	for _, order := range orders {
		t.Run("Order="+order, func(t *testing.T) {
			seen := map[string]int{}
			req := &articlesv1.ListArticlesRequest{PageSize: 3, OrderBy: order}
			for range 1000 {
				resp, err := e.client.ListArticles(ctx, req)
				if err != nil {
					t.Fatalf("ListArticles: %v", err)
				}
				for _, a := range resp.GetArticles() {
					seen[a.GetId()]++
				}
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("article %s listed %d times", id, n)
				}
			}
			for _, a := range stable {
				if seen[a.GetId()] != 1 {
					t.Errorf("stable article %q listed %d times, want once", a.GetTitle(), seen[a.GetId()])
				}
			}
		})
	}
}
