package etcdstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/seed9c1868aa/articles/etcdstore"
	"github.com/seed9c1868aa/articles/etcdstore/etcdtest"
	"github.com/seed9c1868aa/articles/fulltext"
	"github.com/seed9c1868aa/articles/server"
)

var (
	_ server.Store       = (*etcdstore.Store)(nil)
	_ server.LocalReader = (*etcdstore.Store)(nil)
)

// shared is one single-member cluster for the tests of this binary that do
// not stop members; each test uses its own key prefix.
var (
	sharedOnce sync.Once
	shared     *etcdtest.Cluster
	sharedErr  error
	prefixes   atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if cluster3 != nil {
		cluster3.Close()
	}
	if benchCluster != nil {
		benchCluster.Close()
	}
	os.RemoveAll(binDir)
	os.Exit(code)
}

// The etcd binary of the tests' clusters, built once per test process:
// members run as processes, not instrumented by -race and killable.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  = filepath.Join(os.TempDir(), fmt.Sprintf("etcdstore-test-%d", os.Getpid()))
)

func etcdBinary() (string, error) {
	binOnce.Do(func() {
		if binErr = os.MkdirAll(binDir, 0o755); binErr == nil {
			binPath, binErr = etcdtest.Binary(binDir)
		}
	})
	return binPath, binErr
}

// sharedCluster returns the shared cluster, starting it on first use.
func sharedCluster(t testing.TB) *etcdtest.Cluster {
	t.Helper()
	sharedOnce.Do(func() {
		var bin string
		if bin, sharedErr = etcdBinary(); sharedErr == nil {
			shared, sharedErr = etcdtest.StartBinary(bin, 1, "")
		}
	})
	if sharedErr != nil {
		t.Fatalf("start etcd: %v", sharedErr)
	}
	return shared
}

// newClient returns a client of c, closed at cleanup.
func newClient(t testing.TB, c *etcdtest.Cluster) *clientv3.Client {
	t.Helper()
	cli, err := c.Client()
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// freshPrefix returns a key prefix no other test uses.
func freshPrefix() string { return fmt.Sprintf("/test%d/", prefixes.Add(1)) }

// openStore opens a store on cli under prefix, closed at cleanup.
func openStore(t testing.TB, cli *clientv3.Client, prefix string, opts ...etcdstore.Option) *etcdstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := etcdstore.Open(ctx, cli, prefix, opts...)
	if err != nil {
		t.Fatalf("etcdstore.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// twoStores opens two stores on one fresh prefix of the shared cluster,
// each with a client of its own, as two servers would be: w to write
// through, and r, opened with opts, to read through.
func twoStores(t *testing.T, opts ...etcdstore.Option) (w, r *etcdstore.Store) {
	t.Helper()
	cluster := sharedCluster(t)
	prefix := freshPrefix()
	return openStore(t, newClient(t, cluster), prefix), openStore(t, newClient(t, cluster), prefix, opts...)
}

// newStore opens a store on the shared cluster under a fresh prefix.
func newStore(t testing.TB, opts ...etcdstore.Option) (*etcdstore.Store, *clientv3.Client) {
	t.Helper()
	cli := newClient(t, sharedCluster(t))
	return openStore(t, cli, freshPrefix(), opts...), cli
}

// openEngine opens a full-text engine following st, in a temporary
// directory, closed at cleanup (before st).
func openEngine(t testing.TB, st *etcdstore.Store) *fulltext.Engine {
	t.Helper()
	eng, err := fulltext.Open(filepath.Join(t.TempDir(), "index"), st)
	if err != nil {
		t.Fatalf("fulltext.Open: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
