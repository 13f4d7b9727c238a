package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// metricsAddr returns the address from the daemon's "serving metrics" line.
func metricsAddr(t *testing.T, d *daemon) string {
	t.Helper()
	for _, line := range strings.Split(d.logs.String(), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving metrics" && rec.Addr != "" {
			return rec.Addr
		}
	}
	t.Fatalf("no \"serving metrics\" line in the log:\n%s", d.logs)
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestMetrics starts articlesd with --metrics-listen and checks that
// /metrics reports real calls and the store, and that pprof is served only
// with --pprof.
func TestMetrics(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		t.Run(map[bool]string{false: "without pprof", true: "with pprof"}[pprof], func(t *testing.T) {
			args := []string{"--log-format", "json", "--metrics-listen", "127.0.0.1:0"}
			if pprof {
				args = append(args, "--pprof")
			}
			d := start(t, newDB(t), nil, args...)
			base := "http://" + metricsAddr(t, d)

			if _, err := d.client().ListArticles(callCtx(t), &articlesv1.ListArticlesRequest{}); err != nil {
				t.Fatal(err)
			}
			code, body := get(t, base+"/metrics")
			if code != http.StatusOK {
				t.Fatalf("/metrics: HTTP %d", code)
			}
			for _, want := range []string{
				`grpc_server_handled_total{grpc_code="OK",grpc_method="ListArticles",grpc_service="articles.v1.ArticleService",grpc_type="unary"} 1`,
				"articles_store_articles 4",
				"articles_store_revision 4",
				"articles_store_commit_batch_ops_count",
				"articles_watch_streams 0",
				"articles_search_index_lag_revisions ",
				`articles_build_info{goversion="go`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
			wantPprof := http.StatusNotFound
			if pprof {
				wantPprof = http.StatusOK
			}
			if code, _ := get(t, base+"/debug/pprof/"); code != wantPprof {
				t.Errorf("/debug/pprof/: HTTP %d, want %d", code, wantPprof)
			}
		})
	}
}

// TestEtcdIndexLagMetric checks that on the etcd backend
// articles_search_index_lag_revisions is computed from the cluster's
// revision: after a search, which waits for the index to cover every
// acknowledged write, the index revision is the store's and the lag 0.
func TestEtcdIndexLagMetric(t *testing.T) {
	t.Parallel()
	eps := startEtcd(t)
	d := start(t, newDB(t), nil, "--store", "etcd", "--etcd-endpoints", eps, "--etcd-prefix", "/lag/",
		"--log-format", "json", "--metrics-listen", "127.0.0.1:0")
	c := d.client()
	if _, err := c.CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Lag", Body: "Counted revisions."}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SearchArticles(callCtx(t), &articlesv1.SearchArticlesRequest{Query: "counted"}); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, "http://"+metricsAddr(t, d)+"/metrics")
	for _, want := range []string{"articles_search_index_lag_revisions 0\n", "articles_build_info{"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "articles_search_index_revision 0\n") {
		t.Error("articles_search_index_revision is 0 after a write and a search")
	}
}
