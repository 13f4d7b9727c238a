package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/seed9c1868aa/articles/fulltext"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

func TestMain(m *testing.M) {
	code := runBackends(m) // see backends_test.go
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

var _ server.Store = (*store.DB)(nil)

// env is a Server on a fresh store, served over bufconn, with a client.
type env struct {
	srv    *server.Server
	db     server.Store // the store newEnv opened (of the current backend), or nil
	client articlesv1.ArticleServiceClient
	conn   *grpc.ClientConn
	lis    *bufconn.Listener // what conn dials; more clients may dial it
	logs   *syncBuffer
	stop   func() // GracefulStop, once; also run at cleanup
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// openStore opens a bbolt store in a temporary directory, closed at
// cleanup. A test that calls it is bbolt-specific and runs in the bbolt
// pass only (see backends_test.go).
func openStore(t testing.TB) *store.DB {
	t.Helper()
	if current.name != "bbolt" {
		t.Skipf("bbolt-specific: runs in the bbolt pass only")
	}
	return openBolt(t)
}

// newEnv serves a new Server over st (a fresh store when nil). It takes a
// testing.TB so that a fuzz target can serve one Server for all its inputs.
func newEnv(t testing.TB, st server.Store, opts ...server.Option) *env {
	t.Helper()
	e := &env{logs: &syncBuffer{}}
	if st == nil {
		t.Logf("backend: %s", current.name)
		e.db = current.open(t)
		st = e.db
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng := openEngine(t, st)
	srv, err := server.New(context.Background(), st, append([]server.Option{server.WithLogger(logger), server.WithSearcher(eng)}, opts...)...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	e.srv = srv
	lis := bufconn.Listen(1 << 20)
	gs := srv.GRPCServer()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	e.conn, e.lis = conn, lis
	e.client = articlesv1.NewArticleServiceClient(conn)
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.GracefulStop(ctx)
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		conn.Close()
		e.stop()
	})
	return e
}

// openEngine opens a full-text engine following st in a temporary
// directory, closed at cleanup (before st, which was opened first).
func openEngine(t testing.TB, st fulltext.Feed) *fulltext.Engine {
	t.Helper()
	eng, err := fulltext.Open(filepath.Join(t.TempDir(), "index"), st)
	if err != nil {
		t.Fatalf("fulltext.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := eng.Close(); err != nil {
			t.Errorf("engine Close: %v", err)
		}
	})
	return eng
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// create creates an article through the API and fails the test on error.
func (e *env) create(t *testing.T, a *articlesv1.Article) *articlesv1.Article {
	t.Helper()
	got, err := e.client.CreateArticle(testCtx(t), &articlesv1.CreateArticleRequest{Article: a})
	if err != nil {
		t.Fatalf("CreateArticle(%q): %v", a.GetTitle(), err)
	}
	return got
}

// wantCode fails the test unless err has code want.
func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != want {
		t.Fatalf("error = %v, want code %v", err, want)
	}
	return st
}

// wantViolation fails the test unless err is INVALID_ARGUMENT with a
// BadRequest field violation on field.
func wantViolation(t *testing.T, err error, field string) {
	t.Helper()
	st := wantCode(t, err, codes.InvalidArgument)
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
				fields = append(fields, v.GetField())
			}
		}
	}
	t.Fatalf("error %v has violations on %q, want one on %q", err, fields, field)
}

var errBoom = errors.New("open /var/lib/secret/articles.db: input/output error")

// newServer builds a Server over st without serving it.
func newServer(t *testing.T, st server.Store, opts ...server.Option) (*server.Server, error) {
	t.Helper()
	srv, err := server.New(context.Background(), st, opts...)
	if err == nil {
		t.Cleanup(func() { srv.GracefulStop(context.Background()) })
	}
	return srv, err
}
