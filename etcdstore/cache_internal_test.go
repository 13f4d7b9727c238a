package etcdstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func TestArticleCacheOrder(t *testing.T) {
	at := func(rev int64, title string) *articlesv1.Article {
		return &articlesv1.Article{Id: "a", Title: title, Revision: rev}
	}
	put := func(rev int64, title string) *articlesv1.ArticleEvent {
		return &articlesv1.ArticleEvent{Type: articlesv1.ArticleEvent_UPDATED, Revision: rev, Article: at(rev, title)}
	}
	del := func(rev int64) *articlesv1.ArticleEvent {
		return &articlesv1.ArticleEvent{Type: articlesv1.ArticleEvent_DELETED, Revision: rev, Article: &articlesv1.Article{Id: "a", Revision: rev}}
	}
	for _, tc := range []struct {
		name string
		run  func(c *articleCache)
		want string // title cached for "a"; "" for none
	}{
		{"event caches", func(c *articleCache) { c.apply([]*articlesv1.ArticleEvent{put(10, "x")}, nil, 10) }, "x"},
		{"newer event replaces", func(c *articleCache) {
			c.apply([]*articlesv1.ArticleEvent{put(10, "x"), put(11, "y")}, nil, 11)
		}, "y"},
		{"delete removes", func(c *articleCache) {
			c.apply([]*articlesv1.ArticleEvent{put(10, "x"), del(12)}, nil, 12)
		}, ""},
		{"undecodable removes", func(c *articleCache) {
			c.apply([]*articlesv1.ArticleEvent{put(10, "x")}, nil, 10)
			c.apply(nil, []string{"a"}, 13)
		}, ""},
		{"fill at the cache's revision", func(c *articleCache) {
			c.apply(nil, nil, 10)
			c.fill(at(8, "read"), 10)
		}, "read"},
		{"fill older than an applied delete is dropped", func(c *articleCache) {
			c.apply([]*articlesv1.ArticleEvent{del(12)}, nil, 12)
			c.fill(at(8, "stale"), 11)
		}, ""},
		{"fill ahead of the cache, then its older event", func(c *articleCache) {
			c.apply(nil, nil, 9)
			c.fill(at(11, "read"), 11)
			c.apply([]*articlesv1.ArticleEvent{put(10, "older")}, nil, 10)
		}, "read"},
		{"reset empties", func(c *articleCache) {
			c.apply([]*articlesv1.ArticleEvent{put(10, "x")}, nil, 10)
			c.reset(20)
			c.fill(at(10, "stale"), 15)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newArticleCache(1 << 20)
			tc.run(c)
			got, ok := c.get("a")
			if tc.want == "" {
				if ok {
					t.Fatalf("cache holds %v, want nothing", got)
				}
				return
			}
			if !ok || got.GetTitle() != tc.want {
				t.Fatalf("cache holds %v (%v), want title %q", got, ok, tc.want)
			}
		})
	}
}

func TestArticleCacheBudget(t *testing.T) {
	c := newArticleCache(10_000)
	body := string(make([]byte, 3000))
	for i := range 10 {
		c.fill(&articlesv1.Article{Id: string(rune('a' + i)), Body: body, Revision: int64(i)}, 0)
		if i == 1 {
			c.get("a") // used: "b" goes first
		}
	}
	if c.size > c.budget {
		t.Fatalf("cache holds %d bytes, budget %d", c.size, c.budget)
	}
	if len(c.ids) != 3 || !c.has("j") || c.has("b") {
		t.Fatalf("cache holds %d articles (j: %v, b: %v), want the 3 most recently used", len(c.ids), c.has("j"), c.has("b"))
	}
	if got, _ := c.get("j"); got.GetBody() != body {
		t.Fatal("cached article lost its body")
	}
	if newArticleCache(0) != nil {
		t.Fatal("a cache of no bytes is not off")
	}
}

// TestFenceShares checks that every caller gets a read that started after
// it called, and that concurrent callers share reads.
func TestFenceShares(t *testing.T) {
	var started atomic.Int64
	f := fence{read: func(ctx context.Context) (int64, int64, error) {
		n := started.Add(1)
		time.Sleep(time.Millisecond)
		return n, n, nil
	}}
	const callers, calls = 20, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				before := started.Load()
				got, _, err := f.revision(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if got <= before {
					t.Errorf("got read %d, which started before the call (reads started then: %d)", got, before)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := started.Load(); n >= callers*calls {
		t.Errorf("%d reads for %d calls: none shared", n, callers*calls)
	}
	// The last reader goroutine stops once it finds no caller waiting.
	for i := 0; ; i++ {
		f.mu.Lock()
		running, next := f.running, f.next
		f.mu.Unlock()
		if !running && next == nil {
			break
		}
		if i == 100 {
			t.Fatalf("fence left running %v, next %v", running, next)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFenceCanceled(t *testing.T) {
	release := make(chan struct{})
	f := fence{read: func(ctx context.Context) (int64, int64, error) {
		select {
		case <-release:
			return 1, 1, nil
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := f.revision(ctx); err == nil {
		t.Fatal("revision with a done context: no error")
	}
	close(release)
	if got, _, err := f.revision(context.Background()); err != nil || got != 1 {
		t.Fatalf("revision after a canceled one = %d, %v; want 1", got, err)
	}
}
