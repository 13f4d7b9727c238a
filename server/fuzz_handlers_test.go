package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// The fuzz targets in this file send random bytes, as they are, to one
// method of a real Server over bufconn: the raw codec lets even bytes that
// are no protobuf message reach the server's own codec. For every input
// they check that the answer's code is one a client may get for bad input
// (fuzzAllowed) and that the panic-recovery interceptor never fired.
//
// Each target serves one Server on a fresh store for all its inputs (a
// Server per input would be too slow to fuzz); writes are undone or
// bounded so that the store stays small however long the run:
//
//	go test ./server -run '^$' -fuzz '^FuzzCreateArticle$' -fuzztime 30s -fuzzminimizetime 200x
//
// Keep -fuzzminimizetime small: the server's goroutines make coverage
// noisy, and with the default (60s) the fuzzer can spend a whole run
// minimizing one new input instead of trying others.

// fuzzAllowed are the codes a request may end with, whatever its bytes.
// INTERNAL, UNKNOWN and UNAVAILABLE would each be a server bug.
var fuzzAllowed = map[codes.Code]bool{
	codes.OK:                true,
	codes.InvalidArgument:   true,
	codes.NotFound:          true,
	codes.AlreadyExists:     true,
	codes.Aborted:           true,
	codes.ResourceExhausted: true,
	codes.OutOfRange:        true,
}

// fuzzMaxInput bounds the inputs tried, to keep each call quick and the
// store small; gRPC's own size limit is tested elsewhere.
const fuzzMaxInput = 64 << 10

// panicLog is a slog.Handler that records what the server logs about
// panics and drops everything else, so that a long fuzz run keeps no log.
type panicLog struct {
	mu    sync.Mutex
	n     int    // panic records seen
	first string // the first one, with its attributes
}

func (h *panicLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *panicLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(strings.ToLower(r.Message), "panic") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, "\n%s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	if h.first == "" {
		h.first = b.String()
	}
	return nil
}

func (h *panicLog) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *panicLog) WithGroup(string) slog.Handler { return h }

// fired returns how many panics were logged and the first.
func (h *panicLog) fired() (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n, h.first
}

// fuzzEnv is one Server for all the inputs of a fuzz target, with a few
// articles stored.
type fuzzEnv struct {
	*env
	db     *store.DB
	panics *panicLog
	seeded []*articlesv1.Article
	keep   map[string]bool // ids of seeded
	writes atomic.Int64    // calls of pruneEvery
}

// newFuzzEnv serves a Server on a fresh store that keeps a short change
// log, and stores a few articles for the inputs to find.
func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	fe := &fuzzEnv{panics: &panicLog{}, keep: map[string]bool{}}
	fe.db = openStoreWith(tb, store.WithHistory(1000))
	fe.env = newEnv(tb, fe.db, server.WithLogger(slog.New(fe.panics)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, a := range []*articlesv1.Article{
		{Title: "Common ground", Body: "A common body.\n\nSecond paragraph.", Authors: []string{"Ann"}, Tags: []string{"law"}, Source: "RIAC",
			PublishTime: timestamppb.New(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))},
		{Title: "Another piece", Body: "Words about ground and law.", Authors: []string{"Bob", "Ann"}, Labels: map[string]string{"k": "v"}},
		{Title: "Third", Slug: "third", Body: "Third body, common words.", Tags: []string{"odd", "law"},
			PublishTime: timestamppb.New(time.Date(2023, 5, 1, 0, 0, 0, 0, time.UTC))},
	} {
		got, err := fe.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: a, RequestId: fmt.Sprintf("seed-%d", i)})
		if err != nil {
			tb.Fatalf("CreateArticle: %v", err)
		}
		fe.seeded = append(fe.seeded, got)
		fe.keep[got.GetId()] = true
	}
	return fe
}

// addSeeds adds the marshalled reqs and some raw bytes every method must
// refuse cleanly to f's corpus.
func addSeeds(f *testing.F, reqs ...proto.Message) {
	f.Helper()
	for _, r := range reqs {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatalf("proto.Marshal(%v): %v", r, err)
		}
		f.Add(b)
	}
	for _, b := range [][]byte{
		nil,
		{0xff, 0xff, 0xff},
		msg(1, "\xff"),
		msg(1, msg(3, "\xc3")),
		msg(1, msg(3, "A title"))[:5],
		varintField(nil, 1, 1<<63),
		protowire.AppendTag(nil, 15, protowire.StartGroupType), // never ends
	} {
		f.Add(b)
	}
}

// check fails the input if err's code is not allowed or a panic was
// logged.
func (fe *fuzzEnv) check(t *testing.T, method string, in []byte, err error) {
	t.Helper()
	if n, first := fe.panics.fired(); n > 0 {
		t.Fatalf("%s(%q): the panic-recovery interceptor fired %d times; first:\n%s", method, in, n, first)
	}
	st, _ := status.FromError(err)
	if !fuzzAllowed[st.Code()] {
		t.Fatalf("%s(%q) = %v: code %v is not allowed", method, in, err, st.Code())
	}
	// Errors quote little of a request back (TestBadInput's bound, plus
	// the longest field path a violation can name).
	if n := len(st.Message()); n > maxErrorText+300 {
		t.Fatalf("%s(%q): error message of %d bytes", method, in, n)
	}
}

// unary sends in to method as it is and checks the outcome. On OK the
// answer must decode as resp, which it fills.
func (fe *fuzzEnv) unary(t *testing.T, ctx context.Context, method string, in []byte, resp proto.Message) error {
	t.Helper()
	var out []byte
	err := fe.conn.Invoke(ctx, svcPrefix+method, &in, &out, grpc.ForceCodecV2(rawCodec{}))
	fe.check(t, method, in, err)
	if err == nil {
		if uerr := proto.Unmarshal(out, resp); uerr != nil {
			t.Fatalf("%s(%q): OK with an answer that does not decode: %v", method, in, uerr)
		}
	}
	return err
}

// fuzzCtx is the context of one fuzz input's calls.
func fuzzCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// prune deletes every article the inputs created, so that the store stays
// as small as the seed.
func (fe *fuzzEnv) prune(t *testing.T, ctx context.Context) {
	t.Helper()
	for range 100 {
		resp, err := fe.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 1000})
		if err != nil {
			t.Fatalf("ListArticles: %v", err)
		}
		extra := 0
		for _, a := range resp.GetArticles() {
			if fe.keep[a.GetId()] {
				continue
			}
			extra++
			if _, err := fe.client.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: a.GetId()}); err != nil && status.Code(err) != codes.NotFound {
				t.Fatalf("DeleteArticle(%s): %v", a.GetId(), err)
			}
		}
		if extra == 0 {
			return
		}
	}
	t.Fatal("prune: articles keep appearing")
}

// pruneEvery prunes on every nth call: the store stays small, and most
// inputs cost no more than their own request.
func (fe *fuzzEnv) pruneEvery(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	if fe.writes.Add(1)%int64(n) == 0 {
		fe.prune(t, ctx)
	}
}

func skipLarge(t *testing.T, in []byte) {
	if len(in) > fuzzMaxInput {
		t.Skipf("input of %d bytes; at most %d are fuzzed", len(in), fuzzMaxInput)
	}
}

// future calls method with in when minRev is a revision the store has
// not reached, and reports whether it did. Such a request waits for its
// deadline: it gets a short one, and may let it expire.
func (fe *fuzzEnv) future(t *testing.T, method string, in []byte, minRev int64) bool {
	if minRev <= 0 {
		return false
	}
	rev, err := fe.db.Revision(fuzzCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if minRev <= rev {
		return false
	}
	var out []byte
	err = fe.conn.Invoke(fuzzCtx(t, 20*time.Millisecond), svcPrefix+method, &in, &out, grpc.ForceCodecV2(rawCodec{}))
	if status.Code(err) != codes.DeadlineExceeded {
		fe.check(t, method, in, err)
	}
	return true
}

func FuzzGetArticle(f *testing.F) {
	fe := newFuzzEnv(f)
	a := fe.seeded[0]
	addSeeds(f,
		&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: a.GetId()}},
		&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: a.GetSlug()}, View: articlesv1.ArticleView_ARTICLE_VIEW_BASIC},
		&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: "../etc/passwd"}, View: 7},
		&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: ""}},
		&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: a.GetId()}, MinRevision: 1},
		&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: a.GetId()}, MinRevision: 1 << 40},
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		var req articlesv1.GetArticleRequest
		if proto.Unmarshal(in, &req) == nil && fe.future(t, "GetArticle", in, req.GetMinRevision()) {
			return
		}
		var got articlesv1.Article
		if fe.unary(t, fuzzCtx(t, 10*time.Second), "GetArticle", in, &got) == nil && !fe.keep[got.GetId()] {
			t.Fatalf("GetArticle(%q) = %s, not a stored article", in, got.GetId())
		}
	})
}

func FuzzBatchGetArticles(f *testing.F) {
	fe := newFuzzEnv(f)
	addSeeds(f,
		&articlesv1.BatchGetArticlesRequest{Ids: []string{fe.seeded[1].GetId(), fe.seeded[0].GetId(), fe.seeded[1].GetId()}},
		&articlesv1.BatchGetArticlesRequest{Ids: []string{fe.seeded[2].GetId(), "nope", ""}, View: articlesv1.ArticleView_ARTICLE_VIEW_FULL},
		&articlesv1.BatchGetArticlesRequest{View: -1},
		&articlesv1.BatchGetArticlesRequest{Ids: []string{fe.seeded[0].GetId()}, MinRevision: 1 << 40},
		&articlesv1.BatchGetArticlesRequest{Ids: []string{fe.seeded[0].GetId()}, MinRevision: -1},
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		var req articlesv1.BatchGetArticlesRequest
		if proto.Unmarshal(in, &req) == nil && fe.future(t, "BatchGetArticles", in, req.GetMinRevision()) {
			return
		}
		var got articlesv1.BatchGetArticlesResponse
		if fe.unary(t, fuzzCtx(t, 10*time.Second), "BatchGetArticles", in, &got) != nil {
			return
		}
		if err := proto.Unmarshal(in, &req); err != nil {
			t.Fatalf("BatchGetArticles(%q) is OK but the request does not decode: %v", in, err)
		}
		if len(got.GetArticles()) != len(req.GetIds()) {
			t.Fatalf("BatchGetArticles(%q): %d articles for %d ids", in, len(got.GetArticles()), len(req.GetIds()))
		}
		for i, a := range got.GetArticles() {
			if a.GetId() != req.GetIds()[i] {
				t.Fatalf("BatchGetArticles(%q): article %d is %s, want %s", in, i, a.GetId(), req.GetIds()[i])
			}
		}
	})
}

func FuzzListArticles(f *testing.F) {
	fe := newFuzzEnv(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := &articlesv1.ListArticlesRequest{PageSize: 1, Tag: "law", OrderBy: "title"}
	page, err := fe.client.ListArticles(ctx, first)
	if err != nil || page.GetNextPageToken() == "" {
		f.Fatalf("ListArticles = %v, %v; want a next page", page, err)
	}
	next := proto.Clone(first).(*articlesv1.ListArticlesRequest)
	next.PageToken = page.GetNextPageToken()
	addSeeds(f,
		&articlesv1.ListArticlesRequest{},
		first, next,
		&articlesv1.ListArticlesRequest{PageSize: -1, OrderBy: "popularity", View: 9},
		&articlesv1.ListArticlesRequest{PageSize: 1 << 30, Author: "Ann", Source: "RIAC", OrderBy: "create_time desc",
			PublishedAfter: timestamppb.New(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), PublishedBefore: &timestamppb.Timestamp{Seconds: -1}},
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		var got articlesv1.ListArticlesResponse
		if fe.unary(t, fuzzCtx(t, 10*time.Second), "ListArticles", in, &got) != nil {
			return
		}
		for _, a := range got.GetArticles() {
			if !fe.keep[a.GetId()] {
				t.Fatalf("ListArticles(%q) lists %s, not a stored article", in, a.GetId())
			}
		}
	})
}

func FuzzStreamArticles(f *testing.F) {
	fe := newFuzzEnv(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := fe.client.StreamArticles(ctx, &articlesv1.StreamArticlesRequest{OrderBy: "title"})
	if err != nil {
		f.Fatal(err)
	}
	m, err := s.Recv()
	if err != nil {
		f.Fatalf("StreamArticles: %v", err)
	}
	addSeeds(f,
		&articlesv1.StreamArticlesRequest{},
		&articlesv1.StreamArticlesRequest{OrderBy: "title", StartAfter: m.GetCursor()},
		&articlesv1.StreamArticlesRequest{StartAfter: fe.seeded[1].GetId(), Tag: "LAW", View: articlesv1.ArticleView_ARTICLE_VIEW_FULL},
		&articlesv1.StreamArticlesRequest{StartAfter: "not-an-id", OrderBy: "nope"},
	)
	desc := &grpc.StreamDesc{ServerStreams: true}
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel() // also ends a stream not read to its end
		s, err := fe.conn.NewStream(ctx, desc, svcPrefix+"StreamArticles", grpc.ForceCodecV2(rawCodec{}))
		if err == nil {
			err = s.SendMsg(&in)
		}
		if err == nil {
			err = s.CloseSend()
		}
		for i := 0; err == nil && i <= len(fe.seeded); i++ {
			var out []byte
			if err = s.RecvMsg(&out); err == nil {
				var m articlesv1.StreamArticlesResponse
				if uerr := proto.Unmarshal(out, &m); uerr != nil || m.GetCursor() == "" || !fe.keep[m.GetArticle().GetId()] {
					t.Fatalf("StreamArticles(%q) sent %v (%v): want a stored article with a cursor", in, &m, uerr)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		fe.check(t, "StreamArticles", in, err)
	})
}

func FuzzCreateArticle(f *testing.F) {
	fe := newFuzzEnv(f)
	addSeeds(f,
		&articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Fresh", Body: "Body.\n\nMore."}},
		&articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Full", Slug: "full-one", Summary: "S", Body: "B", Authors: []string{"A"},
			AuthorBio: "Bio", Source: "RIAC", Tags: []string{"T", "t"}, Labels: map[string]string{"k": "v"}, PublishTime: timestamppb.Now(),
			Id: "x", Revision: 9, Etag: "e", WordCount: 3}, RequestId: "r1"},
		&articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Dup", Slug: fe.seeded[2].GetSlug()}},
		&articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "", Slug: "../x", PublishTime: &timestamppb.Timestamp{Nanos: -1}}},
		&articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Seed again"}, RequestId: "seed-0"},
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		ctx := fuzzCtx(t, 10*time.Second)
		var got articlesv1.Article
		if fe.unary(t, ctx, "CreateArticle", in, &got) == nil && !fe.keep[got.GetId()] {
			fe.pruneEvery(t, ctx, 20)
		}
	})
}

func FuzzUpdateArticle(f *testing.F) {
	fe := newFuzzEnv(f)
	a, b := fe.seeded[0], fe.seeded[1]
	addSeeds(f,
		&articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: a.GetId(), Title: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}},
		&articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: b.GetId(), Title: "All", Body: "New.", Etag: b.GetEtag()}},
		&articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: a.GetId(), Slug: b.GetSlug()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"slug"}}},
		&articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: a.GetId(), Etag: "stale"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"etag", "colour", "*"}}},
		&articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: a.GetId(), Tags: []string{"X"}, Labels: map[string]string{"": ""}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tags", "labels"}}},
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		var req articlesv1.GetArticleRequest
		if proto.Unmarshal(in, &req) == nil && fe.future(t, "GetArticle", in, req.GetMinRevision()) {
			return
		}
		var got articlesv1.Article
		if fe.unary(t, fuzzCtx(t, 10*time.Second), "UpdateArticle", in, &got) == nil && !fe.keep[got.GetId()] {
			t.Fatalf("UpdateArticle(%q) = %s, not a stored article", in, got.GetId())
		}
	})
}

func FuzzImportArticles(f *testing.F) {
	fe := newFuzzEnv(f)
	addSeeds(f,
		&articlesv1.ImportArticlesRequest{Article: &articlesv1.Article{Title: "Imported", Body: "Imported body."}},
		&articlesv1.ImportArticlesRequest{Article: &articlesv1.Article{Title: "Third", Slug: "third", Body: "Replaced."}},
		&articlesv1.ImportArticlesRequest{},
		&articlesv1.ImportArticlesRequest{Article: &articlesv1.Article{Slug: "NOT A SLUG"}},
	)
	desc := &grpc.StreamDesc{ClientStreams: true}
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		ctx := fuzzCtx(t, 10*time.Second)
		// The input is sent as three messages, each split at a third, so
		// that one input also exercises messages that follow a bad one.
		s, err := fe.conn.NewStream(ctx, desc, svcPrefix+"ImportArticles", grpc.ForceCodecV2(rawCodec{}))
		for i, n := 0, len(in); err == nil && i < 3; i++ {
			part := in[i*n/3 : (i+1)*n/3]
			if err = s.SendMsg(&part); errors.Is(err, io.EOF) {
				err = nil // the server has answered; RecvMsg has its status
				break
			}
		}
		var out []byte
		if err == nil {
			if err = s.CloseSend(); err == nil {
				err = s.RecvMsg(&out)
			}
		}
		fe.check(t, "ImportArticles", in, err)
		if err != nil {
			return
		}
		var resp articlesv1.ImportArticlesResponse
		if uerr := proto.Unmarshal(out, &resp); uerr != nil {
			t.Fatalf("ImportArticles(%q): OK with an answer that does not decode: %v", in, uerr)
		}
		if n := int(resp.GetCreated()+resp.GetUpdated()+resp.GetUnchanged()) + len(resp.GetFailures()); n != 3 {
			t.Fatalf("ImportArticles(%q) = %v: accounts for %d of 3 messages", in, &resp, n)
		}
		if resp.GetCreated() > 0 {
			fe.pruneEvery(t, ctx, 20)
		}
	})
}

func FuzzSearchArticles(f *testing.F) {
	fe := newFuzzEnv(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := &articlesv1.SearchArticlesRequest{Query: "common OR law", PageSize: 1}
	page, err := fe.client.SearchArticles(ctx, first)
	if err != nil {
		f.Fatalf("SearchArticles: %v", err)
	}
	next := proto.Clone(first).(*articlesv1.SearchArticlesRequest)
	next.PageToken = page.GetNextPageToken()
	addSeeds(f,
		&articlesv1.SearchArticlesRequest{Query: "common"},
		first, next,
		&articlesv1.SearchArticlesRequest{Query: `"common body" -second gro*`, Tag: "law", View: articlesv1.ArticleView_ARTICLE_VIEW_FULL, MinRevision: 1},
		&articlesv1.SearchArticlesRequest{Query: `"unclosed -`, PageSize: -1, MinRevision: -1},
		&articlesv1.SearchArticlesRequest{Query: "the", PageToken: "x"},
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		ctx := fuzzCtx(t, 10*time.Second)
		var req articlesv1.SearchArticlesRequest
		if proto.Unmarshal(in, &req) == nil && fe.future(t, "SearchArticles", in, req.GetMinRevision()) {
			return
		}
		var got articlesv1.SearchArticlesResponse
		if fe.unary(t, ctx, "SearchArticles", in, &got) != nil {
			return
		}
		for _, r := range got.GetResults() {
			if !fe.keep[r.GetArticle().GetId()] {
				t.Fatalf("SearchArticles(%q) found %s, not a stored article", in, r.GetArticle().GetId())
			}
		}
	})
}

// TestFuzzPanicDetection checks what the fuzz targets rely on: a panic in
// a handler is logged where panicLog sees it.
func TestFuzzPanicDetection(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{Store: openStore(t)}
	fs.get = func(context.Context, string) (*articlesv1.Article, error) { panic("fuzzed into a panic") }
	pl := &panicLog{}
	e := newEnv(t, fs, server.WithLogger(slog.New(pl)))
	_, err := getByID(testCtx(t), e, "any")
	wantCode(t, err, codes.Internal)
	if n, first := pl.fired(); n != 1 || !strings.Contains(first, "fuzzed into a panic") {
		t.Errorf("panicLog saw %d panics, first %q; want 1 naming the panic", n, first)
	}
}
