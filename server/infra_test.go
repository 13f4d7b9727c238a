package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

// fakeStore is a real store with some methods replaced.
type fakeStore struct {
	server.Store
	get  func(ctx context.Context, id string) (*articlesv1.Article, error)
	list func(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(*articlesv1.Article) error) error
	key  []byte
}

func (f *fakeStore) Get(ctx context.Context, id string) (*articlesv1.Article, error) {
	if f.get != nil {
		return f.get(ctx, id)
	}
	return f.Store.Get(ctx, id)
}

func (f *fakeStore) List(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(*articlesv1.Article) error) error {
	if f.list != nil {
		return f.list(ctx, q, after, limit, fn)
	}
	return f.Store.List(ctx, q, after, limit, fn)
}

func (f *fakeStore) TokenKey(ctx context.Context) ([]byte, error) {
	if f.key != nil {
		return f.key, nil
	}
	return f.Store.TokenKey(ctx)
}

func getByID(ctx context.Context, e *env, id string) (*articlesv1.Article, error) {
	return e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: id}})
}

func TestHealthAndShutdown(t *testing.T) {
	t.Parallel()
	// List sends one article, then blocks like a long stream until its
	// context ends.
	fs := &fakeStore{Store: openStore(t)}
	fs.list = func(ctx context.Context, _ articles.Query, _ articles.Cursor, _ int, fn func(*articlesv1.Article) error) error {
		if err := fn(&articlesv1.Article{Id: "x", Title: "first"}); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}
	e := newEnv(t, fs)
	ctx := testCtx(t)
	hc := healthpb.NewHealthClient(e.conn)
	for _, svc := range []string{"", "articles.v1.ArticleService"} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check(%q) = %v, %v; want SERVING", svc, resp, err)
		}
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health watch: %v, %v", m, err)
	}
	stream, err := e.client.StreamArticles(ctx, &articlesv1.StreamArticlesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first streamed article: %v", err)
	}

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		e.stop()
	}()
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after GracefulStop: %v, %v; want NOT_SERVING", m, err)
	}
	_, err = stream.Recv()
	if st := wantCode(t, err, codes.Unavailable); st.Message() != "server is shutting down" {
		t.Errorf("stream ended with %q", st.Message())
	}
	stopWatch() // the health watch is the last stream holding the stop up
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("GracefulStop did not return")
	}
	_, err = getByID(ctx, e, "x")
	wantCode(t, err, codes.Unavailable)
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{Store: openStore(t)}
	fs.get = func(context.Context, string) (*articlesv1.Article, error) {
		panic("boom at /srv/secret.go")
	}
	e := newEnv(t, fs)
	_, err := getByID(testCtx(t), e, "any")
	st := wantCode(t, err, codes.Internal)
	if st.Message() != "internal error" || len(st.Details()) != 0 {
		t.Errorf("client saw %q %v, want just \"internal error\"", st.Message(), st.Details())
	}
	if logs := e.logs.String(); !strings.Contains(logs, "boom at /srv/secret.go") || !strings.Contains(logs, "goroutine") {
		t.Errorf("log lacks the panic and its stack:\n%s", logs)
	}
	// The server survives a panic.
	if _, err := e.client.CreateArticle(testCtx(t), &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Still up"}}); err != nil {
		t.Errorf("CreateArticle after a panic: %v", err)
	}
}

func TestInternalErrorHidden(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{Store: openStore(t)}
	fs.get = func(context.Context, string) (*articlesv1.Article, error) { return nil, errBoom }
	e := newEnv(t, fs)
	_, err := getByID(testCtx(t), e, "any")
	if st := wantCode(t, err, codes.Internal); st.Message() != "internal error" {
		t.Errorf("client saw %q", st.Message())
	}
	logs := e.logs.String()
	for _, want := range []string{errBoom.Error(), "grpc.method=GetArticle", "grpc.code=Internal", "grpc.time_ms=", "peer.address="} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestReflection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []server.Option
		want codes.Code
	}{
		{"Default", nil, codes.OK},
		{"Disabled", []server.Option{server.WithReflection(false)}, codes.Unimplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil, tt.opts...)
			s, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.CloseSend()
			// Send returns io.EOF when the server has already ended the
			// stream (as it does when reflection is off); the status then
			// comes from Recv.
			if err := s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			resp, err := s.Recv()
			if tt.want != codes.OK {
				wantCode(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, svc := range resp.GetListServicesResponse().GetService() {
				names = append(names, svc.GetName())
			}
			for _, want := range []string{"articles.v1.ArticleService", "grpc.health.v1.Health"} {
				if !strings.Contains(strings.Join(names, " "), want) {
					t.Errorf("reflection lists %v, want %s", names, want)
				}
			}
		})
	}
}

func TestLoopbackListener(t *testing.T) {
	t.Parallel()
	srv, err := newServer(t, openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := srv.GRPCServer()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := articlesv1.NewArticleServiceClient(conn)
	ctx := testCtx(t)
	a, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Over TCP"}})
	if err != nil {
		t.Fatalf("CreateArticle: %v", err)
	}
	got, err := c.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: "over-tcp"}})
	if err != nil || got.GetId() != a.GetId() {
		t.Fatalf("GetArticle = %v, %v; want %s", got, err, a.GetId())
	}
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	srv.GracefulStop(stopCtx)
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	tests := []struct {
		name string
		st   server.Store
	}{
		{"NilStore", nil},
		{"ShortKey", &fakeStore{Store: db, key: []byte("short")}},
		{"ClosedStore", closedStore(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newServer(t, tt.st); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

func closedStore(t *testing.T) server.Store {
	t.Helper()
	db := openStore(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestToStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		code    codes.Code
		message string // "" means the error's own text
	}{
		{"NotFound", fmt.Errorf("%w: id %q", articles.ErrNotFound, "x"), codes.NotFound, ""},
		{"AlreadyExists", fmt.Errorf("%w: slug %q", articles.ErrAlreadyExists, "s"), codes.AlreadyExists, ""},
		{"Conflict", articles.ErrConflict, codes.Aborted, ""},
		{"RequestIDReused", articles.ErrRequestIDReused, codes.InvalidArgument, ""},
		{"NoSpace", fmt.Errorf("create: %w", articles.ErrNoSpace), codes.ResourceExhausted, ""},
		{"Closed", articles.ErrClosed, codes.Unavailable, ""},
		{"Compacted", &articles.CompactedError{Requested: 3, Oldest: 10}, codes.OutOfRange, ""},
		{"Canceled", fmt.Errorf("list: %w", context.Canceled), codes.Canceled, "context canceled"},
		{"Deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "context deadline exceeded"},
		{"Unknown", errBoom, codes.Internal, "internal error"},
		{"Status", status.Error(codes.FailedPrecondition, "as is"), codes.FailedPrecondition, "as is"},
		{"WrappedStatus", fmt.Errorf("detail /x: %w", status.Error(codes.NotFound, "gone")), codes.NotFound, "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, ok := status.FromError(server.ToStatus(tt.err))
			if !ok {
				t.Fatalf("ToStatus(%v) is not a status", tt.err)
			}
			want := tt.message
			if want == "" {
				want = tt.err.Error()
			}
			if st.Code() != tt.code || st.Message() != want {
				t.Errorf("ToStatus(%v) = %v %q, want %v %q", tt.err, st.Code(), st.Message(), tt.code, want)
			}
		})
	}
	t.Run("CompactedDetails", func(t *testing.T) {
		st, _ := status.FromError(server.ToStatus(fmt.Errorf("changes: %w", &articles.CompactedError{Requested: 3, Oldest: 10})))
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if i, ok := d.(*errdetails.ErrorInfo); ok {
				info = i
			}
		}
		if info.GetReason() != "REVISION_COMPACTED" || info.GetDomain() != "articles.v1" || info.GetMetadata()["oldest_revision"] != "10" {
			t.Errorf("ErrorInfo = %v", info)
		}
	})
	t.Run("Nil", func(t *testing.T) {
		if err := server.ToStatus(nil); err != nil {
			t.Errorf("ToStatus(nil) = %v", err)
		}
	})
	t.Run("RequestIDField", func(t *testing.T) {
		wantViolation(t, server.ToStatus(articles.ErrRequestIDReused), "request_id")
	})
}
