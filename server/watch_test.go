package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// watchStream is the client side of one WatchArticles call.
type watchStream = grpc.ServerStreamingClient[articlesv1.ArticleEvent]

// openWatch starts a watch and checks its opening PROGRESS event, whose
// revision must be wantOpening (-1: any). It returns the stream and the
// opening revision.
func openWatch(t *testing.T, ctx context.Context, c articlesv1.ArticleServiceClient, req *articlesv1.WatchArticlesRequest, wantOpening int64) (watchStream, int64) {
	t.Helper()
	s, err := c.WatchArticles(ctx, req)
	if err != nil {
		t.Fatalf("WatchArticles: %v", err)
	}
	ev, err := s.Recv()
	if err != nil {
		t.Fatalf("WatchArticles: first Recv: %v", err)
	}
	if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
		t.Fatalf("first event = %v, want the opening PROGRESS", ev)
	}
	if wantOpening >= 0 && ev.GetRevision() != wantOpening {
		t.Fatalf("opening PROGRESS revision = %d, want %d", ev.GetRevision(), wantOpening)
	}
	return s, ev.GetRevision()
}

// recvEvents receives until it has n non-PROGRESS events, failing on any
// error. It checks that events come in strictly increasing revisions.
func recvEvents(t *testing.T, s watchStream, n int) []*articlesv1.ArticleEvent {
	t.Helper()
	var out []*articlesv1.ArticleEvent
	for len(out) < n {
		ev, err := s.Recv()
		if err != nil {
			t.Fatalf("Recv after %d of %d events: %v", len(out), n, err)
		}
		if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
			continue
		}
		if len(out) > 0 && ev.GetRevision() <= out[len(out)-1].GetRevision() {
			t.Fatalf("event revision %d after %d: out of order or repeated", ev.GetRevision(), out[len(out)-1].GetRevision())
		}
		out = append(out, ev)
	}
	return out
}

// recvUntilProgress receives events until a PROGRESS event with revision >=
// rev, and returns the other events seen on the way.
func recvUntilProgress(t *testing.T, s watchStream, rev int64) []*articlesv1.ArticleEvent {
	t.Helper()
	var out []*articlesv1.ArticleEvent
	for {
		ev, err := s.Recv()
		if err != nil {
			t.Fatalf("Recv waiting for PROGRESS %d: %v", rev, err)
		}
		if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
			if ev.GetRevision() >= rev {
				return out
			}
			continue
		}
		out = append(out, ev)
	}
}

// wantConsecutive fails unless evs have revisions from, from+1, ...
func wantConsecutive(t *testing.T, evs []*articlesv1.ArticleEvent, from int64) {
	t.Helper()
	for i, ev := range evs {
		if want := from + int64(i); ev.GetRevision() != want {
			t.Fatalf("event %d has revision %d, want %d (gap or duplicate)", i, ev.GetRevision(), want)
		}
	}
}

// article returns a valid article to create, titled title.
func article(title string) *articlesv1.Article {
	return &articlesv1.Article{Title: title, Body: "Body of " + title + "."}
}

func TestWatchOrderedUniqueNoGaps(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "revisions start at 1 and are consecutive")
	e := newEnv(t, nil)
	ctx := testCtx(t)
	// Several watchers share each event's encoded form; one asks for gzip,
	// so the server compresses the shared bytes for that stream.
	var streams []watchStream
	for _, opts := range [][]grpc.CallOption{nil, nil, {grpc.UseCompressor(gzip.Name)}} {
		s, err := e.client.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{}, opts...)
		if err != nil {
			t.Fatalf("WatchArticles: %v", err)
		}
		if ev, err := s.Recv(); err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS || ev.GetRevision() != 0 {
			t.Fatalf("opening event = %v, %v; want PROGRESS at 0", ev, err)
		}
		streams = append(streams, s)
	}

	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	ids := make(chan string, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				a, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: article(fmt.Sprintf("writer %d article %d", w, i))})
				if err != nil {
					t.Errorf("CreateArticle: %v", err)
					return
				}
				ids <- a.GetId()
			}
		})
	}
	wg.Wait()
	close(ids)

	var evs []*articlesv1.ArticleEvent
	for i, s := range streams {
		got := recvEvents(t, s, writers*perWriter)
		wantConsecutive(t, got, 1)
		if i == 0 {
			evs = got
			continue
		}
		for j := range got {
			if !proto.Equal(got[j], evs[j]) {
				t.Fatalf("watcher %d event %d = %v, watcher 0 got %v", i, j, got[j], evs[j])
			}
		}
	}
	created := map[string]bool{}
	for id := range ids {
		created[id] = true
	}
	for _, ev := range evs {
		if ev.GetType() != articlesv1.ArticleEvent_CREATED {
			t.Errorf("event %d type = %v, want CREATED", ev.GetRevision(), ev.GetType())
		}
		if ev.GetArticle().GetRevision() != ev.GetRevision() {
			t.Errorf("event %d carries article revision %d", ev.GetRevision(), ev.GetArticle().GetRevision())
		}
		if !created[ev.GetArticle().GetId()] {
			t.Errorf("event %d is for id %q, which no writer created (or a second time)", ev.GetRevision(), ev.GetArticle().GetId())
		}
		delete(created, ev.GetArticle().GetId())
	}
	if len(created) != 0 {
		t.Errorf("%d created articles have no event", len(created))
	}
}

func TestWatchStartRevision(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "revisions start at 1 and are consecutive")
	e := newEnv(t, nil)
	ctx := testCtx(t)
	for i := range 20 {
		e.create(t, article(fmt.Sprintf("before %d", i)))
	}

	t.Run("ResumeFromN", func(t *testing.T) {
		s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: 10}, 9)
		wantConsecutive(t, recvEvents(t, s, 11), 10) // 10..20, replayed
	})
	t.Run("FromNow", func(t *testing.T) {
		openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{}, 20)
	})
	t.Run("Future", func(t *testing.T) {
		s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: 23}, 22)
		// Revisions 21 and 22 are not wanted; 23 and 24 are.
		for i := range 4 {
			e.create(t, article(fmt.Sprintf("future %d", i)))
		}
		wantConsecutive(t, recvEvents(t, s, 2), 23)
	})
	t.Run("Seam", func(t *testing.T) {
		// Replays 1..24 from the log, then continues live with no gap or
		// duplicate while writes keep coming.
		s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: 1}, 0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 10 {
				if _, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: article(fmt.Sprintf("live %d", i))}); err != nil {
					t.Errorf("CreateArticle: %v", err)
					return
				}
			}
		}()
		evs := recvEvents(t, s, 34)
		<-done
		wantConsecutive(t, evs, 1)
	})
}

func TestWatchInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		req   *articlesv1.WatchArticlesRequest
		field string
	}{
		{"NegativeStart", &articlesv1.WatchArticlesRequest{StartRevision: -1}, "start_revision"},
		{"LongTag", &articlesv1.WatchArticlesRequest{Tag: strings.Repeat("t", 2000)}, "tag"},
		{"LongAuthor", &articlesv1.WatchArticlesRequest{Author: strings.Repeat("a", 2000)}, "author"},
		{"UnknownView", &articlesv1.WatchArticlesRequest{View: 7}, "view"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := e.client.WatchArticles(testCtx(t), tt.req)
			if err == nil {
				_, err = s.Recv()
			}
			wantViolation(t, err, tt.field)
		})
	}
}

// waitCompacted waits (at most 10s) until db's log has been compacted and
// returns the oldest revision it retains.
func waitCompacted(t *testing.T, db *store.DB) int64 {
	t.Helper()
	return waitCompactedPast(t, db, 1)
}

// waitCompactedPast waits (at most 10s) until db's log no longer holds
// revision rev and returns the oldest revision it retains.
func waitCompactedPast(t *testing.T, db *store.DB, rev int64) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, err := db.Changes(context.Background(), rev, 1)
		var ce *articles.CompactedError
		if errors.As(err, &ce) {
			return ce.Oldest
		}
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the log was not compacted within 10s")
	return 0
}

// openStoreWith opens a store with opts in a temporary directory, closed
// at cleanup.
func openStoreWith(t testing.TB, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "a.db"), opts...)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestWatchCompacted(t *testing.T) {
	t.Parallel()
	db := openStoreWith(t, store.WithHistory(5))
	e := newEnv(t, db)
	ctx := testCtx(t)
	for i := range 20 {
		e.create(t, article(fmt.Sprintf("a %d", i)))
	}
	oldest := waitCompacted(t, db)

	s, err := e.client.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{StartRevision: 1})
	if err == nil {
		var ev *articlesv1.ArticleEvent
		ev, err = s.Recv()
		if err == nil {
			t.Fatalf("first message = %v, want OUT_OF_RANGE before anything is sent", ev)
		}
	}
	st := wantCode(t, err, codes.OutOfRange)
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil {
		t.Fatalf("OUT_OF_RANGE %v has no ErrorInfo detail", st)
	}
	got, err := strconv.ParseInt(info.GetMetadata()["oldest_revision"], 10, 64)
	// Compaction may have moved on since waitCompacted looked.
	if err != nil || got < oldest || got > 20 {
		t.Errorf("oldest_revision = %q, want a revision in [%d, 20]", info.GetMetadata()["oldest_revision"], oldest)
	}
	if !strings.Contains(st.Message(), strconv.FormatInt(got, 10)) {
		t.Errorf("message %q does not name the oldest revision %d", st.Message(), got)
	}

	// From the oldest retained revision on, the watch works.
	s, _ = openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: 18}, 17)
	wantConsecutive(t, recvEvents(t, s, 3), 18)
}

func TestWatchProgress(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "revisions start at 1")
	e := newEnv(t, nil, server.WithProgressInterval(50*time.Millisecond))
	ctx := testCtx(t)
	e.create(t, article("one"))

	t.Run("Idle", func(t *testing.T) {
		s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{}, 1)
		for range 2 {
			ev, err := s.Recv()
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			if ev.GetType() != articlesv1.ArticleEvent_PROGRESS || ev.GetRevision() != 1 {
				t.Fatalf("idle stream got %v, want PROGRESS at revision 1", ev)
			}
		}
	})
	t.Run("FilteredAdvances", func(t *testing.T) {
		s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{Tag: "nomatch"}, 1)
		var last int64
		for i := range 3 {
			last = e.create(t, article(fmt.Sprintf("filtered out %d", i))).GetRevision()
		}
		if evs := recvUntilProgress(t, s, last); len(evs) != 0 {
			t.Errorf("filtered watch got %v, want only PROGRESS", evs)
		}
	})
}

func TestWatchFilters(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "consecutive revisions; deletes sent to every filtered watcher")
	e := newEnv(t, nil, server.WithProgressInterval(20*time.Millisecond))
	ctx := testCtx(t)
	mk := func(title, author, tag, source string) *articlesv1.Article {
		a := article(title)
		a.Authors, a.Tags, a.Source = []string{author}, []string{tag}, source
		return e.create(t, a)
	}
	a1 := mk("a1", "Ann", "go", "RIAC")
	a2 := mk("a2", "Bob", "rust", "RIAC")
	a3 := mk("a3", "Ann", "rust", "Other")
	if _, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
		Article:    &articlesv1.Article{Id: a2.GetId(), Tags: []string{"go"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tags"}},
	}); err != nil {
		t.Fatalf("UpdateArticle: %v", err)
	}
	if _, err := e.client.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: a3.GetId()}); err != nil {
		t.Fatalf("DeleteArticle: %v", err)
	}
	last := a3.GetRevision() + 2

	type ev struct {
		typ articlesv1.ArticleEvent_Type
		id  string
	}
	created, deleted := articlesv1.ArticleEvent_CREATED, articlesv1.ArticleEvent_DELETED
	updated := articlesv1.ArticleEvent_UPDATED
	tests := []struct {
		name string
		req  *articlesv1.WatchArticlesRequest
		want []ev
	}{
		{"None", &articlesv1.WatchArticlesRequest{}, []ev{{created, a1.GetId()}, {created, a2.GetId()}, {created, a3.GetId()}, {updated, a2.GetId()}, {deleted, a3.GetId()}}},
		// Deletes carry no author, tag or source: every filtered watcher
		// gets them.
		{"Author", &articlesv1.WatchArticlesRequest{Author: "Ann"}, []ev{{created, a1.GetId()}, {created, a3.GetId()}, {deleted, a3.GetId()}}},
		{"TagLowercased", &articlesv1.WatchArticlesRequest{Tag: " GO "}, []ev{{created, a1.GetId()}, {updated, a2.GetId()}, {deleted, a3.GetId()}}},
		{"Source", &articlesv1.WatchArticlesRequest{Source: "RIAC"}, []ev{{created, a1.GetId()}, {created, a2.GetId()}, {updated, a2.GetId()}, {deleted, a3.GetId()}}},
		{"AuthorAndTag", &articlesv1.WatchArticlesRequest{Author: "Ann", Tag: "rust"}, []ev{{created, a3.GetId()}, {deleted, a3.GetId()}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.StartRevision = 1
			s, _ := openWatch(t, ctx, e.client, tt.req, 0)
			var got []ev
			for _, x := range recvUntilProgress(t, s, last) {
				got = append(got, ev{x.GetType(), x.GetArticle().GetId()})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWatchEventContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{}, 0)
	a := article("content")
	a.Authors, a.Tags, a.AuthorBio = []string{"Ann"}, []string{"go"}, "Ann writes."
	c := e.create(t, a)
	if _, err := e.client.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: c.GetId()}); err != nil {
		t.Fatalf("DeleteArticle: %v", err)
	}
	evs := recvEvents(t, s, 2)
	if got := evs[0].GetArticle(); got.GetBody() != c.GetBody() || got.GetAuthorBio() != c.GetAuthorBio() || got.GetEtag() != c.GetEtag() {
		t.Errorf("CREATED carries %v, want the full article %v", got, c)
	}
	del := evs[1].GetArticle()
	if evs[1].GetType() != articlesv1.ArticleEvent_DELETED || del.GetId() != c.GetId() || del.GetSlug() != c.GetSlug() || del.GetRevision() == 0 {
		t.Errorf("DELETED event = %v, want id %q, slug %q and a revision", evs[1], c.GetId(), c.GetSlug())
	}
	if del.GetTitle() != "" || del.GetBody() != "" || len(del.GetAuthors()) != 0 {
		t.Errorf("DELETED event carries more than id, slug and revision: %v", del)
	}
}

func TestWatchFailedWriteHasNoEvent(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "consecutive revisions")
	e := newEnv(t, nil)
	ctx := testCtx(t)
	s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{}, 0)
	first := e.create(t, &articlesv1.Article{Title: "Taken", Slug: "taken", Body: "b"})
	_, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Again", Slug: "taken", Body: "b"}})
	wantCode(t, err, codes.AlreadyExists)
	_, err = e.client.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: first.GetId(), Etag: "stale"})
	if status.Code(err) == codes.OK {
		t.Fatal("delete with a stale etag succeeded")
	}
	second := e.create(t, article("after"))
	evs := recvEvents(t, s, 2)
	wantConsecutive(t, evs, first.GetRevision())
	if evs[0].GetArticle().GetId() != first.GetId() || evs[1].GetArticle().GetId() != second.GetId() {
		t.Errorf("events are for %q, %q; want %q, %q", evs[0].GetArticle().GetId(), evs[1].GetArticle().GetId(), first.GetId(), second.GetId())
	}
}

// dialWithSmallWindow serves srv on a new in-memory listener and returns a
// client whose HTTP/2 windows are fixed at 64 KiB, so that a stream it does
// not read stalls the server's Send soon.
func dialWithSmallWindow(t *testing.T, srv *server.Server) articlesv1.ArticleServiceClient {
	t.Helper()
	lis := bufconn.Listen(64 << 10)
	gs := srv.GRPCServer()
	go gs.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return articlesv1.NewArticleServiceClient(conn)
}

func TestWatchSlowWatcher(t *testing.T) {
	t.Parallel()
	const writes = 1000
	tests := []struct {
		name    string
		history int64
		// wantOutOfRange: the watcher falls behind the retained history.
		wantOutOfRange bool
	}{
		{"CatchesUp", 100_000, false},
		{"Compacted", 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openStoreWith(t, store.WithHistory(tt.history))
			e := newEnv(t, db, server.WithWatchBuffer(16))
			ctx := testCtx(t)
			slow := dialWithSmallWindow(t, e.srv)
			s, _ := openWatch(t, ctx, slow, &articlesv1.WatchArticlesRequest{}, 0)
			// A first write, received live, puts the watcher on the
			// ring: it then falls behind it rather than starting behind
			// (as it can when it opens while the hub skips events
			// nobody watches).
			if _, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: article("first")}); err != nil {
				t.Fatal(err)
			}
			var got []*articlesv1.ArticleEvent
			for len(got) == 0 {
				ev, err := s.Recv()
				if err != nil {
					t.Fatalf("Recv of the first write: %v", err)
				}
				if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
					got = append(got, ev)
				}
			}

			// The watcher reads nothing while the writes happen. Labels of
			// 2 KiB (not indexed, so cheap to write) make the events
			// overflow every flow-control window.
			pad := strings.Repeat("x", 1000)
			labels := map[string]string{"pad1": pad, "pad2": pad}
			// Writers import (each article of an import is one write with
			// its own revision): 1,000 writes stay cheap under -race.
			var wg sync.WaitGroup
			const writers = 4
			for w := range writers {
				wg.Go(func() {
					imp, err := e.client.ImportArticles(ctx)
					if err != nil {
						t.Errorf("ImportArticles: %v", err)
						return
					}
					for i := range writes / writers {
						a := &articlesv1.Article{Title: fmt.Sprintf("w%d-%d", w, i), Body: "b", Labels: labels}
						if err := imp.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
							t.Errorf("ImportArticles: Send: %v", err)
							return
						}
					}
					res, err := imp.CloseAndRecv()
					if err != nil || res.GetCreated() != writes/writers {
						t.Errorf("ImportArticles = %v, %v; want %d created", res, err, writes/writers)
					}
				})
			}
			wg.Wait() // every writer completes although the watcher reads nothing
			if t.Failed() {
				return
			}
			if tt.wantOutOfRange {
				// Let compaction pass what the stalled watcher has sent.
				waitCompactedPast(t, db, writes/2)
			}

			for len(got) < 1+writes {
				ev, err := s.Recv()
				if err != nil {
					if tt.wantOutOfRange && status.Code(err) == codes.OutOfRange {
						break
					}
					t.Fatalf("Recv after %d events: %v", len(got), err)
				}
				if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
					got = append(got, ev)
				}
			}
			wantConsecutive(t, got, 1)
			if !strings.Contains(e.logs.String(), "catching up from the log") {
				t.Errorf("the watcher never fell behind the live feed; the test did not exercise catching up")
			}
			if tt.wantOutOfRange && len(got) == 1+writes {
				t.Errorf("watcher received all %d events with a history of %d, want OUT_OF_RANGE", writes, tt.history)
			}
		})
	}
}

func TestWatchShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	e.create(t, article("one"))
	var streams []watchStream
	for _, start := range []int64{0, 1} {
		s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: start}, -1)
		streams = append(streams, s)
	}
	recvEvents(t, streams[1], 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		e.stop()
	}()
	for i, s := range streams {
		for {
			ev, err := s.Recv()
			if err == nil {
				if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
					t.Errorf("stream %d: unexpected event %v during shutdown", i, ev)
				}
				continue
			}
			if errors.Is(err, io.EOF) || status.Code(err) != codes.Unavailable {
				t.Errorf("stream %d ended with %v, want UNAVAILABLE", i, err)
			}
			break
		}
	}
	<-stopped
}

func TestWatchContextCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{}, 0)
	cancel()
	if _, err := s.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after cancel = %v, want CANCELED", err)
	}
	// The server side ends too: a graceful stop does not wait for it.
	e.stop()
}

// changesCounter counts the Changes reads of a real store by their first
// revision.
type changesCounter struct {
	server.Store
	mu    sync.Mutex
	reads map[int64]int // from -> reads of more than one event
}

func (c *changesCounter) Changes(ctx context.Context, from int64, limit int) ([]*articlesv1.ArticleEvent, error) {
	if limit > 1 {
		c.mu.Lock()
		c.reads[from]++
		c.mu.Unlock()
	}
	return c.Store.Changes(ctx, from, limit)
}

func (c *changesCounter) count(from int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[from]
}

// TestWatchSharedCatchUp: watchers that are behind the ring share their
// reads of the log, and each still gets every event exactly once, in
// order, from its own start revision.
func TestWatchSharedCatchUp(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "revisions start at 1 and are consecutive")
	ctx := testCtx(t)
	db := openStore(t)
	const writes = 300
	for i := range writes {
		// Written before the server starts, so that its ring holds none
		// of them and its tailer does not read them.
		a := article(fmt.Sprintf("shared %d", i))
		a.Slug = fmt.Sprintf("shared-%d", i)
		if _, err := db.Create(ctx, a, ""); err != nil {
			t.Fatal(err)
		}
	}
	cc := &changesCounter{Store: db, reads: map[int64]int{}}
	e := newEnv(t, cc)

	starts := []int64{1, 2, 3, 40, 64, 65, 66, 100, 1, 1, 2, 2, 30, 70, 129, 1}
	var wg sync.WaitGroup
	for _, start := range starts {
		s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: start}, start-1)
		wg.Go(func() {
			wantConsecutive(t, recvEvents(t, s, int(writes-start+1)), start)
		})
	}
	wg.Wait()
	// Revisions 65..128 are one span, which every watcher starting before
	// 66 reads: once for all of them, not once each.
	if n := cc.count(65); n != 1 {
		t.Errorf("the log was read from revision 65 %d times by %d watchers, want once", n, len(starts))
	}
}

// TestWatchRate: with WithWatchRate the feed sends no more than its burst
// plus its rate per second, every event still arrives in order, and a
// watcher waiting for the cap ends with UNAVAILABLE at shutdown.
func TestWatchRate(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "revisions start at 1 and are consecutive")
	const (
		perSecond = 20_000
		burst     = 64 << 10 // the cap's smallest burst
	)
	e := newEnv(t, nil, server.WithWatchRate(perSecond))
	ctx := testCtx(t)
	const writes = 40 // of about 4 KB each: far more than the burst
	for i := range writes {
		a := article(fmt.Sprintf("paced %d", i))
		a.Body = strings.Repeat(fmt.Sprintf("paced body %d ", i), 300)
		e.create(t, a)
	}
	s, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{StartRevision: 1}, 0)
	start := time.Now()
	var (
		mu      sync.Mutex
		got     []*articlesv1.ArticleEvent
		counted int // bytes as the cap counts them
		final   error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := s.Recv()
			mu.Lock()
			if err != nil {
				final = err
				mu.Unlock()
				return
			}
			if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
				got = append(got, ev)
				counted += proto.Size(ev) + 32
			}
			mu.Unlock()
		}
	}()
	// Some events go out at once (the burst); after that, no more than
	// the rate allows for the time that has passed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n, c := len(got), counted
		mu.Unlock()
		if limit := burst + int(perSecond*time.Since(start).Seconds()) + 5000; c > limit {
			t.Fatalf("%d events, %d bytes sent, more than the cap allows (%d)", n, c, limit)
		}
		if n >= 10 && time.Since(start) > 500*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d events arrived within 10 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	wantConsecutive(t, got, 1)
	if len(got) >= writes {
		t.Errorf("all %d events arrived: the cap did not hold any back", len(got))
	}
	mu.Unlock()

	e.stop()
	<-done
	if status.Code(final) != codes.Unavailable {
		t.Errorf("a watcher waiting for the cap ended with %v at shutdown, want UNAVAILABLE\n%s", final, e.logs.String())
	}
}
