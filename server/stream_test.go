package server_test

import (
	"errors"
	"io"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// streamAll reads a whole StreamArticles stream, returning the titles and
// cursors in order, or the error that ended it.
func streamAll(t *testing.T, e *env, req *articlesv1.StreamArticlesRequest, limit int) (titles, cursors []string, err error) {
	t.Helper()
	s, err := e.client.StreamArticles(testCtx(t), req)
	if err != nil {
		return nil, nil, err
	}
	for range 10000 {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return titles, cursors, nil
		}
		if err != nil {
			return titles, cursors, err
		}
		titles = append(titles, m.GetArticle().GetTitle())
		cursors = append(cursors, m.GetCursor())
		if m.GetCursor() == "" || m.GetArticle().GetBody() != "" {
			t.Errorf("message %q: cursor %q, body %q; want a cursor and the BASIC view", m.GetArticle().GetTitle(), m.GetCursor(), m.GetArticle().GetBody())
		}
		if len(titles) == limit {
			return titles, cursors, nil
		}
	}
	t.Fatal("stream never ended")
	return
}

func TestStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	arts := seedList(t, e, 9)

	all, cursors, err := streamAll(t, e, &articlesv1.StreamArticlesRequest{}, 0)
	if err != nil {
		t.Fatalf("StreamArticles: %v", err)
	}
	if want := titlesOf(8, 7, 6, 5, 4, 3, 2, 1, 0); !slices.Equal(all, want) {
		t.Fatalf("streamed %v, want %v", all, want)
	}

	tests := []struct {
		name string
		req  *articlesv1.StreamArticlesRequest
		want []string
	}{
		{"ResumeFromCursor", &articlesv1.StreamArticlesRequest{StartAfter: cursors[3]}, titlesOf(4, 3, 2, 1, 0)},
		{"ResumeFromLastCursor", &articlesv1.StreamArticlesRequest{StartAfter: cursors[8]}, nil},
		{"ResumeFromID", &articlesv1.StreamArticlesRequest{StartAfter: arts[6].GetId()}, titlesOf(5, 4, 3, 2, 1, 0)},
		{"ResumeFromIDOtherOrder", &articlesv1.StreamArticlesRequest{OrderBy: "title", StartAfter: arts[6].GetId()}, titlesOf(7, 8)},
		{"Filtered", &articlesv1.StreamArticlesRequest{Tag: "odd", OrderBy: "publish_time"}, titlesOf(1, 3, 5, 7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := streamAll(t, e, tt.req, 0)
			if err != nil {
				t.Fatalf("StreamArticles: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("streamed %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("ResumeAfterBreak", func(t *testing.T) {
		req := &articlesv1.StreamArticlesRequest{Author: "Ann", OrderBy: "title"}
		first, cur, err := streamAll(t, e, req, 2)
		if err != nil {
			t.Fatal(err)
		}
		// A write between the break and the resumption, before the cursor,
		// must not shift what follows.
		e.create(t, &articlesv1.Article{Title: "Title 00a", Authors: []string{"Ann"}})
		req.StartAfter = cur[len(cur)-1]
		rest, _, err := streamAll(t, e, req, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := append(first, rest...), titlesOf(0, 2, 4, 6, 8); !slices.Equal(got, want) {
			t.Errorf("streamed %v, want %v", got, want)
		}
	})

	page, err := e.client.ListArticles(testCtx(t), &articlesv1.ListArticlesRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	pageTok := page.GetNextPageToken()
	bad := []struct {
		name  string
		req   *articlesv1.StreamArticlesRequest
		code  codes.Code
		field string
	}{
		{"CursorOtherFilter", &articlesv1.StreamArticlesRequest{Source: "S1", StartAfter: cursors[0]}, codes.InvalidArgument, "start_after"},
		{"CursorOtherOrder", &articlesv1.StreamArticlesRequest{OrderBy: "title", StartAfter: cursors[0]}, codes.InvalidArgument, "start_after"},
		{"EditedCursor", &articlesv1.StreamArticlesRequest{StartAfter: editOne(cursors[0])}, codes.InvalidArgument, "start_after"},
		{"PageTokenAsCursor", &articlesv1.StreamArticlesRequest{StartAfter: pageTok}, codes.InvalidArgument, "start_after"},
		{"UnknownID", &articlesv1.StreamArticlesRequest{StartAfter: "01J00000000000000000000000"}, codes.NotFound, ""},
		{"UnknownOrder", &articlesv1.StreamArticlesRequest{OrderBy: "random"}, codes.InvalidArgument, "order_by"},
		{"BadView", &articlesv1.StreamArticlesRequest{View: 3}, codes.InvalidArgument, "view"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := streamAll(t, e, tt.req, 0)
			if tt.field != "" {
				wantViolation(t, err, tt.field)
			} else {
				wantCode(t, err, tt.code)
			}
		})
	}
}

// editOne changes one character in the middle of s to another base64url
// character.
func editOne(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
