package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	e.create(t, &articlesv1.Article{Title: "Sanctions on Serbia", Body: "The court weighed sanctions against Milošević.", Source: "RIAC", AuthorBio: "Bio."})
	for _, title := range []string{"Harvest report", "Weather report", "Market report", "Sports report", "Travel report"} {
		e.create(t, &articlesv1.Article{Title: title, Body: "A report about the " + strings.ToLower(title) + "."})
	}
	last := e.create(t, &articlesv1.Article{Title: "Unrelated", Body: "Nothing to see."})

	t.Run("FindsAndMarks", func(t *testing.T) {
		resp, err := e.client.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "milosevic sanction"})
		if err != nil {
			t.Fatalf("SearchArticles: %v", err)
		}
		if len(resp.GetResults()) != 1 || resp.GetTotalSize() != 1 {
			t.Fatalf("results = %v, want the one Serbia article", resp.GetResults())
		}
		r := resp.GetResults()[0]
		if r.GetArticle().GetTitle() != "Sanctions on Serbia" || r.GetScore() <= 0 || !strings.Contains(r.GetSnippet(), "**") {
			t.Errorf("result = %v", r)
		}
		if r.GetArticle().GetBody() != "" || r.GetArticle().GetAuthorBio() != "" {
			t.Errorf("default view is not BASIC: %v", r.GetArticle())
		}
		if resp.GetRevision() < last.GetRevision() {
			t.Errorf("revision = %d, want at least %d", resp.GetRevision(), last.GetRevision())
		}
	})
	t.Run("Filtered", func(t *testing.T) {
		resp, err := e.client.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "sanctions", Source: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetResults()) != 0 {
			t.Errorf("source filter ignored: %v", resp.GetResults())
		}
	})
	t.Run("Paging", func(t *testing.T) {
		req := &articlesv1.SearchArticlesRequest{Query: "report", PageSize: 2, MinRevision: last.GetRevision()}
		var titles []string
		for range 10 {
			resp, err := e.client.SearchArticles(ctx, req)
			if err != nil {
				t.Fatalf("SearchArticles: %v", err)
			}
			if resp.GetTotalSize() != 5 {
				t.Errorf("total_size = %d, want 5", resp.GetTotalSize())
			}
			for _, r := range resp.GetResults() {
				titles = append(titles, r.GetArticle().GetTitle())
			}
			if resp.GetNextPageToken() == "" {
				break
			}
			req.PageToken = resp.GetNextPageToken()
		}
		slices.Sort(titles)
		if want := []string{"Harvest report", "Market report", "Sports report", "Travel report", "Weather report"}; !slices.Equal(titles, want) {
			t.Errorf("paged through %v, want %v", titles, want)
		}
	})
	first, err := e.client.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "report", PageSize: 2})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	tok := first.GetNextPageToken()
	t.Run("SameQueryOtherSpelling", func(t *testing.T) {
		if _, err := e.client.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "  REPORT ", PageToken: tok}); err != nil {
			t.Errorf("token refused for the same canonical query: %v", err)
		}
	})
	bad := []struct {
		name string
		req  *articlesv1.SearchArticlesRequest
		// field is the BadRequest field the INVALID_ARGUMENT names.
		field string
	}{
		{"EmptyQuery", &articlesv1.SearchArticlesRequest{Query: "  "}, "query"},
		{"UnclosedQuote", &articlesv1.SearchArticlesRequest{Query: `"open`}, "query"},
		{"OnlyExcluded", &articlesv1.SearchArticlesRequest{Query: "-report"}, "query"},
		{"NegativePageSize", &articlesv1.SearchArticlesRequest{Query: "report", PageSize: -5}, "page_size"},
		{"NegativeMinRevision", &articlesv1.SearchArticlesRequest{Query: "report", MinRevision: -1}, "min_revision"},
		{"TokenOtherQuery", &articlesv1.SearchArticlesRequest{Query: "weather", PageToken: tok}, "page_token"},
		{"TokenOtherFilter", &articlesv1.SearchArticlesRequest{Query: "report", Tag: "x", PageToken: tok}, "page_token"},
		{"ForgedToken", &articlesv1.SearchArticlesRequest{Query: "report", PageToken: "AQMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "page_token"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.SearchArticles(ctx, tt.req)
			wantViolation(t, err, tt.field)
		})
	}
	t.Run("MinRevisionNotReached", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := e.client.SearchArticles(short, &articlesv1.SearchArticlesRequest{Query: "report", MinRevision: last.GetRevision() + 1000})
		wantCode(t, err, codes.DeadlineExceeded)
	})
}
