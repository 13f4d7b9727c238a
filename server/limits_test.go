package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	articles "github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

// TestUnaryDefaultTimeout drives the interceptor directly: a call without
// a deadline gets one of the configured length, a call with one keeps it,
// and a zero or negative setting adds none.
func TestUnaryDefaultTimeout(t *testing.T) {
	t.Parallel()
	own := time.Now().Add(time.Hour)
	tests := []struct {
		name         string
		d            time.Duration
		callDeadline time.Time // zero: the call has none
		wantDeadline bool
		wantMax      time.Duration // the deadline is at most this far ahead
		wantExact    time.Time     // when set, the deadline must be exactly this
	}{
		{name: "NoDeadlineGetsDefault", d: time.Minute, wantDeadline: true, wantMax: time.Minute},
		{name: "OwnDeadlineKept", d: time.Minute, callDeadline: own, wantDeadline: true, wantExact: own},
		{name: "ShorterOwnDeadlineKept", d: 2 * time.Hour, callDeadline: own, wantDeadline: true, wantExact: own},
		{name: "ZeroAddsNone", d: 0},
		{name: "NegativeAddsNone", d: -time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if !tc.callDeadline.IsZero() {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, tc.callDeadline)
				defer cancel()
			}
			var got time.Time
			var ok bool
			before := time.Now()
			resp, err := server.UnaryDefaultTimeout(tc.d)(ctx, "req", &grpc.UnaryServerInfo{FullMethod: "/x/Y"},
				func(ctx context.Context, req any) (any, error) {
					got, ok = ctx.Deadline()
					return req, nil
				})
			if err != nil || resp != "req" {
				t.Fatalf("interceptor = %v, %v; want the handler's answer", resp, err)
			}
			if ok != tc.wantDeadline {
				t.Fatalf("handler context has deadline = %v, want %v", ok, tc.wantDeadline)
			}
			if !tc.wantExact.IsZero() && !got.Equal(tc.wantExact) {
				t.Errorf("deadline = %v, want the call's own %v", got, tc.wantExact)
			}
			if tc.wantMax > 0 && (got.Before(before) || got.After(time.Now().Add(tc.wantMax))) {
				t.Errorf("deadline = %v, want within %v of %v", got, tc.wantMax, before)
			}
		})
	}
}

// TestDefaultTimeoutOption checks that WithDefaultTimeout reaches the
// handlers of a served Server, and that without it a call without a
// deadline has none on the server either.
func TestDefaultTimeoutOption(t *testing.T) {
	t.Parallel()
	const id = "01JD3ZK6Q9W1T0M4B6N8P2R5S7"
	tests := []struct {
		name         string
		opts         []server.Option
		callTimeout  time.Duration // 0: the call has no deadline
		wantDeadline bool
		wantMax      time.Duration
	}{
		{name: "Default", opts: []server.Option{server.WithDefaultTimeout(time.Hour)}, wantDeadline: true, wantMax: time.Hour},
		{name: "CallerWins", opts: []server.Option{server.WithDefaultTimeout(time.Hour)}, callTimeout: time.Minute, wantDeadline: true, wantMax: time.Minute},
		{name: "Unset", wantDeadline: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got time.Time
			var ok, called bool
			st := &fakeStore{Store: openStore(t), get: func(ctx context.Context, _ string) (*articlesv1.Article, error) {
				mu.Lock()
				defer mu.Unlock()
				got, ok = ctx.Deadline()
				called = true
				return nil, articles.ErrNotFound
			}}
			e := newEnv(t, st, tc.opts...)
			ctx := context.Background()
			if tc.callTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.callTimeout)
				defer cancel()
			}
			before := time.Now()
			_, err := getByID(ctx, e, id)
			wantCode(t, err, codes.NotFound)
			mu.Lock()
			defer mu.Unlock()
			if !called {
				t.Fatal("the store's Get was not called")
			}
			if ok != tc.wantDeadline {
				t.Fatalf("store saw a deadline = %v, want %v", ok, tc.wantDeadline)
			}
			if ok && (got.Before(before) || got.After(time.Now().Add(tc.wantMax))) {
				t.Errorf("deadline = %v, want within %v of %v", got, tc.wantMax, before)
			}
		})
	}
}

// batchRecorder is a real store that records the size of every Import
// batch the server hands it, each one a single store transaction.
type batchRecorder struct {
	server.Store
	mu    sync.Mutex // guards sizes
	sizes []int
}

func (b *batchRecorder) Import(ctx context.Context, batch []*articlesv1.Article) (*articles.ImportResult, error) {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(batch))
	b.mu.Unlock()
	return b.Store.Import(ctx, batch)
}

// TestImportBatchBound checks that an import stream, however long, reaches
// the store in transactions of at most 2,000 articles, and that the direct
// Import does the same; and that large articles make smaller ones, of at
// most 16 MiB (the article that reaches the bound is the batch's last).
func TestImportBatchBound(t *testing.T) {
	t.Parallel()
	const n = 4203
	arts := func(prefix string) []*articlesv1.Article {
		var out []*articlesv1.Article
		for i := range n {
			out = append(out, &articlesv1.Article{Title: fmt.Sprintf("%s %d", prefix, i), Body: "Text."})
		}
		return out
	}
	want := []int{2000, 2000, 203}
	// directImport imports arts with Server.Import and returns the sizes
	// of the store's transactions.
	directImport := func(t *testing.T, arts []*articlesv1.Article) []int {
		rec := &batchRecorder{Store: openStore(t)}
		srv, err := server.New(testCtx(t), rec)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.GracefulStop(testCtx(t))
		resp, err := srv.Import(testCtx(t), arts)
		if err != nil || int(resp.GetCreated()) != len(arts) {
			t.Fatalf("Import: %v created, %v; want %d", resp.GetCreated(), err, len(arts))
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.sizes
	}
	t.Run("Bytes", func(t *testing.T) {
		t.Parallel()
		// 40 articles of a little under 1 MiB: 16 MiB is reached by the
		// 17th of a batch.
		body := strings.Repeat("Large body. ", (1<<20-1000)/12)
		var big []*articlesv1.Article
		for i := range 40 {
			big = append(big, &articlesv1.Article{Title: fmt.Sprintf("Big %d", i), Body: body})
		}
		if got, want := directImport(t, big), []int{17, 17, 6}; !slices.Equal(got, want) {
			t.Errorf("store transactions of %v articles, want %v", got, want)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		t.Parallel()
		rec := &batchRecorder{Store: openStore(t)}
		e := newEnv(t, rec)
		stream, err := e.client.ImportArticles(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range arts("Streamed") {
			if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil || resp.GetCreated() != n {
			t.Fatalf("import: %v created, %v; want %d", resp.GetCreated(), err, n)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if !slices.Equal(rec.sizes, want) {
			t.Errorf("store transactions of %v articles, want %v", rec.sizes, want)
		}
	})
	t.Run("Direct", func(t *testing.T) {
		t.Parallel()
		if got := directImport(t, arts("Direct")); !slices.Equal(got, want) {
			t.Errorf("store transactions of %v articles, want %v", got, want)
		}
	})
}
