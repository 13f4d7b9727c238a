package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/seeds"
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// TestSeedAndRestart starts a fresh database, checks health and the seeded
// articles, then restarts on the same file: the seeds must not be loaded
// again and every article must come back exactly as it was.
func TestSeedAndRestart(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	want, err := seeds.Articles()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b *articlesv1.Article) int {
		return strings.Compare(strings.ToLower(a.GetTitle()), strings.ToLower(b.GetTitle()))
	})

	d := start(t, db, nil)
	hc := healthpb.NewHealthClient(d.conn())
	for _, service := range []string{"", articlesv1.ArticleService_ServiceDesc.ServiceName} {
		resp, err := hc.Check(callCtx(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("health Check(%q): %v", service, err)
		}
		if got := resp.GetStatus(); got != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health Check(%q) = %v, want SERVING", service, got)
		}
	}

	first := listAll(t, d.client())
	if len(first) != len(want) {
		t.Fatalf("ListArticles returned %d articles after seeding, want %d", len(first), len(want))
	}
	slugs := map[string]bool{}
	for i, a := range first {
		w := want[i]
		if a.GetTitle() != w.GetTitle() || a.GetBody() != w.GetBody() || a.GetSource() != w.GetSource() ||
			a.GetAuthorBio() != w.GetAuthorBio() || !slices.Equal(a.GetAuthors(), w.GetAuthors()) {
			t.Errorf("article %d = %.200v\nwant the seed %.200v", i, a, w)
		}
		if !slugPattern.MatchString(a.GetSlug()) || slugs[a.GetSlug()] {
			t.Errorf("article %q: slug %q is malformed or repeated", a.GetTitle(), a.GetSlug())
		}
		slugs[a.GetSlug()] = true
		if a.GetId() == "" || a.GetEtag() == "" || a.GetRevision() == 0 {
			t.Errorf("article %q lacks server fields: id %q etag %q revision %d", a.GetTitle(), a.GetId(), a.GetEtag(), a.GetRevision())
		}
	}
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0; log:\n%s", code, d.logs)
	}
	if !strings.Contains(d.logs.String(), "msg=seeded") {
		t.Errorf("first start did not log seeding; log:\n%s", d.logs)
	}

	d2 := start(t, db, nil)
	second := listAll(t, d2.client())
	if len(second) != len(first) {
		t.Fatalf("after restart ListArticles returned %d articles, want %d (seeds duplicated?)", len(second), len(first))
	}
	for i := range first {
		if !proto.Equal(second[i], first[i]) {
			t.Errorf("article %d changed across restart:\n got %.300v\nwant %.300v", i, second[i], first[i])
		}
	}
	if code := d2.signal(syscall.SIGINT); code != 0 {
		t.Fatalf("exit code after SIGINT = %d, want 0; log:\n%s", code, d2.logs)
	}
	if strings.Contains(d2.logs.String(), "msg=seeded") {
		t.Errorf("restart seeded again; log:\n%s", d2.logs)
	}
}

// TestShutdownWithOpenStream sends SIGTERM while streams are open: health
// turns NOT_SERVING, an open watch stream ends with UNAVAILABLE, an
// in-flight import still completes, and the daemon exits 0 without waiting
// out its grace period.
func TestShutdownWithOpenStream(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed", "--grace-period", "60s")
	cc := d.conn()
	c := articlesv1.NewArticleServiceClient(cc)

	healthCtx, stopHealth := context.WithCancel(callCtx(t))
	defer stopHealth()
	hw, err := healthpb.NewHealthClient(cc).Watch(healthCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health Watch: %v", err)
	}
	if st, err := hw.Recv(); err != nil || st.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health Watch first status %v, %v; want SERVING", st, err)
	}

	watch, err := c.WatchArticles(callCtx(t), &articlesv1.WatchArticlesRequest{})
	if err != nil {
		t.Fatalf("WatchArticles: %v", err)
	}
	// The first message, a PROGRESS event, shows the stream established
	// from the current revision: a write made before it could come before
	// the stream's start and never be sent.
	if ev, err := watch.Recv(); err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
		t.Fatalf("watch first message: %v, %v; want PROGRESS", ev, err)
	}
	// A write seen on the stream proves the stream is open on the server.
	created, err := c.CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
		Article: &articlesv1.Article{Title: "Before the signal", Body: "Text."},
	})
	if err != nil {
		t.Fatalf("CreateArticle: %v", err)
	}
	for range 10 { // skip PROGRESS events, if any
		ev, err := watch.Recv()
		if err != nil {
			t.Fatalf("watch Recv: %v", err)
		}
		if ev.GetType() == articlesv1.ArticleEvent_CREATED {
			if ev.GetArticle().GetId() != created.GetId() {
				t.Fatalf("watch saw %v, want the created article %q", ev, created.GetId())
			}
			break
		}
	}

	imp, err := c.ImportArticles(callCtx(t))
	if err != nil {
		t.Fatalf("ImportArticles: %v", err)
	}
	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			a := &articlesv1.Article{Title: fmt.Sprintf("In flight %d", i), Body: "Text."}
			if err := imp.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
				t.Fatalf("import Send %d: %v", i, err)
			}
		}
	}
	send(0, 5)

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st, err := hw.Recv(); err != nil || st.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health Watch after SIGTERM: %v, %v; want NOT_SERVING", st, err)
	}
	stopHealth() // a health watcher holds up a graceful stop, as any open RPC does

	_, err = watch.Recv()
	if got := status.Code(err); got != codes.Unavailable {
		t.Errorf("watch Recv after SIGTERM: %v (code %v), want UNAVAILABLE", err, got)
	}

	// The import began before the signal, so it may finish after it.
	d.logs.waitFor(t, `msg="shutting down"`)
	send(5, 10)
	resp, err := imp.CloseAndRecv()
	if err != nil || resp.GetCreated() != 10 {
		t.Errorf("in-flight import after SIGTERM: %v, %v; want 10 created", resp, err)
	}

	if code := d.wait(); code != 0 {
		t.Fatalf("exit code = %d, want 0; log:\n%s", code, d.logs)
	}
	logs := d.logs.String()
	if strings.Contains(logs, "grace period ended") {
		t.Errorf("shutdown waited out the grace period; log:\n%s", logs)
	}
	if !strings.Contains(logs, "msg=stopped") {
		t.Errorf("no clean stop logged; log:\n%s", logs)
	}
}

// TestDatabaseLocked checks that a second articlesd, or reindex, on a
// database in use fails fast with one clear line, and that reindex runs
// once the database is free.
func TestDatabaseLocked(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	d := start(t, db, nil)

	for _, args := range [][]string{
		{"--listen", "127.0.0.1:0", "--db", db},
		{"reindex", "--db", db},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, _, stderr := runCmd(t, nil, args...)
			if code != 1 {
				t.Errorf("exit code = %d, want 1; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "locked by another process") {
				t.Errorf("stderr does not say the database is locked:\n%s", stderr)
			}
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "articlesd: ") {
				t.Errorf("stderr is not one \"articlesd: ...\" line:\n%s", stderr)
			}
		})
	}

	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0; log:\n%s", code, d.logs)
	}
	t.Run("ReindexWhenFree", func(t *testing.T) {
		code, _, stderr := runCmd(t, nil, "reindex", "--db", db)
		if code != 0 {
			t.Fatalf("reindex exit code = %d, want 0; stderr:\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "msg=reindexed") {
			t.Errorf("reindex did not log its work:\n%s", stderr)
		}
	})
}

// TestAddressInUse checks that a busy listen address fails with exit 1.
func TestAddressInUse(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed")
	code, _, stderr := runCmd(t, nil, "--listen", d.addr, "--db", newDB(t), "--no-seed")
	if code != 1 || !strings.Contains(stderr, "address already in use") {
		t.Errorf("second listener on %s: exit %d, stderr:\n%s\nwant exit 1 and \"address already in use\"", d.addr, code, stderr)
	}
}

// TestEnvironment checks the ARTICLES_* fallbacks: they apply when the flag
// is absent and lose to a flag that is given.
func TestEnvironment(t *testing.T) {
	t.Parallel()
	// ARTICLES_LISTEN would fail if used; --listen (given by start) wins.
	d := start(t, newDB(t), []string{
		"ARTICLES_LISTEN=256.0.0.1:1",
		"ARTICLES_LOG_FORMAT=json",
		"ARTICLES_NO_SEED=true",
	})
	if got := listAll(t, d.client()); len(got) != 0 {
		t.Errorf("ARTICLES_NO_SEED=true ignored: %d articles", len(got))
	}
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code = %d, want 0; log:\n%s", code, d.logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(d.logs.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("ARTICLES_LOG_FORMAT=json ignored: log line %q", line)
		}
	}
}

// TestUsage checks --help and the usage errors (exit code 2).
func TestUsage(t *testing.T) {
	t.Parallel()
	t.Run("Help", func(t *testing.T) {
		t.Parallel()
		code, stdout, _ := runCmd(t, nil, "--help")
		if code != 0 {
			t.Fatalf("--help exit code = %d, want 0", code)
		}
		for _, flag := range []string{"listen", "db", "no-seed", "max-recv-bytes", "max-body-bytes", "log-level",
			"log-format", "history", "initial-mmap-size", "progress-interval", "watch-rate", "grace-period", "http-listen", "cors-origin"} {
			env := "ARTICLES_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
			if !strings.Contains(stdout, "--"+flag+" ") || !strings.Contains(stdout, "(env "+env+")") {
				t.Errorf("--help does not document --%s and %s", flag, env)
			}
		}
		if !strings.Contains(stdout, "reindex") {
			t.Error("--help does not list the reindex subcommand")
		}
	})
	tests := []struct {
		name string
		env  []string
		args []string
		want string // in stderr
	}{
		{name: "UnknownFlag", args: []string{"--bogus"}, want: "unknown flag"},
		{name: "Argument", args: []string{"serve"}, want: `unexpected argument "serve"`},
		{name: "BadLevel", args: []string{"--log-level", "loud"}, want: "invalid log level"},
		{name: "BadFormat", args: []string{"--log-format", "xml"}, want: "invalid log format"},
		{name: "BadDuration", args: []string{"--grace-period", "soon"}, want: "grace-period"},
		{name: "NegativeHistory", args: []string{"--history", "-1"}, want: "--history must be positive"},
		{name: "NegativeWatchRate", args: []string{"--watch-rate", "-1"}, want: `"--watch-rate" flag`},
		{name: "NegativeMmapSize", args: []string{"--initial-mmap-size", "-1"}, want: `"--initial-mmap-size" flag`},
		{name: "BadSizeUnit", args: []string{"--max-body-bytes", "2XB"}, want: `unknown unit "XB"`},
		{name: "BadSizeEnv", env: []string{"ARTICLES_MAX_RECV_BYTES=1.5MiB"}, want: "ARTICLES_MAX_RECV_BYTES"},
		{name: "BodyOverRecvUnits", args: []string{"--max-recv-bytes", "1MiB", "--max-body-bytes", "1MiB"}, want: "(1048576) must be larger"},
		{name: "BodyOverRecv", args: []string{"--max-recv-bytes", "1000", "--max-body-bytes", "2000"}, want: "must be larger than --max-body-bytes"},
		{name: "BadEnv", env: []string{"ARTICLES_HISTORY=lots"}, want: "ARTICLES_HISTORY"},
		{name: "BadEnvLevel", env: []string{"ARTICLES_LOG_LEVEL=loud"}, want: "invalid log level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A database path in a missing directory: a usage check that
			// came too late would fail on it with exit 1 instead.
			args := append([]string{"--db", t.TempDir() + "/missing/x.db"}, tt.args...)
			code, _, stderr := runCmd(t, tt.env, args...)
			if code != 2 {
				t.Errorf("exit code = %d, want 2; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("stderr has %d lines, want 1:\n%s", n+1, stderr)
			}
		})
	}
}

// TestCrash writes concurrently (creates and import streams), kills the
// daemon with SIGKILL in the middle, restarts it and checks that every
// acknowledged write is there with exactly its content.
func TestCrash(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	d := start(t, db, nil, "--no-seed")
	c := d.client()

	const (
		creators    = 4
		importers   = 2
		importSize  = 20
		writeWindow = 10 * time.Second // writers stop by then even if the kill never came
	)
	var (
		mu       sync.Mutex // guards created and imported
		created  []*articlesv1.CreateArticleRequest
		acked    []*articlesv1.Article // acked[i] answers created[i]
		imported []*articlesv1.Article
		nCreated atomic.Int64
		nImports atomic.Int64
	)
	ctx, cancel := context.WithTimeout(t.Context(), writeWindow)
	defer cancel()

	var wg sync.WaitGroup
	for g := range creators {
		wg.Go(func() {
			for i := range 100_000 {
				if ctx.Err() != nil {
					return
				}
				req := &articlesv1.CreateArticleRequest{
					RequestId: fmt.Sprintf("crash-%d-%d", g, i),
					Article: &articlesv1.Article{
						Title:   fmt.Sprintf("Crash writer %d, article %d — “quoted”", g, i),
						Body:    fmt.Sprintf("First paragraph of %d/%d: naïve café.\n\nSecond paragraph.", g, i),
						Authors: []string{fmt.Sprintf("Writer %d", g)},
						Tags:    []string{"crash", fmt.Sprintf("w%d", g)},
						Labels:  map[string]string{"n": fmt.Sprint(i)},
						Source:  "crash-test",
					},
				}
				a, err := c.CreateArticle(ctx, req)
				if err != nil {
					return // the kill, or the window ended
				}
				mu.Lock()
				created, acked = append(created, req), append(acked, a)
				mu.Unlock()
				nCreated.Add(1)
			}
		})
	}
	for g := range importers {
		wg.Go(func() {
			for j := range 10_000 {
				stream, err := c.ImportArticles(ctx)
				if err != nil {
					return
				}
				var sent []*articlesv1.Article
				for k := range importSize {
					a := &articlesv1.Article{
						Slug:    fmt.Sprintf("import-%d-%d-%d", g, j, k),
						Title:   fmt.Sprintf("Imported %d/%d/%d", g, j, k),
						Body:    strings.TrimSpace(strings.Repeat(fmt.Sprintf("Imported body %d/%d/%d. ", g, j, k), 20)),
						Authors: []string{"Importer"},
						Tags:    []string{"import"},
					}
					if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
						return
					}
					sent = append(sent, a)
				}
				resp, err := stream.CloseAndRecv()
				if err != nil {
					return
				}
				if resp.GetCreated() != importSize || len(resp.GetFailures()) > 0 {
					t.Errorf("import %d/%d: %v, want %d created", g, j, resp, importSize)
					return
				}
				mu.Lock()
				imported = append(imported, sent...)
				mu.Unlock()
				nImports.Add(1)
			}
		})
	}

	// Kill once both kinds of write have been acknowledged, while the
	// writers are still going; poll for at most writeWindow/2.
	for range int(writeWindow / 2 / (10 * time.Millisecond)) {
		if nCreated.Load() >= 20 && nImports.Load() >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := d.signal(syscall.SIGKILL); code != -1 {
		t.Errorf("exit code after SIGKILL = %d, want -1 (killed)", code)
	}
	wg.Wait()
	cancel()

	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 || len(imported) == 0 {
		t.Fatalf("only %d creates and %d imported articles acknowledged before the kill; the test proves nothing", len(acked), len(imported))
	}
	t.Logf("acknowledged before SIGKILL: %d creates, %d imported articles", len(acked), len(imported))

	d2 := start(t, db, nil, "--no-seed")
	c2 := d2.client()
	for i, want := range acked {
		got, err := c2.GetArticle(callCtx(t), &articlesv1.GetArticleRequest{
			Key:  &articlesv1.GetArticleRequest_Id{Id: want.GetId()},
			View: articlesv1.ArticleView_ARTICLE_VIEW_FULL,
		})
		if err != nil {
			t.Errorf("acknowledged create %d (%q) lost: %v", i, want.GetId(), err)
			continue
		}
		if !proto.Equal(got, want) {
			t.Errorf("acknowledged create %d changed:\n got %v\nwant %v", i, got, want)
		}
	}
	// A retried create is still recognised after the crash.
	for _, i := range []int{0, len(created) - 1} {
		again, err := c2.CreateArticle(callCtx(t), created[i])
		if err != nil || again.GetId() != acked[i].GetId() {
			t.Errorf("retried create %q after restart: id %q, err %v; want id %q", created[i].GetRequestId(), again.GetId(), err, acked[i].GetId())
		}
	}
	for _, want := range imported {
		got, err := c2.GetArticle(callCtx(t), &articlesv1.GetArticleRequest{
			Key:  &articlesv1.GetArticleRequest_Slug{Slug: want.GetSlug()},
			View: articlesv1.ArticleView_ARTICLE_VIEW_FULL,
		})
		if err != nil {
			t.Errorf("acknowledged import of %q lost: %v", want.GetSlug(), err)
			continue
		}
		if got.GetTitle() != want.GetTitle() || got.GetBody() != want.GetBody() ||
			!slices.Equal(got.GetAuthors(), want.GetAuthors()) || !slices.Equal(got.GetTags(), want.GetTags()) {
			t.Errorf("imported %q changed:\n got %v\nwant %v", want.GetSlug(), got, want)
		}
	}
	if code := d2.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after restart's SIGTERM = %d, want 0; log:\n%s", code, d2.logs)
	}
}
