package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// bin is the articlesd binary and cliBin the articles CLI, both built once
// by TestMain.
var bin, cliBin string

// Bounds on how long the tests wait for the daemon. They are generous
// ceilings for a loaded CI machine, not expectations.
const (
	startTimeout = 60 * time.Second
	exitTimeout  = 30 * time.Second
	callTimeout  = 20 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "articlesd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "articlesd")
	cliBin = filepath.Join(dir, "articles")
	for out, pkg := range map[string]string{bin: ".", cliBin: "../articles"} {
		args := []string{"build", "-o", out}
		if raceEnabled {
			args = append(args, "-race") // the binaries' races matter as much as the test's
		}
		build := exec.Command("go", append(args, pkg)...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			return 1
		}
	}
	return m.Run()
}

// daemon is one running articlesd process.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *logWriter
	addr string
	done chan struct{} // closed once the process has exited
	err  error         // from Wait; valid after done is closed
}

// cleanEnv returns the test's environment without ARTICLES_* variables,
// plus extra, so a developer's settings cannot change a test.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ARTICLES_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// newDB returns the path of a fresh database file in a test directory.
func newDB(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "articles.db")
}

// start runs articlesd on 127.0.0.1:0 over the database at db and waits for
// its "listening" log line. env entries (KEY=value) are added to a clean
// environment; args come after the test's own flags, so they win.
func start(t *testing.T, db string, env []string, args ...string) *daemon {
	t.Helper()
	d := launch(t, db, env, args...)
	select {
	case addr := <-d.logs.addr:
		d.addr = addr
	case <-d.done:
		t.Fatalf("articlesd exited before listening (%v); log:\n%s", d.err, d.logs)
	case <-time.After(startTimeout):
		t.Fatalf("articlesd did not log a listening address within %v; log:\n%s", startTimeout, d.logs)
	}
	return d
}

// launch starts articlesd without waiting for it to listen.
func launch(t *testing.T, db string, env []string, args ...string) *daemon {
	t.Helper()
	all := append([]string{"--listen", "127.0.0.1:0", "--db", db, "--grace-period", "10s"}, args...)
	d := &daemon{
		t:    t,
		cmd:  exec.Command(bin, all...),
		logs: &logWriter{addr: make(chan string, 1)},
		done: make(chan struct{}),
	}
	d.cmd.Env = cleanEnv(env...)
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting articlesd: %v", err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// signal sends sig and waits for the process to exit, returning its exit
// code (-1 when a signal killed it).
func (d *daemon) signal(sig syscall.Signal) int {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signalling articlesd: %v", err)
	}
	return d.wait()
}

// wait waits for the process to exit and returns its exit code.
func (d *daemon) wait() int {
	d.t.Helper()
	select {
	case <-d.done:
	case <-time.After(exitTimeout):
		d.t.Fatalf("articlesd did not exit within %v; log:\n%s", exitTimeout, d.logs)
	}
	return exitCode(d.err)
}

// exitCode returns the exit code of a finished command's Wait or Run error.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -2 // not even started
}

// conn returns a client connection to the daemon, closed when the test ends.
func (d *daemon) conn() *grpc.ClientConn {
	d.t.Helper()
	cc, err := grpc.NewClient(d.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		d.t.Fatalf("grpc.NewClient(%q): %v", d.addr, err)
	}
	d.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// client returns an ArticleService client for the daemon.
func (d *daemon) client() articlesv1.ArticleServiceClient {
	d.t.Helper()
	return articlesv1.NewArticleServiceClient(d.conn())
}

// logWriter collects the daemon's stderr and reports the address of its
// first "listening" line, in text (logfmt) or JSON format.
type logWriter struct {
	mu      sync.Mutex // guards buf, partial and sent
	buf     bytes.Buffer
	partial []byte
	sent    bool
	addr    chan string // capacity 1: receives the listening address
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if addr, ok := listeningAddr(line); ok && !w.sent {
			w.sent = true
			w.addr <- addr
		}
	}
	return len(p), nil
}

// String returns everything logged so far.
func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor waits until the log contains s, polling for at most
// startTimeout.
func (w *logWriter) waitFor(t *testing.T, s string) {
	t.Helper()
	for range int(startTimeout / (10 * time.Millisecond)) {
		if strings.Contains(w.String(), s) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("log did not show %q within %v; log:\n%s", s, startTimeout, w)
}

// listeningAddr parses the daemon's "listening" line, plaintext (tls=false)
// or TLS (tls=true).
func listeningAddr(line string) (string, bool) {
	if strings.HasPrefix(line, "{") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
			TLS  *bool  `json:"tls"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "listening" || rec.TLS == nil {
			return "", false
		}
		return rec.Addr, rec.Addr != ""
	}
	fields := strings.Fields(line)
	kv := map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	if kv["msg"] != "listening" || (kv["tls"] != "false" && kv["tls"] != "true") || kv["addr"] == "" {
		return "", false
	}
	return kv["addr"], true
}

// callCtx returns a context for one RPC, bounded by callTimeout.
func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// listAll lists every article, FULL view, ordered by title, paging through
// at most 100 pages.
func listAll(t *testing.T, c articlesv1.ArticleServiceClient) []*articlesv1.Article {
	t.Helper()
	var all []*articlesv1.Article
	token := ""
	for range 100 {
		resp, err := c.ListArticles(callCtx(t), &articlesv1.ListArticlesRequest{
			PageSize:  1000,
			PageToken: token,
			OrderBy:   "title",
			View:      articlesv1.ArticleView_ARTICLE_VIEW_FULL,
		})
		if err != nil {
			t.Fatalf("ListArticles: %v", err)
		}
		all = append(all, resp.GetArticles()...)
		if token = resp.GetNextPageToken(); token == "" {
			return all
		}
	}
	t.Fatal("ListArticles did not end within 100 pages")
	return nil
}

// runCmd runs articlesd with args to completion (bounded by exitTimeout)
// and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), exitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("articlesd %q did not exit within %v; stderr:\n%s", args, exitTimeout, stderr.String())
	}
	return exitCode(err), stdout.String(), stderr.String()
}
