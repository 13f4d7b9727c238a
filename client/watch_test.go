package client_test

import (
	"context"
	"fmt"
	"iter"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

const watchMethod = "/articles.v1.ArticleService/WatchArticles"

// breakWatches is a server interceptor that cuts short the first len(after)
// WatchArticles calls: call i fails with UNAVAILABLE once it has sent
// after[i] messages, each one event (it turns batching off). calls counts every WatchArticles call.
func breakWatches(calls *atomic.Int32, after ...int) grpc.ServerOption {
	return grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if info.FullMethod != watchMethod {
			return h(srv, ss)
		}
		i := int(calls.Add(1)) - 1
		if i >= len(after) {
			return h(srv, ss)
		}
		// One event per message, so that the cut falls between events.
		_ = h(srv, &cutStream{ServerStream: unbatched{ss}, left: after[i]})
		return status.Error(codes.Unavailable, "watch broken by the test")
	})
}

// unbatched clears the batch flag of the WatchArticlesRequest it receives.
type unbatched struct{ grpc.ServerStream }

func (s unbatched) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if r, ok := m.(*articlesv1.WatchArticlesRequest); ok {
		r.Batch = false
	}
	return err
}

// watchCtx is a context for one watch test, bounded so that a watch that
// never yields what the test waits for fails instead of hanging.
func watchCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// collectWatch ranges over a Watch until it has yielded n events that are
// not PROGRESS, and returns every value yielded (PROGRESS included) and the
// error that ended it early, if any.
func collectWatch(seq iter.Seq2[*articlesv1.ArticleEvent, error], n int) ([]*articlesv1.ArticleEvent, error) {
	var got []*articlesv1.ArticleEvent
	events := 0
	for ev, err := range seq {
		if err != nil {
			return got, err
		}
		got = append(got, ev)
		if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
			events++
		}
		if events == n {
			break
		}
	}
	return got, nil
}

// eventRevisions returns the revisions of the events that are not PROGRESS.
func eventRevisions(evs []*articlesv1.ArticleEvent) []int64 {
	var out []int64
	for _, ev := range evs {
		if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
			out = append(out, ev.GetRevision())
		}
	}
	return out
}

// revisionsFrom returns from, from+1, ..., n values.
func revisionsFrom(from int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)
	}
	return out
}

func TestWatch(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	seedArticles(t, e.client, 9) // revisions 1..9; tags t0, t1, t2 in turn

	tests := []struct {
		name  string
		start int64
		opts  []client.WatchOption
		want  []int64
		basic bool // events come without body
	}{
		{"All", 1, nil, revisionsFrom(1, 9), false},
		{"FromN", 7, nil, []int64{7, 8, 9}, false},
		{"Tag", 1, []client.WatchOption{client.WatchTag("T1")}, []int64{2, 5, 8}, false},
		{"Author", 1, []client.WatchOption{client.WatchAuthor("Ann Writer")}, revisionsFrom(1, 9), false},
		{"SourceAndTag", 1, []client.WatchOption{client.WatchSource("Test"), client.WatchTag("t2")}, []int64{3, 6, 9}, false},
		{"Basic", 4, []client.WatchOption{client.WatchView(articlesv1.ArticleView_ARTICLE_VIEW_BASIC)}, revisionsFrom(4, 6), true},
		{"Full", 4, []client.WatchOption{client.WatchView(articlesv1.ArticleView_ARTICLE_VIEW_FULL)}, revisionsFrom(4, 6), false},
		{"Compressed", 1, []client.WatchOption{client.WatchCompressed()}, revisionsFrom(1, 9), false},
		{"CompressedBasicTag", 1, []client.WatchOption{client.WatchCompressed(), client.WatchView(articlesv1.ArticleView_ARTICLE_VIEW_BASIC), client.WatchTag("t1")}, []int64{2, 5, 8}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(watchCtx(t))
			defer cancel()
			seq := e.client.Watch(ctx, tt.start, tt.opts...)
			got, err := collectWatch(seq, len(tt.want))
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if len(got) == 0 || got[0].GetType() != articlesv1.ArticleEvent_PROGRESS || got[0].GetRevision() != tt.start-1 {
				t.Fatalf("first value = %v, want PROGRESS at revision %d", got, tt.start-1)
			}
			if revs := eventRevisions(got); !slices.Equal(revs, tt.want) {
				t.Errorf("revisions = %v, want %v", revs, tt.want)
			}
			for _, ev := range got[1:] {
				if a := ev.GetArticle(); (a.GetBody() == "") != tt.basic || a.GetTitle() == "" {
					t.Errorf("event %d: title %q, body %q; want a title and basic=%v", ev.GetRevision(), a.GetTitle(), a.GetBody(), tt.basic)
				}
			}
		})
	}
}

func TestWatchFromNow(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	seedArticles(t, e.client, 3)
	ctx := watchCtx(t)

	next, stop := iter.Pull2(e.client.Watch(ctx, 0))
	defer stop()
	ev, err, _ := next()
	if err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS || ev.GetRevision() != 3 {
		t.Fatalf("first value = %v, %v; want PROGRESS at revision 3", ev, err)
	}
	created, err := e.client.Create(ctx, &articlesv1.Article{Title: "Live", Body: "Now."}, "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	ev, err, _ = next()
	if err != nil || ev.GetType() != articlesv1.ArticleEvent_CREATED || ev.GetArticle().GetId() != created.GetId() || ev.GetRevision() != 4 {
		t.Fatalf("second value = %v, %v; want CREATED %q at revision 4", ev, err, created.GetId())
	}
}

func TestWatchResume(t *testing.T) {
	t.Parallel()
	const n = 30
	var calls atomic.Int32
	// The first call breaks after the opening PROGRESS and 4 events, the
	// second after its opening PROGRESS alone, the third after 10 more.
	e := newClientEnv(t, []grpc.ServerOption{breakWatches(&calls, 5, 1, 11)}, client.WithRetry(5))
	seedArticles(t, e.client, n)

	got, err := collectWatch(e.client.Watch(watchCtx(t), 1), n)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if revs := eventRevisions(got); !slices.Equal(revs, revisionsFrom(1, n)) {
		t.Errorf("revisions = %v, want 1..%d exactly once", revs, n)
	}
	progress := 0
	for _, ev := range got {
		if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
			progress++
		}
	}
	if progress != 1 {
		t.Errorf("got %d PROGRESS values, want only the first stream's opening one", progress)
	}
	if c := calls.Load(); c != 4 {
		t.Errorf("server saw %d WatchArticles calls, want 4 (three broken, one whole)", c)
	}
}

// TestWatchResumeBrokenConnection cuts the client's first connection at the
// transport, mid-feed, and checks that Watch reconnects and loses nothing.
func TestWatchResumeBrokenConnection(t *testing.T) {
	t.Parallel()
	const n = 40
	e := newClientEnv(t, nil)
	seedArticles(t, e.client, n) // full articles: about 12 KB of events

	var conns sync.WaitGroup
	c, err := client.New(context.Background(), "passthrough:///bufnet", client.WithDialOptions(
		grpc.WithContextDialer(e.dialer(func(i int, c net.Conn) net.Conn {
			if i > 1 {
				return c
			}
			conns.Add(1)
			return &breakingConn{Conn: c, left: 4096, done: conns.Done}
		})),
		grpc.WithReadBufferSize(512),
		grpc.WithInitialWindowSize(1<<16),
	))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()

	got, err := collectWatch(c.Watch(watchCtx(t), 1), n)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if revs := eventRevisions(got); !slices.Equal(revs, revisionsFrom(1, n)) {
		t.Errorf("revisions = %v, want 1..%d exactly once", revs, n)
	}
	conns.Wait() // the first connection was really cut
}

func TestWatchErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		breakAt   []int // breakWatches' schedule
		retry     int
		start     int64
		wantCode  codes.Code
		wantCalls int32
	}{
		// Not retryable: yielded at once.
		{"NegativeStart", nil, 4, -1, codes.InvalidArgument, 1},
		// UNAVAILABLE with nothing received, every time: gives up after the
		// client's attempts.
		{"GivesUp", []int{0, 0, 0, 0, 0}, 3, 1, codes.Unavailable, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			e := newClientEnv(t, []grpc.ServerOption{breakWatches(&calls, tt.breakAt...)}, client.WithRetry(tt.retry))
			var errs []error
			n := 0
			for ev, err := range e.client.Watch(watchCtx(t), tt.start) {
				n++
				if n > 10 {
					t.Fatalf("Watch yielded %d values, want one error", n)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				t.Errorf("Watch yielded %v, want an error", ev)
			}
			if len(errs) != 1 || status.Code(errs[0]) != tt.wantCode {
				t.Fatalf("errors = %v, want one with code %v", errs, tt.wantCode)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("server saw %d calls, want %d", got, tt.wantCalls)
			}
		})
	}
}

func ExampleClient_Watch() {
	c, cleanup := exampleEnv()
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	a, err := c.Create(ctx, &articlesv1.Article{Title: "First", Body: "One."}, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Delete(ctx, a.GetId(), ""); err != nil {
		fmt.Println(err)
		return
	}

	// Every event from revision 1 on: the opening PROGRESS says the feed
	// starts after revision 0.
	for ev, err := range c.Watch(ctx, 1) {
		if err != nil {
			fmt.Println(err)
			return
		}
		switch ev.GetType() {
		case articlesv1.ArticleEvent_PROGRESS:
			fmt.Println(ev.GetRevision(), ev.GetType())
		case articlesv1.ArticleEvent_DELETED:
			fmt.Println(ev.GetRevision(), ev.GetType(), ev.GetArticle().GetSlug())
			return
		default:
			fmt.Println(ev.GetRevision(), ev.GetType(), ev.GetArticle().GetSlug())
		}
	}
	// Output:
	// 0 PROGRESS
	// 1 CREATED first
	// 2 DELETED first
}

// received adds up the messages a client receives: their size, and their
// size on the wire.
type received struct {
	length, wire atomic.Int64
}

func (r *received) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (r *received) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (r *received) HandleConn(context.Context, stats.ConnStats)                       {}
func (r *received) HandleRPC(_ context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InPayload); ok {
		r.length.Add(int64(in.Length))
		r.wire.Add(int64(in.CompressedLength))
	}
}

// TestWatchCompressed checks that WatchCompressed makes the events arrive
// compressed, and that without it they do not.
func TestWatchCompressed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		opts       []client.WatchOption
		compressed bool
	}{
		{"Compressed", []client.WatchOption{client.WatchCompressed()}, true},
		{"Plain", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &received{}
			e := newClientEnv(t, nil, client.WithDialOptions(grpc.WithStatsHandler(r)))
			seedArticles(t, e.client, 30)
			ctx, cancel := context.WithCancel(watchCtx(t))
			defer cancel()
			r.length.Store(0)
			r.wire.Store(0)
			got, err := collectWatch(e.client.Watch(ctx, 1, tt.opts...), 30)
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if revs := eventRevisions(got); !slices.Equal(revs, revisionsFrom(1, 30)) {
				t.Fatalf("revisions = %v", revs)
			}
			l, w := r.length.Load(), r.wire.Load()
			if tt.compressed != (w < l) {
				t.Errorf("received %d bytes in %d on the wire; want compressed = %v", l, w, tt.compressed)
			}
		})
	}
}
