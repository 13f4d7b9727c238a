package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/seed9c1868aa/articles/metrics"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is a real store and server, instrumented, served over bufconn, with
// the metrics endpoint on a loopback HTTP port.
type env struct {
	db      *store.DB
	srv     *server.Server
	client  articlesv1.ArticleServiceClient
	metrics string // base URL of the metrics listener
}

// newEnv wires metrics exactly as cmd/articlesd does: the store's commit
// observer, its Stats, the server's Watchers and the interceptors.
func newEnv(t *testing.T, withPprof bool) *env {
	t.Helper()
	e := &env{}
	var m *metrics.Metrics
	db, err := store.Open(filepath.Join(t.TempDir(), "a.db"),
		store.WithCommitObserver(func(ops int, d time.Duration) { m.ObserveCommit(ops, d) }))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	srv, err := server.New(context.Background(), db)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	e.srv = srv
	m = metrics.New(
		metrics.WithStoreStats(func() metrics.StoreStats {
			s := db.Stats()
			return metrics.StoreStats{Articles: s.Articles, FileSize: s.FileSize, Revision: s.Revision, Compacted: s.Compacted}
		}),
		metrics.WithWatchers(srv.Watchers),
		metrics.WithBuildInfo(metrics.BuildInfo{Version: "v1.2.3", Revision: "0123abc", GoVersion: "go1.26.0"}),
	)

	lis := bufconn.Listen(1 << 20)
	gs := srv.GRPCServer(m.ServerOptions()...)
	m.InitializeMetrics(gs)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	e.client = articlesv1.NewArticleServiceClient(conn)

	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	e.metrics = "http://" + hl.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	serveErr := make(chan error, 1)
	go func() { serveErr <- m.Serve(ctx, hl, withPprof) }()

	t.Cleanup(func() {
		cancel()
		if err := <-serveErr; err != nil {
			t.Errorf("Serve: %v", err)
		}
		conn.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.GracefulStop(sctx)
		<-served
	})
	return e
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// get fetches path from the metrics listener.
func (e *env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, e.metrics+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// scrape fetches /metrics and parses the text format.
func (e *env) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := e.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want (a gauge's or counter's value, a histogram's count), and
// whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	fam, ok := fams[name]
	if !ok {
		return 0, false
	}
series:
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestScrape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := testCtx(t)

	const creates = 3
	for i := range creates {
		if _, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{
			Article: &articlesv1.Article{Title: fmt.Sprintf("Article %d", i), Body: "Some text."},
		}); err != nil {
			t.Fatalf("CreateArticle: %v", err)
		}
	}
	_, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: "missing"}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetArticle(missing) = %v, want NOT_FOUND", err)
	}
	// An open watch, which the gauge must count.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := e.client.WatchArticles(wctx, &articlesv1.WatchArticlesRequest{})
	if err != nil {
		t.Fatalf("WatchArticles: %v", err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatalf("watch: first event: %v", err)
	}

	fams := e.scrape(t)
	method := func(name, code string) map[string]string {
		return map[string]string{"grpc_service": "articles.v1.ArticleService", "grpc_method": name, "grpc_code": code}
	}
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"CreateOK", "grpc_server_handled_total", method("CreateArticle", "OK"), creates},
		{"GetNotFound", "grpc_server_handled_total", method("GetArticle", "NotFound"), 1},
		{"GetOKNeverCalled", "grpc_server_handled_total", method("GetArticle", "OK"), 0},
		{"WatchStarted", "grpc_server_started_total", map[string]string{"grpc_method": "WatchArticles", "grpc_type": "server_stream"}, 1},
		{"CreateLatency", "grpc_server_handling_seconds", map[string]string{"grpc_method": "CreateArticle"}, creates},
		{"Articles", "articles_store_articles", nil, creates},
		{"Revision", "articles_store_revision", nil, creates},
		{"Compacted", "articles_store_compacted_revision", nil, 0},
		{"Watchers", "articles_watch_streams", nil, 1},
		{"BuildInfo", "articles_build_info", map[string]string{"version": "v1.2.3", "revision": "0123abc", "goversion": "go1.26.0"}, 1},
		// Serial creates: one commit each.
		{"CommitBatches", "articles_store_commit_batch_ops", nil, creates},
		{"CommitFsyncs", "articles_store_commit_fsync_seconds", nil, creates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := value(fams, tt.metric, tt.labels)
			if !ok {
				t.Fatalf("no %s%v in the scrape", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	t.Run("FileSize", func(t *testing.T) {
		if got, ok := value(fams, "articles_store_file_size_bytes", nil); !ok || got <= 0 {
			t.Errorf("articles_store_file_size_bytes = %v, %v; want > 0", got, ok)
		}
	})
	t.Run("BatchSum", func(t *testing.T) {
		h := fams["articles_store_commit_batch_ops"].GetMetric()[0].GetHistogram()
		if h.GetSampleSum() != creates {
			t.Errorf("commit batch ops sum = %v, want %d", h.GetSampleSum(), creates)
		}
	})
	t.Run("Runtime", func(t *testing.T) {
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if got, ok := value(fams, name, nil); !ok || got <= 0 {
				t.Errorf("%s = %v, %v; want > 0", name, got, ok)
			}
		}
	})
}

func TestPprof(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		pprof    bool
		path     string
		wantCode int
		wantBody string
	}{
		{"OffIndex", false, "/debug/pprof/", http.StatusNotFound, ""},
		{"OffGoroutine", false, "/debug/pprof/goroutine?debug=1", http.StatusNotFound, ""},
		{"OffCmdline", false, "/debug/pprof/cmdline", http.StatusNotFound, ""},
		{"OnIndex", true, "/debug/pprof/", http.StatusOK, "goroutine"},
		{"OnGoroutine", true, "/debug/pprof/goroutine?debug=1", http.StatusOK, "goroutine profile: total"},
		{"OnMetricsToo", true, "/metrics", http.StatusOK, "go_goroutines"},
		{"OnUnknownPath", true, "/other", http.StatusNotFound, ""},
	}
	envs := map[bool]*env{false: newEnv(t, false), true: newEnv(t, true)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := envs[tt.pprof].get(t, tt.path)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s (pprof %v) = %d %.200q; want %d containing %q", tt.path, tt.pprof, code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestServeStops(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, lis, false) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if c, err := net.Dial("tcp", lis.Addr().String()); err == nil {
		c.Close()
		t.Errorf("listener %s still accepts after Serve returned", lis.Addr())
	}
}
