package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/seed9c1868aa/articles/etcdstore"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// The etcd backend: --store etcd serves the articles kept in an etcd
// cluster (package etcdstore) instead of the --db file, so that several
// articlesd processes serve one replicated set of articles.

// The etcd store is the other backend this command wires in.
var _ server.Store = (*etcdstore.Store)(nil)

// Storage backends --store accepts.
const (
	storeBbolt = "bbolt"
	storeEtcd  = "etcd"
)

// etcdConfig is what the backend and etcd flags set.
type etcdConfig struct {
	store           string
	endpoints       []string
	prefix          string
	cert, key, ca   string
	user, password  string
	dialTimeout     time.Duration
	maxRequestBytes int
	maxTxnOps       int
	cacheBytes      int
}

// addEtcdFlags adds --store and the --etcd-* flags to f.
func addEtcdFlags(f *pflag.FlagSet, c *etcdConfig) {
	f.StringVar(&c.store, "store", storeBbolt, "storage `backend`: bbolt (the --db file) or etcd (--etcd-endpoints; several articlesd may share it)")
	f.StringSliceVar(&c.endpoints, "etcd-endpoints", nil, "etcd client `URLs` or host:port, comma-separated (with --store etcd)")
	f.StringVar(&c.prefix, "etcd-prefix", "/articles/", "etcd key `prefix` under which every key of the store lives")
	f.StringVar(&c.cert, "etcd-cert", "", "client certificate `file` (PEM) for etcd TLS")
	f.StringVar(&c.key, "etcd-key", "", "client key `file` (PEM) for --etcd-cert")
	f.StringVar(&c.ca, "etcd-ca", "", "CA bundle `file` (PEM) that etcd's server certificates are checked against; enables TLS")
	f.StringVar(&c.user, "etcd-user", "", "etcd auth `user name`")
	f.StringVar(&c.password, "etcd-password", "", "etcd auth `password` (prefer the environment variable)")
	f.DurationVar(&c.dialTimeout, "etcd-dial-timeout", 5*time.Second, "how long to wait for etcd at startup")
	f.IntVar(&c.maxRequestBytes, "etcd-max-request-bytes", etcdstore.DefaultMaxRequestBytes, "the cluster's --max-request-bytes: larger articles are refused")
	f.IntVar(&c.maxTxnOps, "etcd-max-txn-ops", etcdstore.DefaultMaxTxnOps, "the cluster's --max-txn-ops: how many operations one grouped write may hold")
	f.IntVar(&c.cacheBytes, "etcd-cache-bytes", etcdstore.DefaultCacheBytes, "`bytes` of articles each server keeps in memory to answer reads (still linearizable); 0 reads every article from etcd")
}

// check validates the backend flags.
func (c etcdConfig) check() error {
	switch c.store {
	case storeBbolt:
		return nil
	case storeEtcd:
	default:
		return usageError{fmt.Errorf("invalid --store %q: want bbolt or etcd", c.store)}
	}
	if len(c.endpoints) == 0 {
		return usageError{errors.New("--store etcd needs --etcd-endpoints")}
	}
	if c.prefix == "" {
		return usageError{errors.New("--etcd-prefix must not be empty")}
	}
	if (c.cert == "") != (c.key == "") {
		return usageError{errors.New("--etcd-cert and --etcd-key go together")}
	}
	if (c.user == "") != (c.password == "") {
		return usageError{errors.New("--etcd-user and --etcd-password go together")}
	}
	if c.maxRequestBytes <= 0 || c.dialTimeout <= 0 {
		return usageError{errors.New("--etcd-max-request-bytes and --etcd-dial-timeout must be positive")}
	}
	if c.cacheBytes < 0 {
		return usageError{fmt.Errorf("--etcd-cache-bytes must not be negative, got %d", c.cacheBytes)}
	}
	if c.maxTxnOps < 16 {
		return usageError{fmt.Errorf("--etcd-max-txn-ops must be at least 16, got %d", c.maxTxnOps)}
	}
	return nil
}

// openEtcdStore connects to the cluster and opens the store. The returned
// close releases both; call it after the server has stopped.
func openEtcdStore(ctx context.Context, c etcdConfig, log *slog.Logger) (*etcdstore.Store, func() error, error) {
	cfg := clientv3.Config{
		Endpoints:   c.endpoints,
		DialTimeout: c.dialTimeout,
		Username:    c.user,
		Password:    c.password,
		Logger:      zap.NewNop(),
	}
	if c.ca != "" || c.cert != "" {
		info := transport.TLSInfo{CertFile: c.cert, KeyFile: c.key, TrustedCAFile: c.ca}
		tlsCfg, err := info.ClientConfig()
		if err != nil {
			return nil, nil, fmt.Errorf("etcd TLS: %w", err)
		}
		cfg.TLS = tlsCfg
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("etcd client: %w", err)
	}
	octx, cancel := context.WithTimeout(ctx, c.dialTimeout)
	defer cancel()
	st, err := etcdstore.Open(octx, cli, c.prefix, etcdstore.WithMaxRequestBytes(c.maxRequestBytes), etcdstore.WithMaxTxnOps(c.maxTxnOps), etcdstore.WithCacheBytes(c.cacheBytes))
	if err != nil {
		cli.Close()
		return nil, nil, fmt.Errorf("opening the etcd store at %s: %w", strings.Join(c.endpoints, ","), err)
	}
	log.Info("etcd store open", "endpoints", strings.Join(c.endpoints, ","), "prefix", c.prefix, "tls", cfg.TLS != nil)
	return st, func() error {
		st.Close()
		return cli.Close()
	}, nil
}

// openStore opens the backend ec.store names: the bbolt file at dbPath
// with storeOpts (returned as db too, for what only bbolt has: stats,
// reindex), or the etcd store (db nil). close releases it; it may be
// called again.
func openStore(ctx context.Context, ec etcdConfig, dbPath string, log *slog.Logger, storeOpts []store.Option) (db *store.DB, st server.Store, close func() error, err error) {
	if ec.store == storeEtcd {
		est, closeEtcd, err := openEtcdStore(ctx, ec, log.With("component", "store"))
		if err != nil {
			return nil, nil, nil, err
		}
		var once sync.Once
		var cerr error
		return nil, est, func() error {
			once.Do(func() { cerr = closeEtcd() })
			return cerr
		}, nil
	}
	db, err = store.Open(dbPath, storeOpts...)
	if err != nil {
		return nil, nil, nil, err
	}
	return db, db, db.Close, nil
}
