// The CLI's tests call run, which a package main does not export, so they
// live in package main rather than an external test package.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/seed9c1868aa/articles/fulltext"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// TestMain checks that no test leaves goroutines behind: every command
// closes its client, and every server stops with its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer runs a real server over a fresh store on a loopback port
// and returns its address; it stops with the test.
func startServer(t *testing.T, opts ...grpc.ServerOption) string {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "articles.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	eng, err := fulltext.Open(filepath.Join(t.TempDir(), "articles.search"), st)
	if err != nil {
		st.Close()
		t.Fatalf("fulltext.Open: %v", err)
	}
	srv, err := server.New(context.Background(), st, server.WithSearcher(eng))
	if err != nil {
		eng.Close()
		st.Close()
		t.Fatalf("server.New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		eng.Close()
		st.Close()
		t.Fatalf("listen: %v", err)
	}
	gs := srv.GRPCServer(opts...)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.GracefulStop(ctx)
		<-served
		eng.Close()
		st.Close()
	})
	return lis.Addr().String()
}

// result is what one run of the CLI produced.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the CLI against addr with args, stdin as its input, and a
// deadline so that a hung call fails the test instead of the suite.
func cli(t *testing.T, addr, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	all := append([]string{"--addr", addr}, args...)
	code := run(ctx, all, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// mustCLI is cli for a call that must succeed.
func mustCLI(t *testing.T, addr, stdin string, args ...string) result {
	t.Helper()
	r := cli(t, addr, stdin, args...)
	if r.code != exitOK {
		t.Fatalf("articles %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// jsonLines decodes jsonl output into one map per line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", line, err)
		}
		objs = append(objs, m)
	}
	return objs
}

// jsonObject decodes output that must be exactly one JSON object.
func jsonObject(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("output %q is not a JSON object: %v", out, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("output %q has more than one JSON value", out)
	}
	return m
}

// syncBuffer is a bytes.Buffer that a running command may write while the
// test reads it.
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
