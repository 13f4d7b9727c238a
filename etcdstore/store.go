package etcdstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// DefaultMaxRequestBytes is etcd's default limit on the size of one request
// (--max-request-bytes): a write whose transaction would exceed it is
// refused with articles.ErrTooLarge before it is sent.
const DefaultMaxRequestBytes = 1536 * 1024

// DefaultRequestIDTTL is how long a request id is remembered.
const DefaultRequestIDTTL = 24 * time.Hour

// DefaultMaxTxnOps is etcd's default limit on the operations of one
// transaction (--max-txn-ops): group creates hold at most this many, and
// reads of many keys are split into transactions of at most this many.
const DefaultMaxTxnOps = 128

// writeRetries bounds how often a write whose compares failed because
// another writer got there first is read and tried again.
const writeRetries = 8

// Option configures a Store.
type Option interface{ apply(*config) }

type config struct {
	maxRequestBytes int
	maxTxnOps       int
	requestIDTTL    time.Duration
	cacheBytes      int
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxRequestBytes sets the largest transaction a write may send; set it
// to the cluster's --max-request-bytes when that is not the default.
func WithMaxRequestBytes(n int) Option {
	return optionFunc(func(c *config) { c.maxRequestBytes = n })
}

// WithMaxTxnOps sets how many operations one transaction may hold; set it
// to the cluster's --max-txn-ops when that is not the default (128).
func WithMaxTxnOps(n int) Option {
	return optionFunc(func(c *config) { c.maxTxnOps = max(n, 16) })
}

// WithRequestIDTTL sets how long request ids are remembered (at least a
// minute; default DefaultRequestIDTTL).
func WithRequestIDTTL(d time.Duration) Option {
	return optionFunc(func(c *config) { c.requestIDTTL = max(d, time.Minute) })
}

// Store is an articles store on an etcd cluster. It implements
// server.Store. Its methods are safe for concurrent use.
type Store struct {
	cli    *clientv3.Client
	prefix string
	cfg    config
	key    []byte // token key, read or made at Open

	ids *articles.IDSource // makes article ids

	// leaseMu protects lease and leaseTime: the lease request ids are put
	// under, replaced once it is older than a twentieth of the TTL so that
	// every request id lives between 95% and 100% of the TTL.
	leaseMu   sync.Mutex
	lease     clientv3.LeaseID
	leaseTime time.Time

	// slugs guesses the article of a slug for GetBySlug (read.go).
	slugs slugCache

	// group queues creates to commit together (batch.go).
	group group

	// view is what this server's watch has delivered (follow.go).
	view *localView

	// cache holds articles the view has delivered or reads have read, nil
	// when turned off; fence orders reads from it after every write
	// acknowledged before them (cache.go).
	cache *articleCache
	fence fence

	// index holds the list indexes, derived from the view (listindex.go).
	index *listIndex

	// Tests end the watch (watchCancel) and act before it is opened again
	// (beforeWatch): export_test.go.
	watchCancel atomic.Pointer[context.CancelFunc]
	beforeWatch atomic.Pointer[func()]

	closeOnce sync.Once
	quit      chan struct{}
	done      chan struct{} // closed when the follower has returned
}

// Open returns a Store keeping its keys under prefix in the cluster cli is
// connected to. It reads (or, for the first server on this prefix, creates)
// the token key, reads every article once to build its list indexes and
// starts following the cluster's changes. cli stays the caller's: Close
// does not close it.
func Open(ctx context.Context, cli *clientv3.Client, prefix string, opts ...Option) (*Store, error) {
	if cli == nil {
		return nil, errors.New("etcdstore: nil client")
	}
	if prefix == "" || strings.ContainsRune(prefix, 0) {
		return nil, errors.New("etcdstore: prefix must be non-empty and free of NUL bytes")
	}
	cfg := config{maxRequestBytes: DefaultMaxRequestBytes, maxTxnOps: DefaultMaxTxnOps, requestIDTTL: DefaultRequestIDTTL, cacheBytes: DefaultCacheBytes}
	for _, o := range opts {
		o.apply(&cfg)
	}
	s := &Store{
		cli:    cli,
		prefix: prefix,
		cfg:    cfg,
		ids:    articles.NewIDSource(),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	key, err := s.loadTokenKey(ctx)
	if err != nil {
		return nil, err
	}
	s.key = key
	s.view = newLocalView()
	s.cache = newArticleCache(cfg.cacheBytes)
	s.fence.read = s.revisionAt
	s.index = newListIndex()
	if err := s.dropOldIndexes(ctx); err != nil {
		return nil, err
	}
	rev, err := s.startView(ctx)
	if err != nil {
		return nil, err
	}
	go s.follow(rev)
	return s, nil
}

// dropOldIndexes deletes the keys under P o/ and P f/ (keys.go), in one
// transaction: a prefix that held list indexes in etcd sheds them.
func (s *Store) dropOldIndexes(ctx context.Context) error {
	_, err := s.cli.Txn(ctx).Then(
		clientv3.OpDelete(s.prefix+oldOrderPart, clientv3.WithPrefix()),
		clientv3.OpDelete(s.prefix+oldFilterPart, clientv3.WithPrefix()),
	).Commit()
	return etcdErr(ctx, "drop old index keys", err)
}

// Close stops following the cluster. Every method afterwards returns
// articles.ErrClosed. It does not close the etcd client.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.quit) })
	<-s.done
	return nil
}

// check returns articles.ErrClosed once the store is closed, and ctx's
// error once it is done.
func (s *Store) check(ctx context.Context) error {
	select {
	case <-s.quit:
		return articles.ErrClosed
	default:
	}
	return ctx.Err()
}

// etcdErr turns an error of the etcd client into the store's: a done
// context's own error as it is, anything else wrapped (an internal
// failure, whose text reaches only the server log).
func etcdErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("etcdstore: %s: %w", op, err)
}

// loadTokenKey reads the token key, creating it when this is the first
// server on the prefix; racing servers agree, since only the first create
// (create_revision == 0) succeeds and the others read its value.
func (s *Store) loadTokenKey(ctx context.Context) ([]byte, error) {
	k := s.prefix + tokenKeyPart
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("etcdstore: make token key: %w", err)
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(fresh))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return nil, etcdErr(ctx, "token key", err)
	}
	if resp.Succeeded {
		return fresh, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) != 1 || len(kvs[0].Value) < 32 {
		return nil, errors.New("etcdstore: corrupt token key")
	}
	return kvs[0].Value, nil
}

// TokenKey returns the secret every server on this prefix signs page tokens
// with.
func (s *Store) TokenKey(ctx context.Context) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return append([]byte(nil), s.key...), nil
}

// Revision returns the revision of the last write under the prefix (0 if
// none), read from the cluster (linearizable).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	rev, _, err := s.revisionAt(ctx)
	return rev, err
}

// revisionAt is Revision, with the etcd revision it was read at.
func (s *Store) revisionAt(ctx context.Context) (rev, at int64, err error) {
	if err := s.check(ctx); err != nil {
		return 0, 0, err
	}
	resp, err := s.cli.Get(ctx, s.prefix+revisionPart)
	if err != nil {
		return 0, 0, etcdErr(ctx, "revision", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, resp.Header.Revision, nil
	}
	rev, err = markerRevision(resp.Kvs[0].ModRevision, resp.Kvs[0].Value)
	return rev, resp.Header.Revision, err
}

// WaitRevision blocks until this server's local view (follow.go) has
// reached rev, ctx is done (returning ctx.Err()) or
// the store is closed (articles.ErrClosed).
func (s *Store) WaitRevision(ctx context.Context, rev int64) error {
	for {
		if err := s.check(ctx); err != nil {
			return err
		}
		cur, ch := s.view.revision()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			return articles.ErrClosed
		}
	}
}

// newID returns a new article id made at t.
func (s *Store) newID(t time.Time) (string, error) {
	return s.ids.Next(t)
}

// etagOf returns the etag of an article written at store revision rev.
func etagOf(rev int64) string { return articles.Etag(rev) }

// Store revisions. One etcd transaction may write several articles (an
// import's, or concurrent creates'), each of which takes its own store
// revision: etcd's revision of the transaction shifted left by slotBits,
// plus the article's slot in the transaction. Slots count from 0, so an
// article written alone has etcd's revision times maxSlots, and store
// revisions order exactly as the writes do.
const (
	slotBits = 10
	maxSlots = 1 << slotBits
)

// storeRevision returns the store revision of slot in the transaction of
// etcd revision rev.
func storeRevision(rev, slot int64) int64 { return rev<<slotBits | slot }

// etcdRevision returns the etcd revision of the transaction that wrote
// store revision rev.
func etcdRevision(rev int64) int64 { return rev >> slotBits }

// markerRevision returns the store revision of the revision marker (put
// with the last slot of its transaction as its value).
func markerRevision(mod int64, v []byte) (int64, error) {
	if len(v) == 0 {
		return storeRevision(mod, 0), nil
	}
	slot, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || slot < 0 || slot >= maxSlots {
		return 0, fmt.Errorf("etcdstore: corrupt revision marker %q", v)
	}
	return storeRevision(mod, slot), nil
}

// marshalOpts makes encodings stable (labels are a map), so equal articles
// have equal bytes.
var marshalOpts = proto.MarshalOptions{Deterministic: true}

// encodeArticle returns the stored form of a, written in slot of its
// transaction: its revision field holds the slot, and a read adds the
// key's mod revision; the etag is left out (it follows from the revision).
func encodeArticle(a *articlesv1.Article, slot int64) ([]byte, error) {
	c := proto.Clone(a).(*articlesv1.Article)
	c.Revision, c.Etag = 0, ""
	v, err := marshalOpts.Marshal(c)
	if err != nil {
		return nil, err
	}
	return withSlot(v, slot), nil
}

// revisionField is the field number of Article.revision.
var revisionField = (&articlesv1.Article{}).ProtoReflect().Descriptor().Fields().ByName("revision").Number()

// withSlot returns v, the encoding of an article without a revision, with
// its revision field set to slot (a field appended to a message overrides
// none before it, since v has none). v is not modified.
func withSlot(v []byte, slot int64) []byte {
	if slot == 0 {
		return v
	}
	out := make([]byte, len(v), len(v)+12)
	copy(out, v)
	out = protowire.AppendTag(out, revisionField, protowire.VarintType)
	return protowire.AppendVarint(out, uint64(slot))
}

// decodeArticle reads a stored article whose key has mod revision modRev.
func decodeArticle(v []byte, modRev int64) (*articlesv1.Article, error) {
	a := new(articlesv1.Article)
	if err := proto.Unmarshal(v, a); err != nil {
		return nil, fmt.Errorf("etcdstore: corrupt article: %w", err)
	}
	if a.Revision < 0 || a.Revision >= maxSlots {
		return nil, fmt.Errorf("etcdstore: corrupt article: slot %d", a.Revision)
	}
	a.Revision = storeRevision(modRev, a.Revision)
	a.Etag = etagOf(a.Revision)
	return a, nil
}

// now is the time stamped on writes.
func now() *timestamppb.Timestamp { return timestamppb.Now() }

// Prefix returns the key prefix the store keeps its keys under.
func (s *Store) Prefix() string { return s.prefix }
