package server_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/seed9c1868aa/articles/etcdstore"
	"github.com/seed9c1868aa/articles/etcdstore/etcdtest"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

var _ server.Store = (*etcdstore.Store)(nil)

// The server suite runs once per storage backend: TestMain calls m.Run for
// each entry of backends, and newEnv(t, nil) opens a store of the current
// one, so every test written against newEnv checks both backends without
// being copied. A failing test's log names its backend.
//
// Tests that build their store themselves (openStore, openStoreWith: the
// bbolt store, for fault injection or bbolt options such as WithHistory)
// are bbolt-specific: openStore skips them in the other passes, so they
// run once.
//
// ARTICLES_TEST_BACKENDS=bbolt (a comma-separated list) limits the passes;
// fuzzing (-fuzz) runs the bbolt pass only.

// backend is one storage backend the server suite runs against.
type backend struct {
	name string
	// open returns a new, empty store, released at t's cleanup.
	open func(t testing.TB) server.Store
	// close releases what the backend shares between tests, after its pass.
	close func()
}

var backends = []*backend{
	{name: "bbolt", open: func(t testing.TB) server.Store { return openBolt(t) }, close: func() {}},
	{name: "etcd", open: openEtcd, close: closeEtcd},
}

// current is the backend of the running pass.
var current = backends[0]

// runBackends runs the suite once per selected backend and returns the
// worst exit code.
func runBackends(m *testing.M) int {
	flag.Parse()
	selected := backends
	if env := os.Getenv("ARTICLES_TEST_BACKENDS"); env != "" {
		names := strings.Split(env, ",")
		selected = slices.DeleteFunc(slices.Clone(backends), func(b *backend) bool { return !slices.Contains(names, b.name) })
	}
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		selected = backends[:1]
	}
	code := 0
	for _, b := range selected {
		current = b
		if testing.Verbose() {
			fmt.Printf("=== BACKEND %s\n", b.name)
		}
		if c := m.Run(); c != 0 {
			fmt.Printf("--- FAIL: the server suite on the %s backend\n", b.name)
			code = c
		}
		b.close()
	}
	current = backends[0]
	return code
}

// openBolt opens a bbolt store in a temporary directory, closed at cleanup.
func openBolt(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("db.Close: %v", err)
		}
	})
	return db
}

// One single-member etcd for the etcd pass, started on first use; each
// test has its own key prefix.
var (
	etcdOnce     sync.Once
	etcdCluster  *etcdtest.Cluster
	etcdClient   *clientv3.Client
	etcdErr      error
	etcdPrefixes atomic.Int64
	etcdBinDir   = filepath.Join(os.TempDir(), fmt.Sprintf("articles-server-test-%d", os.Getpid()))
)

// openEtcd opens an etcd store under a fresh prefix of the shared cluster,
// closed at cleanup.
func openEtcd(t testing.TB) server.Store {
	t.Helper()
	etcdOnce.Do(func() {
		// A process, not in this test binary: under -race an in-process
		// etcd is instrumented too and runs several times slower.
		var bin string
		if etcdErr = os.MkdirAll(etcdBinDir, 0o755); etcdErr != nil {
			return
		}
		if bin, etcdErr = etcdtest.Binary(etcdBinDir); etcdErr != nil {
			return
		}
		etcdCluster, etcdErr = etcdtest.StartBinary(bin, 1, "")
		if etcdErr == nil {
			etcdClient, etcdErr = etcdCluster.Client()
		}
	})
	if etcdErr != nil {
		t.Fatalf("start etcd: %v", etcdErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := etcdstore.Open(ctx, etcdClient, fmt.Sprintf("/servertest/%d/", etcdPrefixes.Add(1)))
	if err != nil {
		t.Fatalf("etcdstore.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func closeEtcd() {
	defer os.RemoveAll(etcdBinDir)
	if etcdClient != nil {
		etcdClient.Close()
	}
	if etcdCluster != nil {
		etcdCluster.Close()
	}
}

// bboltOnly skips t outside the bbolt pass. why says what the test assumes
// that only the bbolt store gives: on etcd, revisions are the cluster's
// (shared with other prefixes, so a store's revisions have gaps and do not
// start at 1) and deletes in the log carry the article, so filtered
// watchers are sent only matching deletes.
func bboltOnly(t testing.TB, why string) {
	t.Helper()
	if current.name != "bbolt" {
		t.Skipf("bbolt-specific (%s): runs in the bbolt pass only", why)
	}
}

// advancedBy reports whether the store revision moving from before to
// after is what n writes do: exactly n on bbolt, whose revisions are
// dense; at least n on etcd, whose revisions other prefixes share (no
// write at all leaves it unchanged on both, since Revision is the revision
// of the store's own last write).
func advancedBy(before, after int64, n int64) bool {
	if current.name == "bbolt" || n == 0 {
		return after == before+n
	}
	return after >= before+n
}
