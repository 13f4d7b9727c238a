package client_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// churn runs writers goroutines (titles marked with round) that each create, retag and delete
// articles, ops times, and returns when they are done. Tags move between
// t0, t1 and t2, so articles enter and leave a tag filter.
func churn(t *testing.T, ctx context.Context, c *client.Client, round string, writers, ops int) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var mine []string
			for i := range ops {
				var err error
				switch {
				case i%3 == 0 || len(mine) == 0:
					var a *articlesv1.Article
					a, err = c.Create(ctx, &articlesv1.Article{
						Title: fmt.Sprintf("Churn %s %d-%d", round, w, i), Body: "Churn.",
						Tags: []string{fmt.Sprintf("t%d", (i/3+w)%3)},
					}, "")
					if err == nil {
						mine = append(mine, a.GetId())
					}
				case i%6 == 5:
					// Half as many deletes as creates: articles remain.
					err = c.Delete(ctx, mine[0], "")
					mine = mine[1:]
				default:
					_, err = c.Update(ctx, &articlesv1.Article{Id: mine[(i/3)%len(mine)], Tags: []string{fmt.Sprintf("t%d", (i+w)%3)}}, "tags")
				}
				if err != nil {
					t.Errorf("writer %d op %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// serverState is every article the server holds that req selects, by id.
func serverState(t *testing.T, ctx context.Context, c *client.Client, req *articlesv1.StreamArticlesRequest) map[string]*articlesv1.Article {
	t.Helper()
	if req.View == articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED {
		req.View = articlesv1.ArticleView_ARTICLE_VIEW_FULL
	}
	out := map[string]*articlesv1.Article{}
	for a, err := range c.Stream(ctx, req) {
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		out[a.GetId()] = a
	}
	return out
}

// mirrorState is every article m holds, by id.
func mirrorState(m *client.Mirror) map[string]*articlesv1.Article {
	out := map[string]*articlesv1.Article{}
	m.Range(func(a *articlesv1.Article) bool {
		out[a.GetId()] = a
		return true
	})
	return out
}

func TestMirrorConverges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []client.MirrorOption
		req  *articlesv1.StreamArticlesRequest
	}{
		{"All", nil, &articlesv1.StreamArticlesRequest{}},
		{"Tag", []client.MirrorOption{client.MirrorTag("T1")}, &articlesv1.StreamArticlesRequest{Tag: "t1"}},
		{"Basic", []client.MirrorOption{client.MirrorView(articlesv1.ArticleView_ARTICLE_VIEW_BASIC)}, &articlesv1.StreamArticlesRequest{View: articlesv1.ArticleView_ARTICLE_VIEW_BASIC}},
		{"Compressed", []client.MirrorOption{client.MirrorCompressed()}, &articlesv1.StreamArticlesRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &received{}
			e := newClientEnv(t, nil, client.WithDialOptions(grpc.WithStatsHandler(r)))
			ctx := watchCtx(t)
			seedArticles(t, e.client, 20)

			// Writes run while the Mirror lists and starts watching (the
			// seam between listing and feed), and after it is built (the
			// feed alone).
			done := make(chan struct{})
			go func() {
				defer close(done)
				churn(t, ctx, e.client, "a", 4, 30)
			}()
			m, err := client.NewMirror(ctx, e.client, tt.opts...)
			if err != nil {
				t.Fatalf("NewMirror: %v", err)
			}
			defer m.Close()
			<-done
			churn(t, ctx, e.client, "b", 4, 30)

			// A last write after the others: once the Mirror reflects it,
			// it reflects everything.
			last, err := e.client.Create(ctx, &articlesv1.Article{Title: "Last", Body: "End.", Tags: []string{"t1"}}, "")
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if err := m.WaitRevision(ctx, last.GetRevision()); err != nil {
				t.Fatalf("WaitRevision(%d): %v", last.GetRevision(), err)
			}
			if got := m.Revision(); got < last.GetRevision() {
				t.Errorf("Revision() = %d after WaitRevision(%d)", got, last.GetRevision())
			}

			want := serverState(t, ctx, e.client, tt.req)
			got := mirrorState(m)
			if len(want) < 10 {
				t.Fatalf("the server holds only %d articles: the writes left too little to compare", len(want))
			}
			wantBodies := tt.req.GetView() != articlesv1.ArticleView_ARTICLE_VIEW_BASIC
			for _, g := range got {
				if (g.GetBody() != "") != wantBodies {
					t.Fatalf("mirror holds %q with body %q; want bodies: %v", g.GetId(), g.GetBody(), wantBodies)
				}
			}
			if m.Len() != len(want) {
				t.Errorf("Len() = %d, want %d", m.Len(), len(want))
			}
			for _, id := range slices.Sorted(maps.Keys(want)) {
				g, ok := got[id]
				switch {
				case !ok:
					t.Errorf("mirror lacks %q (%q)", id, want[id].GetTitle())
				case g.GetRevision() != want[id].GetRevision() || g.GetEtag() != want[id].GetEtag() || g.GetBody() != want[id].GetBody():
					t.Errorf("mirror has %q at revision %d, server at %d", id, g.GetRevision(), want[id].GetRevision())
				}
			}
			for id, g := range got {
				if _, ok := want[id]; !ok {
					t.Errorf("mirror has %q (%q, tags %v), which the server does not", id, g.GetTitle(), g.GetTags())
				}
			}
			if a, ok := m.Get(last.GetId()); !ok || a.GetTitle() != "Last" {
				t.Errorf("Get(%q) = %v, %v; want the last article", last.GetId(), a, ok)
			}
			if _, ok := m.Get("no-such-id"); ok {
				t.Error("Get of an unknown id reported an article")
			}
			if l, w := r.length.Load(), r.wire.Load(); (w < l) != (tt.name == "Compressed") {
				t.Errorf("the client received %d bytes in %d on the wire; want compressed: %v", l, w, tt.name == "Compressed")
			}
		})
	}
}

func TestMirrorClose(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := watchCtx(t)
	seedArticles(t, e.client, 3)
	m, err := client.NewMirror(ctx, e.client)
	if err != nil {
		t.Fatalf("NewMirror: %v", err)
	}
	if got := m.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Closed: it stops following, reports why, and stays readable.
	if err := m.WaitRevision(ctx, 100); status.Code(err) != codes.Canceled {
		t.Errorf("WaitRevision after Close = %v, want CANCELED", err)
	}
	if status.Code(m.Err()) != codes.Canceled {
		t.Errorf("Err() = %v, want CANCELED", m.Err())
	}
	if got := m.Len(); got != 3 {
		t.Errorf("Len() after Close = %d, want 3", got)
	}
}

func TestMirrorWaitRevisionContext(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	m, err := client.NewMirror(watchCtx(t), e.client)
	if err != nil {
		t.Fatalf("NewMirror: %v", err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.WaitRevision(ctx, 1_000_000); err != context.DeadlineExceeded {
		t.Errorf("WaitRevision of a future revision = %v, want context.DeadlineExceeded", err)
	}
	if err := m.WaitRevision(ctx, 0); err != nil {
		t.Errorf("WaitRevision(0) = %v, want nil", err)
	}
}

func TestNewMirrorCanceled(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if m, err := client.NewMirror(ctx, e.client); err == nil {
		m.Close()
		t.Fatal("NewMirror with a canceled context succeeded")
	}
}

func ExampleMirror() {
	c, cleanup := exampleEnv()
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	m, err := client.NewMirror(ctx, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	a, err := c.Create(ctx, &articlesv1.Article{Title: "Mirrored", Body: "Here and there."}, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Wait until the Mirror has seen our own write, then read it locally.
	if err := m.WaitRevision(ctx, a.GetRevision()); err != nil {
		fmt.Println(err)
		return
	}
	got, ok := m.Get(a.GetId())
	fmt.Println(m.Len(), ok, got.GetTitle())
	// Output: 1 true Mirrored
}
