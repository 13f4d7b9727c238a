package main_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// The HTTP listener's tests run the real articlesd with --http-listen over
// a real bbolt file and call it as curl and browsers would: plain net/http
// requests for REST and Connect, connect-go's client for gRPC-Web and
// server streams.

// httpAddr returns the address from the daemon's "serving http" line; the
// daemon must log JSON.
func httpAddr(t *testing.T, d *daemon) string {
	t.Helper()
	for _, line := range strings.Split(d.logs.String(), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving http" && rec.Addr != "" {
			return rec.Addr
		}
	}
	t.Fatalf("no \"serving http\" line in the log:\n%s", d.logs)
	return ""
}

// startHTTP starts articlesd with an HTTP listener and returns it and the
// listener's base URL (http://host:port).
func startHTTP(t *testing.T, args ...string) (*daemon, string) {
	t.Helper()
	d := start(t, newDB(t), nil, append([]string{"--log-format", "json", "--http-listen", "127.0.0.1:0"}, args...)...)
	return d, "http://" + httpAddr(t, d)
}

// httpCall is one HTTP request and what it answered.
type httpCall struct {
	method, url string
	header      http.Header
	body        []byte
}

// do sends c with client (http.DefaultClient when nil) and returns the
// status and body.
func (c httpCall) do(t *testing.T, client *http.Client) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(callCtx(t), c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func jsonHeader(token string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// decode unmarshals a JSON body into msg, failing the test on error.
func decode(t *testing.T, body []byte, msg proto.Message) {
	t.Helper()
	if err := protojson.Unmarshal(body, msg); err != nil {
		t.Fatalf("decoding %T from %s: %v", msg, body, err)
	}
}

// TestHTTPREST calls every REST route of the proto and checks the answers
// against the store as gRPC sees it.
func TestHTTPREST(t *testing.T) {
	t.Parallel()
	d, base := startHTTP(t)
	grpcClient := d.client()
	seeded := listAll(t, grpcClient)
	if len(seeded) == 0 {
		t.Fatal("no seeded articles")
	}
	first := seeded[0]

	get := func(path string) (int, []byte) {
		code, _, body := httpCall{method: http.MethodGet, url: base + path}.do(t, nil)
		return code, body
	}

	t.Run("List", func(t *testing.T) {
		code, body := get("/v1/articles?page_size=2&order_by=title")
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		var resp articlesv1.ListArticlesResponse
		decode(t, body, &resp)
		if len(resp.GetArticles()) != 2 || resp.GetNextPageToken() == "" || resp.GetArticles()[0].GetId() != first.GetId() {
			t.Errorf("got %d articles (first %q), token %q; want 2 starting with %q and a token",
				len(resp.GetArticles()), resp.GetArticles()[0].GetId(), resp.GetNextPageToken(), first.GetId())
		}
	})
	t.Run("Get", func(t *testing.T) {
		code, body := get("/v1/articles/" + first.GetId())
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		var a articlesv1.Article
		decode(t, body, &a)
		if a.GetSlug() != first.GetSlug() || a.GetBody() != first.GetBody() {
			t.Errorf("got %q (body %d bytes), want %q (body %d bytes)", a.GetSlug(), len(a.GetBody()), first.GetSlug(), len(first.GetBody()))
		}
	})
	t.Run("Lookup", func(t *testing.T) {
		code, body := get("/v1/articles:lookup?slug=" + url.QueryEscape(first.GetSlug()))
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		var a articlesv1.Article
		decode(t, body, &a)
		if a.GetId() != first.GetId() {
			t.Errorf("id = %q, want %q", a.GetId(), first.GetId())
		}
	})
	t.Run("BatchGet", func(t *testing.T) {
		code, body := get("/v1/articles:batchGet?ids=" + seeded[1].GetId() + "&ids=" + first.GetId())
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		var resp articlesv1.BatchGetArticlesResponse
		decode(t, body, &resp)
		if got := resp.GetArticles(); len(got) != 2 || got[0].GetId() != seeded[1].GetId() || got[1].GetId() != first.GetId() {
			t.Errorf("got %s", body)
		}
	})
	t.Run("Search", func(t *testing.T) {
		word := strings.Fields(first.GetTitle())[0]
		code, body := get("/v1/articles:search?query=" + url.QueryEscape(word))
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		var resp articlesv1.SearchArticlesResponse
		decode(t, body, &resp)
		found := false
		for _, r := range resp.GetResults() {
			found = found || r.GetArticle().GetId() == first.GetId()
		}
		if !found {
			t.Errorf("searching %q did not find %q: %s", word, first.GetId(), body)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		for _, path := range []string{"/v1/articles/01J0000000000000000000000X", "/v1/articles:lookup?slug=no-such-slug"} {
			code, body := get(path)
			if code != http.StatusNotFound || !strings.Contains(string(body), "not found") {
				t.Errorf("GET %s: HTTP %d %s, want 404", path, code, body)
			}
		}
	})
	t.Run("UnknownRoute", func(t *testing.T) {
		if code, body := get("/v2/nothing"); code != http.StatusNotFound {
			t.Errorf("HTTP %d %s, want 404", code, body)
		}
	})

	// Writes: create, update, delete, each checked over gRPC.
	var created articlesv1.Article
	t.Run("Create", func(t *testing.T) {
		code, h, body := httpCall{method: http.MethodPost, url: base + "/v1/articles", header: jsonHeader(""),
			body: []byte(`{"title":"Over HTTP","body":"Written with curl.","tags":["http"]}`)}.do(t, nil)
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		decode(t, body, &created)
		if got, want := h.Get("Articles-Revision"), fmt.Sprint(created.GetRevision()); got != want {
			t.Errorf("Articles-Revision header = %q, want the article's revision %s", got, want)
		}
		got, err := grpcClient.GetArticle(callCtx(t), &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}})
		if err != nil || got.GetBody() != "Written with curl." || got.GetSlug() != "over-http" {
			t.Fatalf("over gRPC: %v, %v", got, err)
		}
	})
	t.Run("CreateInvalid", func(t *testing.T) {
		code, _, body := httpCall{method: http.MethodPost, url: base + "/v1/articles", header: jsonHeader(""),
			body: []byte(`{"title":"","body":"no title"}`)}.do(t, nil)
		if code != http.StatusBadRequest {
			t.Errorf("HTTP %d %s, want 400", code, body)
		}
		code, _, body = httpCall{method: http.MethodPost, url: base + "/v1/articles", header: jsonHeader(""),
			body: []byte(`{"title":`)}.do(t, nil)
		if code != http.StatusBadRequest {
			t.Errorf("malformed JSON: HTTP %d %s, want 400", code, body)
		}
	})
	t.Run("Update", func(t *testing.T) {
		code, _, body := httpCall{method: http.MethodPatch, url: base + "/v1/articles/" + created.GetId() + "?update_mask=title",
			header: jsonHeader(""), body: []byte(`{"title":"Patched over HTTP","body":"ignored: not in the mask"}`)}.do(t, nil)
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		got, err := grpcClient.GetArticle(callCtx(t), &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}})
		if err != nil || got.GetTitle() != "Patched over HTTP" || got.GetBody() != "Written with curl." {
			t.Fatalf("over gRPC: %v, %v", got, err)
		}
	})
	t.Run("UpdateNotFound", func(t *testing.T) {
		code, _, body := httpCall{method: http.MethodPatch, url: base + "/v1/articles/01J0000000000000000000000X?update_mask=title",
			header: jsonHeader(""), body: []byte(`{"title":"x"}`)}.do(t, nil)
		if code != http.StatusNotFound {
			t.Errorf("HTTP %d %s, want 404", code, body)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		code, h, body := httpCall{method: http.MethodDelete, url: base + "/v1/articles/" + created.GetId()}.do(t, nil)
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		// The delete's revision, above the create's and the update's.
		if rev, err := strconv.ParseInt(h.Get("Articles-Revision"), 10, 64); err != nil || rev <= created.GetRevision()+1 {
			t.Errorf("Articles-Revision header of the delete = %q, want above %d", h.Get("Articles-Revision"), created.GetRevision()+1)
		}
		_, err := grpcClient.GetArticle(callCtx(t), &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}})
		if status.Code(err) != codes.NotFound {
			t.Errorf("after DELETE, gRPC GetArticle = %v, want NOT_FOUND", err)
		}
		if code, body := get("/v1/articles/" + created.GetId()); code != http.StatusNotFound {
			t.Errorf("GET after DELETE: HTTP %d %s, want 404", code, body)
		}
	})
}

// TestHTTPConnect calls the Connect protocol with JSON and binary bodies as
// curl would, and gRPC-Web and Connect server streams with connect-go.
func TestHTTPConnect(t *testing.T) {
	t.Parallel()
	_, base := startHTTP(t)
	rpc := base + "/articles.v1.ArticleService/"

	var list articlesv1.ListArticlesResponse
	t.Run("JSON", func(t *testing.T) {
		code, _, body := httpCall{method: http.MethodPost, url: rpc + "ListArticles", header: jsonHeader(""),
			body: []byte(`{"pageSize":3}`)}.do(t, nil)
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		decode(t, body, &list)
		if len(list.GetArticles()) != 3 {
			t.Fatalf("%d articles, want 3", len(list.GetArticles()))
		}
	})
	t.Run("Binary", func(t *testing.T) {
		req, err := proto.Marshal(&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: list.GetArticles()[0].GetId()}})
		if err != nil {
			t.Fatal(err)
		}
		code, hdr, body := httpCall{method: http.MethodPost, url: rpc + "GetArticle",
			header: http.Header{"Content-Type": {"application/proto"}, "Connect-Protocol-Version": {"1"}}, body: req}.do(t, nil)
		if code != http.StatusOK || hdr.Get("Content-Type") != "application/proto" {
			t.Fatalf("HTTP %d (%s): %q", code, hdr.Get("Content-Type"), body)
		}
		var a articlesv1.Article
		if err := proto.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		if a.GetSlug() != list.GetArticles()[0].GetSlug() {
			t.Errorf("slug %q, want %q", a.GetSlug(), list.GetArticles()[0].GetSlug())
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		code, _, body := httpCall{method: http.MethodPost, url: rpc + "GetArticle", header: jsonHeader(""),
			body: []byte(`{"slug":"no-such-slug"}`)}.do(t, nil)
		var e struct{ Code, Message string }
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("HTTP %d, body %q: %v", code, body, err)
		}
		if code != http.StatusNotFound || e.Code != "not_found" {
			t.Errorf("HTTP %d, code %q, want 404 not_found", code, e.Code)
		}
	})
	t.Run("BadJSON", func(t *testing.T) {
		code, _, body := httpCall{method: http.MethodPost, url: rpc + "GetArticle", header: jsonHeader(""),
			body: []byte(`{"slug":`)}.do(t, nil)
		if code != http.StatusBadRequest || strings.Contains(string(body), "/") && strings.Contains(string(body), ".go") {
			t.Errorf("HTTP %d %s, want 400 without a file path", code, body)
		}
	})
	t.Run("GRPCWeb", func(t *testing.T) {
		for _, opts := range [][]connect.ClientOption{{connect.WithGRPCWeb()}, {connect.WithGRPCWeb(), connect.WithProtoJSON()}} {
			c := connect.NewClient[articlesv1.GetArticleRequest, articlesv1.Article](http.DefaultClient, rpc+"GetArticle", opts...)
			resp, err := c.CallUnary(callCtx(t), connect.NewRequest(&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: list.GetArticles()[1].GetSlug()}}))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Msg.GetId() != list.GetArticles()[1].GetId() {
				t.Errorf("id %q, want %q", resp.Msg.GetId(), list.GetArticles()[1].GetId())
			}
			_, err = c.CallUnary(callCtx(t), connect.NewRequest(&articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: "no-such-slug"}}))
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("missing slug: %v, want not_found", err)
			}
		}
	})
	t.Run("PlainGRPC", func(t *testing.T) {
		cc, err := grpc.NewClient(strings.TrimPrefix(base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		resp, err := articlesv1.NewArticleServiceClient(cc).ListArticles(callCtx(t), &articlesv1.ListArticlesRequest{PageSize: 3})
		if err != nil || len(resp.GetArticles()) != 3 {
			t.Fatalf("ListArticles over the HTTP port: %d articles, %v", len(resp.GetArticles()), err)
		}
	})
	t.Run("ServerStream", func(t *testing.T) {
		for name, opts := range map[string][]connect.ClientOption{"Connect": nil, "GRPCWeb": {connect.WithGRPCWeb()}} {
			c := connect.NewClient[articlesv1.StreamArticlesRequest, articlesv1.StreamArticlesResponse](http.DefaultClient, rpc+"StreamArticles", opts...)
			stream, err := c.CallServerStream(callCtx(t), connect.NewRequest(&articlesv1.StreamArticlesRequest{}))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			n := 0
			for stream.Receive() && n < 1000 {
				if stream.Msg().GetArticle().GetId() != "" {
					n++
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			stream.Close()
			if n < len(list.GetArticles()) {
				t.Errorf("%s: streamed %d articles, want at least %d", name, n, len(list.GetArticles()))
			}
		}
	})
}

// TestHTTPTokens checks that the HTTP listener applies the gRPC listener's
// tokens and roles (401 without a valid token, 403 for a read token on a
// write), and that its calls show in the same metrics.
func TestHTTPTokens(t *testing.T) {
	t.Parallel()
	d, base := startHTTP(t, "--tokens", goodTokens(t), "--metrics-listen", "127.0.0.1:0")
	tests := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"NoToken", http.MethodGet, "/v1/articles", "", "", http.StatusUnauthorized},
		{"UnknownToken", http.MethodGet, "/v1/articles", "wrong", "", http.StatusUnauthorized},
		{"ReadList", http.MethodGet, "/v1/articles", readSecret, "", http.StatusOK},
		{"ReadCreate", http.MethodPost, "/v1/articles", readSecret, `{"title":"No","body":"x"}`, http.StatusForbidden},
		{"WriteCreate", http.MethodPost, "/v1/articles", writeSecret, `{"title":"Yes","body":"x"}`, http.StatusOK},
		{"ReadDeleteConnect", http.MethodPost, "/articles.v1.ArticleService/DeleteArticle", readSecret, `{"id":"x"}`, http.StatusForbidden},
		{"NoTokenConnect", http.MethodPost, "/articles.v1.ArticleService/GetArticle", "", `{"id":"x"}`, http.StatusUnauthorized},
		{"ReadMissing", http.MethodGet, "/v1/articles/nope", readSecret, "", http.StatusNotFound},
		{"HealthNoToken", http.MethodPost, "/grpc.health.v1.Health/Check", "", `{}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := httpCall{method: tt.method, url: base + tt.path, header: jsonHeader(tt.token), body: []byte(tt.body)}.do(t, nil)
			if code != tt.want {
				t.Errorf("HTTP %d %s, want %d", code, body, tt.want)
			}
			if strings.Contains(string(body), readSecret) || strings.Contains(string(body), writeSecret) {
				t.Errorf("the answer leaks a token: %s", body)
			}
		})
	}
	_, metrics := get(t, "http://"+metricsAddr(t, d)+"/metrics")
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="PermissionDenied",grpc_method="CreateArticle",grpc_service="articles.v1.ArticleService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="CreateArticle",grpc_service="articles.v1.ArticleService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="NotFound",grpc_method="GetArticle",grpc_service="articles.v1.ArticleService",grpc_type="unary"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestHTTPCORS checks preflight and actual requests from an allowed and a
// foreign origin.
func TestHTTPCORS(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.com"
	_, base := startHTTP(t, "--cors-origin", allowed, "--cors-origin", "http://localhost:3000", "--no-seed")
	preflight := func(origin, method, headers string) (int, http.Header) {
		code, hdr, _ := httpCall{method: http.MethodOptions, url: base + "/articles.v1.ArticleService/GetArticle", header: http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {method}, "Access-Control-Request-Headers": {headers},
		}}.do(t, nil)
		return code, hdr
	}
	t.Run("Allowed", func(t *testing.T) {
		code, hdr := preflight(allowed, http.MethodPost, "authorization,connect-protocol-version,content-type")
		if code/100 != 2 || hdr.Get("Access-Control-Allow-Origin") != allowed {
			t.Fatalf("HTTP %d, headers %v", code, hdr)
		}
		if h := strings.ToLower(hdr.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "authorization") || !strings.Contains(h, "connect-protocol-version") {
			t.Errorf("Access-Control-Allow-Headers = %q", h)
		}
	})
	t.Run("Foreign", func(t *testing.T) {
		_, hdr := preflight("https://evil.example.net", http.MethodPost, "content-type")
		if got := hdr.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("foreign origin allowed: %q", got)
		}
	})
	t.Run("Actual", func(t *testing.T) {
		code, hdr, body := httpCall{method: http.MethodGet, url: base + "/v1/articles", header: http.Header{"Origin": {"http://localhost:3000"}}}.do(t, nil)
		if code != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Errorf("HTTP %d %s, Access-Control-Allow-Origin %q", code, body, hdr.Get("Access-Control-Allow-Origin"))
		}
	})
}

// TestHTTPTLS checks that the HTTP listener serves TLS (HTTP/1.1 and
// HTTP/2) when the server has a certificate, and refuses plaintext.
func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "http test CA")
	d := start(t, newDB(t), nil, append(p.serverArgs(), "--log-format", "json", "--http-listen", "127.0.0.1:0")...)
	addr := httpAddr(t, d)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("HTTP2=%v", h2), func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.roots, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: h2}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			req, err := http.NewRequestWithContext(callCtx(t), http.MethodGet, "https://"+addr+"/v1/articles?page_size=1", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || (resp.ProtoMajor == 2) != h2 {
				t.Errorf("HTTP %d over %s: %s", resp.StatusCode, resp.Proto, body)
			}
		})
	}
	t.Run("Plaintext", func(t *testing.T) {
		req, err := http.NewRequestWithContext(callCtx(t), http.MethodGet, "http://"+addr+"/v1/articles", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("plaintext request answered 200 on a TLS listener")
			}
		}
	})
}

// TestHTTPUsage checks the HTTP flags' usage errors and that tokens are
// refused on a plaintext HTTP listener beyond loopback.
func TestHTTPUsage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"CORSWithoutHTTP", []string{"--cors-origin", "https://a.example"}, 2, "--cors-origin needs --http-listen"},
		{"BadOrigin", []string{"--http-listen", "127.0.0.1:0", "--cors-origin", "a.example"}, 2, "want * or an origin"},
		{"TokensPlaintext", []string{"--tokens", goodTokens(t), "--http-listen", "0.0.0.0:0"}, 1, `refusing --tokens on plaintext address "0.0.0.0:0"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--db", newDB(t), "--listen", "127.0.0.1:0"}, tt.args...)
			code, _, stderr := runCmd(t, nil, args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

// TestHTTPShutdownFinishesCalls checks that a unary HTTP call in flight at
// SIGTERM is answered, not cancelled: grpc-go's graceful stop would cancel
// it, so articlesd lets unary HTTP calls finish first.
func TestHTTPShutdownFinishesCalls(t *testing.T) {
	t.Parallel()
	d, base := startHTTP(t, "--no-seed", "--metrics-listen", "127.0.0.1:0")
	c := d.client()
	create := func(title string) {
		t.Helper()
		if _, err := c.CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: title, Body: "Shutdown words."}}); err != nil {
			t.Fatalf("CreateArticle: %v", err)
		}
	}
	create("First")
	// A search for a revision not yet written waits for it.
	type answer struct {
		code int
		body []byte
	}
	answered := make(chan answer, 1)
	go func() {
		req, err := http.NewRequestWithContext(callCtx(t), http.MethodGet, base+"/v1/articles:search?query=shutdown&min_revision=2", nil)
		if err != nil {
			answered <- answer{-1, []byte(err.Error())}
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{-1, []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, body}
	}()
	metrics := "http://" + metricsAddr(t, d) + "/metrics"
	const started = `grpc_server_started_total{grpc_method="SearchArticles",grpc_service="articles.v1.ArticleService",grpc_type="unary"} 1`
	for i := 0; ; i++ {
		if _, body := get(t, metrics); strings.Contains(body, started) {
			break
		}
		if i == 500 {
			t.Fatal("the search did not start within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.logs.waitFor(t, `"msg":"shutting down"`)
	// The gRPC listener still serves while HTTP calls finish: the write
	// the search waits for.
	create("Second")
	select {
	case a := <-answered:
		if a.code != http.StatusOK || !strings.Contains(string(a.body), "Second") {
			t.Errorf("search in flight at SIGTERM: HTTP %d %s, want 200 finding \"Second\"", a.code, a.body)
		}
	case <-time.After(callTimeout):
		t.Fatal("the search in flight was not answered")
	}
	if code := d.wait(); code != 0 {
		t.Errorf("exit code %d; log:\n%s", code, d.logs)
	}
}
