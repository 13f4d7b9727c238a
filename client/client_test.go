package client_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// wantCode fails the test unless err carries the gRPC code want.
func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("error = %v (code %v), want code %v", err, got, want)
	}
}

func titles(as []*articlesv1.Article) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.GetTitle())
	}
	return out
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		target  string
		opts    []client.Option
		wantErr string
	}{
		{name: "Plaintext", target: "example.com:443"},
		{name: "TokenLocalhost", target: "localhost:50051", opts: []client.Option{client.WithToken("s")}},
		{name: "TokenLoopbackIPv4", target: "127.0.0.1:50051", opts: []client.Option{client.WithToken("s")}},
		{name: "TokenLoopbackIPv6", target: "[::1]:50051", opts: []client.Option{client.WithToken("s")}},
		{name: "TokenDNSLocalhost", target: "dns:///localhost:50051", opts: []client.Option{client.WithToken("s")}},
		{name: "TokenUnixSocket", target: "unix:///tmp/articles.sock", opts: []client.Option{client.WithToken("s")}},
		{name: "TokenTLSRemote", target: "example.com:443", opts: []client.Option{client.WithTLS(nil), client.WithToken("s")}},
		{name: "TokenPlaintextRemote", target: "example.com:443", opts: []client.Option{client.WithToken("s")}, wantErr: "plaintext"},
		{name: "TokenPlaintextRemoteIP", target: "10.1.2.3:50051", opts: []client.Option{client.WithToken("s")}, wantErr: "plaintext"},
		{name: "TokenPlaintextDNSRemote", target: "dns:///articles.example.com:443", opts: []client.Option{client.WithToken("s")}, wantErr: "plaintext"},
		{name: "NegativeTimeout", target: "localhost:1", opts: []client.Option{client.WithTimeout(-time.Second)}, wantErr: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(context.Background(), tt.target, tt.opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) error = %v, want one mentioning %q", tt.target, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.target, err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()
	created, err := e.client.Create(ctx, testArticle(1), "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	t.Run("ByID", func(t *testing.T) {
		got, err := e.client.Get(ctx, created.GetId())
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !proto.Equal(got, created) {
			t.Errorf("Get = %v, want %v", got, created)
		}
		if got.GetBody() == "" {
			t.Error("Get left out the body; want the full view")
		}
	})
	t.Run("BySlug", func(t *testing.T) {
		got, err := e.client.GetBySlug(ctx, created.GetSlug())
		if err != nil {
			t.Fatalf("GetBySlug: %v", err)
		}
		if got.GetId() != created.GetId() {
			t.Errorf("GetBySlug(%q).id = %q, want %q", created.GetSlug(), got.GetId(), created.GetId())
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := e.client.GetBySlug(ctx, "no-such-slug")
		wantCode(t, err, codes.NotFound)
	})
	t.Run("BasicViewThroughService", func(t *testing.T) {
		got, err := e.client.Service().GetArticle(ctx, &articlesv1.GetArticleRequest{
			Key:  &articlesv1.GetArticleRequest_Id{Id: created.GetId()},
			View: articlesv1.ArticleView_ARTICLE_VIEW_BASIC,
		})
		if err != nil {
			t.Fatalf("GetArticle: %v", err)
		}
		if got.GetBody() != "" || got.GetTitle() != created.GetTitle() {
			t.Errorf("basic view = %v, want the title and no body", got)
		}
	})
}

func TestBatchGet(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		a, err := e.client.Create(ctx, testArticle(i), "")
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		ids = append(ids, a.GetId())
	}

	t.Run("InRequestOrder", func(t *testing.T) {
		asked := []string{ids[2], ids[0], ids[1]}
		got, err := e.client.BatchGet(ctx, asked)
		if err != nil {
			t.Fatalf("BatchGet: %v", err)
		}
		if want := []string{"Article 002", "Article 000", "Article 001"}; !slices.Equal(titles(got), want) {
			t.Errorf("BatchGet titles = %q, want %q", titles(got), want)
		}
	})
	t.Run("MissingID", func(t *testing.T) {
		_, err := e.client.BatchGet(ctx, []string{ids[0], "01ARZ3NDEKTSV4RRFFQ69G5FAV"})
		wantCode(t, err, codes.NotFound)
	})
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()
	seedArticles(t, e.client, 7)
	var want []string
	for i := range 7 {
		want = append(want, testArticle(i).GetTitle())
	}

	t.Run("OnePage", func(t *testing.T) {
		resp, err := e.client.List(ctx, &articlesv1.ListArticlesRequest{PageSize: 3, OrderBy: "publish_time"})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if got := titles(resp.GetArticles()); !slices.Equal(got, want[:3]) {
			t.Errorf("List titles = %q, want %q", got, want[:3])
		}
		if resp.GetNextPageToken() == "" {
			t.Error("List of 3 of 7 has no next page token")
		}
	})
	t.Run("NilRequest", func(t *testing.T) {
		resp, err := e.client.List(ctx, nil)
		if err != nil {
			t.Fatalf("List(nil): %v", err)
		}
		if got := len(resp.GetArticles()); got != 7 {
			t.Errorf("List(nil) returned %d articles, want 7", got)
		}
	})
	t.Run("All", func(t *testing.T) {
		req := &articlesv1.ListArticlesRequest{PageSize: 3, OrderBy: "publish_time"}
		var got []string
		for a, err := range e.client.ListAll(ctx, req) {
			if err != nil {
				t.Fatalf("ListAll: %v", err)
			}
			got = append(got, a.GetTitle())
			if len(got) > 2*len(want) {
				t.Fatalf("ListAll yielded more than %d articles", 2*len(want))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListAll titles = %q, want %q", got, want)
		}
		if req.GetPageToken() != "" {
			t.Errorf("ListAll changed the caller's request: page_token %q", req.GetPageToken())
		}
	})
	t.Run("AllFiltered", func(t *testing.T) {
		var got []string
		for a, err := range e.client.ListAll(ctx, &articlesv1.ListArticlesRequest{PageSize: 1, Tag: "t1", OrderBy: "publish_time"}) {
			if err != nil {
				t.Fatalf("ListAll: %v", err)
			}
			got = append(got, a.GetTitle())
			if len(got) > 7 {
				t.Fatal("ListAll yielded more articles than exist")
			}
		}
		if want := []string{"Article 001", "Article 004"}; !slices.Equal(got, want) {
			t.Errorf("ListAll tag t1 = %q, want %q", got, want)
		}
	})
	t.Run("AllStopEarly", func(t *testing.T) {
		n := 0
		for _, err := range e.client.ListAll(ctx, &articlesv1.ListArticlesRequest{PageSize: 2}) {
			if err != nil {
				t.Fatalf("ListAll: %v", err)
			}
			n++
			if n == 3 {
				break
			}
		}
		if n != 3 {
			t.Errorf("read %d articles, want 3", n)
		}
	})
	t.Run("BadToken", func(t *testing.T) {
		var last error
		for _, err := range e.client.ListAll(ctx, &articlesv1.ListArticlesRequest{PageToken: "forged"}) {
			last = err
			if err != nil {
				break
			}
		}
		wantCode(t, last, codes.InvalidArgument)
	})
}

func TestCreate(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()

	t.Run("RequestIDIsIdempotent", func(t *testing.T) {
		first, err := e.client.Create(ctx, testArticle(10), "req-10")
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		again, err := e.client.Create(ctx, testArticle(10), "req-10")
		if err != nil {
			t.Fatalf("Create retry: %v", err)
		}
		if again.GetId() != first.GetId() {
			t.Errorf("retried Create made %q, want the first article %q", again.GetId(), first.GetId())
		}
	})
	t.Run("SlugTaken", func(t *testing.T) {
		a := testArticle(11)
		if _, err := e.client.Create(ctx, a, ""); err != nil {
			t.Fatalf("Create: %v", err)
		}
		_, err := e.client.Create(ctx, testArticle(11), "")
		wantCode(t, err, codes.AlreadyExists)
	})
	t.Run("NoTitle", func(t *testing.T) {
		_, err := e.client.Create(ctx, &articlesv1.Article{Body: "x"}, "")
		wantCode(t, err, codes.InvalidArgument)
	})
	t.Run("NilArticle", func(t *testing.T) {
		if _, err := e.client.Create(ctx, nil, ""); err == nil {
			t.Error("Create(nil) succeeded")
		}
	})
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()
	orig, err := e.client.Create(ctx, testArticle(1), "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	t.Run("MaskedFieldOnly", func(t *testing.T) {
		got, err := e.client.Update(ctx, &articlesv1.Article{Id: orig.GetId(), Title: "New Title", Body: "ignored"}, "title")
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got.GetTitle() != "New Title" {
			t.Errorf("title = %q, want %q", got.GetTitle(), "New Title")
		}
		if got.GetBody() != orig.GetBody() {
			t.Errorf("body = %q, want it unchanged: %q", got.GetBody(), orig.GetBody())
		}
		if got.GetEtag() == orig.GetEtag() {
			t.Error("etag did not change on update")
		}
	})
	t.Run("StaleEtag", func(t *testing.T) {
		_, err := e.client.Update(ctx, &articlesv1.Article{Id: orig.GetId(), Title: "Again", Etag: orig.GetEtag()}, "title")
		wantCode(t, err, codes.Aborted)
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := e.client.Update(ctx, &articlesv1.Article{Id: "01ARZ3NDEKTSV4RRFFQ69G5FAV", Title: "x"}, "title")
		wantCode(t, err, codes.NotFound)
	})
	t.Run("NilArticle", func(t *testing.T) {
		if _, err := e.client.Update(ctx, nil); err == nil {
			t.Error("Update(nil) succeeded")
		}
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()
	a, err := e.client.Create(ctx, testArticle(1), "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	wantCode(t, e.client.Delete(ctx, a.GetId(), "stale-etag"), codes.Aborted)
	if err := e.client.Delete(ctx, a.GetId(), a.GetEtag()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = e.client.Get(ctx, a.GetId())
	wantCode(t, err, codes.NotFound)
	wantCode(t, e.client.Delete(ctx, a.GetId(), ""), codes.NotFound)
}

func TestImport(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()
	batch := []*articlesv1.Article{testArticle(0), {Body: "no title"}, testArticle(1), nil}

	resp, err := e.client.Import(ctx, slices.Values(batch))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if resp.GetCreated() != 2 || resp.GetUpdated() != 0 || resp.GetUnchanged() != 0 {
		t.Errorf("first import = %v, want 2 created", resp)
	}
	var failed []int64
	for _, f := range resp.GetFailures() {
		failed = append(failed, f.GetIndex())
	}
	if want := []int64{1, 3}; !slices.Equal(failed, want) {
		t.Errorf("failure indexes = %v, want %v", failed, want)
	}

	changed := testArticle(1)
	changed.Body = "A new body."
	resp, err = e.client.Import(ctx, slices.Values([]*articlesv1.Article{testArticle(0), changed}))
	if err != nil {
		t.Fatalf("second Import: %v", err)
	}
	if resp.GetCreated() != 0 || resp.GetUpdated() != 1 || resp.GetUnchanged() != 1 || len(resp.GetFailures()) != 0 {
		t.Errorf("second import = %v, want 1 updated and 1 unchanged", resp)
	}

	t.Run("Empty", func(t *testing.T) {
		resp, err := e.client.Import(ctx, slices.Values([]*articlesv1.Article(nil)))
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		if resp.GetCreated()+resp.GetUpdated()+resp.GetUnchanged() != 0 {
			t.Errorf("empty import = %v", resp)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := e.client.Import(ctx, slices.Values([]*articlesv1.Article{testArticle(5)}))
		wantCode(t, err, codes.Canceled)
	})
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil)
	ctx := context.Background()
	seedArticles(t, e.client, 3)
	a, err := e.client.Create(ctx, &articlesv1.Article{Title: "Silk road trade", Body: "Caravans crossed the silk road."}, "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	resp, err := e.client.Search(ctx, &articlesv1.SearchArticlesRequest{Query: "silk", MinRevision: a.GetRevision()})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(resp.GetResults()) != 1 || resp.GetResults()[0].GetArticle().GetId() != a.GetId() {
		t.Fatalf("Search silk = %v, want only %q", resp.GetResults(), a.GetId())
	}
	if r := resp.GetResults()[0]; r.GetScore() <= 0 || !strings.Contains(r.GetSnippet(), "**") {
		t.Errorf("result score %v snippet %q: want a positive score and a marked snippet", r.GetScore(), r.GetSnippet())
	}
	_, err = e.client.Search(ctx, nil)
	wantCode(t, err, codes.InvalidArgument)
}

// TestTimeout checks that the default timeout reaches calls without a
// deadline: a timeout that has always already passed fails every call.
func TestTimeout(t *testing.T) {
	t.Parallel()
	e := newClientEnv(t, nil, client.WithTimeout(time.Nanosecond))
	_, err := e.client.Get(context.Background(), "01ARZ3NDEKTSV4RRFFQ69G5FAV")
	wantCode(t, err, codes.DeadlineExceeded)

	// A deadline of the caller's own wins over the default.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = e.client.Get(ctx, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
	wantCode(t, err, codes.NotFound)
}

// failFirst is a server interceptor that fails the first n unary calls to
// method with UNAVAILABLE, as a server going away would.
func failFirst(method string, n int32) grpc.ServerOption {
	var calls atomic.Int32
	return grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod == method && calls.Add(1) <= n {
			return nil, status.Error(codes.Unavailable, "try again")
		}
		return h(ctx, req)
	})
}

func TestRetry(t *testing.T) {
	t.Parallel()
	const get = "/articles.v1.ArticleService/GetArticle"
	const create = "/articles.v1.ArticleService/CreateArticle"
	tests := []struct {
		name     string
		method   string
		failures int32
		opts     []client.Option
		want     codes.Code
	}{
		{name: "ReadRetriedByDefault", method: get, failures: 2, want: codes.NotFound},
		{name: "ReadRetriesExhausted", method: get, failures: 3, opts: []client.Option{client.WithRetry(3)}, want: codes.Unavailable},
		{name: "ReadRetriesDisabled", method: get, failures: 1, opts: []client.Option{client.WithRetry(1)}, want: codes.Unavailable},
		{name: "WriteNotRetried", method: create, failures: 1, want: codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newClientEnv(t, []grpc.ServerOption{failFirst(tt.method, tt.failures)}, tt.opts...)
			var err error
			if tt.method == get {
				_, err = e.client.Get(context.Background(), "01ARZ3NDEKTSV4RRFFQ69G5FAV")
			} else {
				_, err = e.client.Create(context.Background(), testArticle(1), "")
			}
			wantCode(t, err, tt.want)
		})
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	got := make(chan []string, 1)
	capture := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		select {
		case got <- md.Get("authorization"):
		default:
		}
		return h(ctx, req)
	})
	e := newClientEnv(t, []grpc.ServerOption{capture})
	// "localhost" makes the plaintext token acceptable; the dialer still
	// goes to the in-memory listener.
	c, err := client.New(context.Background(), "passthrough:///localhost",
		client.WithToken("s3cret"), client.WithDialOptions(grpc.WithContextDialer(e.dialer(nil))))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	_, err = c.Get(context.Background(), "01ARZ3NDEKTSV4RRFFQ69G5FAV")
	wantCode(t, err, codes.NotFound)
	if h := <-got; !slices.Equal(h, []string{"Bearer s3cret"}) {
		t.Errorf("authorization = %q, want [\"Bearer s3cret\"]", h)
	}
}
