// Package etcdtest runs real etcd servers in process, on loopback, for
// tests: a single member or a cluster of several, with data in temporary
// directories, quiet logs and no fsync (test data need not survive a power
// cut, and fsync dominates etcd's latency on a shared CI disk).
//
// # Basics
//
// Start starts a cluster in this process; StartBinary starts one whose
// members are processes of an etcd binary (Binary builds one from this
// repository's etcd module, or names $ETCD_BIN). Both wait until every
// member serves. Client returns a
// client for all its members. Stop and Restart stop and start one member,
// keeping its data, for failure tests. Close stops them all.
//
// # Caveats
//
// Ports are found by listening on 127.0.0.1:0 and closing the listener
// before etcd binds them: another process could take one in between, which
// makes Start fail (rarely) rather than hang. An embedded etcd takes a
// second or more to start under -race: share one per test binary where
// tests can use distinct key prefixes.
package etcdtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// startTimeout bounds how long Start and Restart wait for members.
const startTimeout = 60 * time.Second

// Cluster is a running etcd cluster.
type Cluster struct {
	// mu protects members' etcd fields.
	mu      sync.Mutex
	members []*member
	dir     string
	owned   bool // dir was made by Start and is removed by Close
}

type member struct {
	cfg  *embed.Config
	etcd *embed.Etcd // in-process member; nil while stopped
	url  string      // client URL
	// For a member run as a process (StartBinary): the binary and its
	// process, nil while stopped.
	bin  string
	proc *exec.Cmd
	exit chan struct{} // closed when proc has been waited for
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts an n-member cluster in this process with its data under
// dir (a new temporary directory, removed by Close, when dir is empty) and
// waits until every member is ready.
func Start(n int, dir string, opts ...Option) (*Cluster, error) { return start("", n, dir, opts) }

// Option changes how Start and StartBinary run members.
type Option func(*options)

type options struct{ fsync bool }

// WithFsync makes members fsync as a production etcd does (by default
// they run with --unsafe-no-fsync), for benchmarks whose figures must
// compare with a store that fsyncs every commit.
func WithFsync() Option { return func(o *options) { o.fsync = true } }

// StartBinary is Start with each member a process of the etcd binary bin
// (see Binary). Such members cost the test binary nothing under -race and
// die like real ones when stopped.
func StartBinary(bin string, n int, dir string, opts ...Option) (*Cluster, error) {
	if bin == "" {
		return nil, errors.New("etcdtest: no etcd binary")
	}
	return start(bin, n, dir, opts)
}

// Binary returns the path of an etcd binary: $ETCD_BIN when set, else
// the server of this repository's etcd module (./etcd, a main package),
// built into dir with the go command of $PATH. Building takes seconds
// when the build cache is warm.
func Binary(dir string) (string, error) {
	if bin := os.Getenv("ETCD_BIN"); bin != "" {
		return bin, nil
	}
	out := filepath.Join(dir, "etcd")
	cmd := exec.Command("go", "build", "-o", out, "github.com/seed9c1868aa/articles/etcdstore/etcdtest/etcd")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("etcdtest: build etcd: %v: %s", err, b)
	}
	return out, nil
}

// startAttempts is how often start tries with fresh ports: a port found
// free may be taken before etcd binds it.
const startAttempts = 3

// clusters numbers the clusters of this process, for unique cluster
// tokens: a member must never join another test's cluster through a
// reused port.
var clusters atomic.Int64

func start(bin string, n int, dir string, opts []Option) (*Cluster, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if n < 1 {
		return nil, errors.New("etcdtest: need at least one member")
	}
	var err error
	for attempt := range startAttempts {
		var c *Cluster
		if c, err = startAttempt(bin, n, dir, o, attempt); err == nil {
			return c, nil
		}
	}
	return nil, err
}

func startAttempt(bin string, n int, dir string, o options, attempt int) (*Cluster, error) {
	if dir != "" {
		dir = filepath.Join(dir, fmt.Sprintf("try%d", attempt))
	}
	c := &Cluster{dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "etcdtest")
		if err != nil {
			return nil, err
		}
		c.dir, c.owned = d, true
	}
	token := fmt.Sprintf("etcdtest-%d-%d", os.Getpid(), clusters.Add(1))
	var initial []string
	for i := range n {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = filepath.Join(c.dir, cfg.Name)
		cp, err := freePort()
		if err != nil {
			return nil, err
		}
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		curl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", cp)}
		purl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", pp)}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{curl}, []url.URL{curl}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{purl}, []url.URL{purl}
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.LogLevel = "error"
		cfg.UnsafeNoFsync = !o.fsync
		cfg.InitialClusterToken = token
		// Short election timings: tests stop members and wait for a new
		// leader.
		cfg.TickMs = 50
		cfg.ElectionMs = 500
		initial = append(initial, fmt.Sprintf("%s=%s", cfg.Name, purl.String()))
		c.members = append(c.members, &member{cfg: cfg, url: curl.String(), bin: bin})
	}
	for _, m := range c.members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
	}
	for _, m := range c.members {
		if err := m.start(); err != nil {
			c.Close()
			return nil, fmt.Errorf("etcdtest: start %s: %w", m.cfg.Name, err)
		}
	}
	for _, m := range c.members {
		if err := m.waitReady(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// start starts m, in process or as a process.
func (m *member) start() error {
	if m.bin == "" {
		e, err := embed.StartEtcd(m.cfg)
		if err != nil {
			return err
		}
		m.etcd = e
		return nil
	}
	cfg := m.cfg
	cmd := exec.Command(m.bin,
		"--name", cfg.Name,
		"--data-dir", cfg.Dir,
		"--listen-client-urls", cfg.ListenClientUrls[0].String(),
		"--advertise-client-urls", cfg.AdvertiseClientUrls[0].String(),
		"--listen-peer-urls", cfg.ListenPeerUrls[0].String(),
		"--initial-advertise-peer-urls", cfg.AdvertisePeerUrls[0].String(),
		"--initial-cluster", cfg.InitialCluster,
		"--initial-cluster-state", cmp.Or(cfg.ClusterState, embed.ClusterStateFlagNew),
		"--initial-cluster-token", cfg.InitialClusterToken,
		"--heartbeat-interval", fmt.Sprint(cfg.TickMs),
		"--election-timeout", fmt.Sprint(cfg.ElectionMs),
		fmt.Sprintf("--unsafe-no-fsync=%t", cfg.UnsafeNoFsync),
		"--log-level", "error",
	)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	m.proc = cmd
	m.exit = make(chan struct{})
	go func() {
		cmd.Wait()
		close(m.exit)
	}()
	return nil
}

// waitReady waits until m serves requests.
func (m *member) waitReady() error {
	if m.etcd != nil {
		return waitReady(m.etcd)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{m.url},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "health")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-m.exit:
			return fmt.Errorf("etcdtest: member %s exited", m.cfg.Name)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcdtest: member %s not ready in time: %w", m.cfg.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops m: an in-process member closes; a process is killed (as a
// crash would) and waited for.
func (m *member) stop() {
	if m.etcd != nil {
		m.etcd.Close()
		m.etcd = nil
	}
	if m.proc != nil {
		m.proc.Process.Kill()
		<-m.exit
		m.proc = nil
	}
}

func waitReady(e *embed.Etcd) error {
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("etcdtest: member failed: %w", err)
	case <-time.After(startTimeout):
		e.Server.Stop()
		return errors.New("etcdtest: member not ready in time")
	}
}

// Endpoints returns the client URLs of every member, stopped ones too.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.url)
	}
	return eps
}

// Client returns a new client for every member of c; the caller closes it.
func (c *Cluster) Client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints(),
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
	})
}

// Stop stops member i, keeping its data. A member run as a process is
// killed, as in a crash.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members[i].stop()
}

// Restart starts stopped member i again on its data and waits until it has
// rejoined.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	if m.etcd != nil || m.proc != nil {
		return nil
	}
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
	if err := m.start(); err != nil {
		return fmt.Errorf("etcdtest: restart %s: %w", m.cfg.Name, err)
	}
	if err := m.waitReady(); err != nil {
		m.stop()
		return err
	}
	return nil
}

// MemberRevision returns the revision member i has applied, read from that
// member alone (serializable), to check that a restarted member caught up.
func (c *Cluster) MemberRevision(ctx context.Context, i int) (int64, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{c.members[i].url},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "\x00", clientv3.WithSerializable(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// Leader returns the index of the member that leads the cluster.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	cli, err := c.Client()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	var lastErr error
	for i, m := range c.members {
		st, err := cli.Status(ctx, m.url)
		if err != nil {
			lastErr = err
			continue
		}
		if st.Leader == st.Header.MemberId {
			return i, nil
		}
	}
	return 0, fmt.Errorf("etcdtest: no leader found: %v", lastErr)
}

// Close stops every member and removes the data directory Start made.
func (c *Cluster) Close() {
	for i := range c.members {
		c.Stop(i)
	}
	if c.owned {
		os.RemoveAll(c.dir)
	}
}
