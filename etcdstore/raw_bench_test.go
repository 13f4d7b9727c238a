package etcdstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/client"
	"github.com/seed9c1868aa/articles/etcdstore"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// BenchmarkVsRaw runs each workload of the store beside the same workload
// of raw etcd on the same member, alternating them in rounds so that both
// see the same machine, and reports both rates and their ratio
// (store/raw). Raw etcd moves 5 KB values: serializable Gets, Puts, a
// paged Range of 1,000 keys, Txns of 100 Puts.

// vsRounds is how many times each side runs, alternately; vsSlice is how
// long one run of a timed workload lasts.
const (
	vsRounds = 3
	vsSlice  = 700 * time.Millisecond
)

// vsReport reports the rates of the two sides, in units per second.
func vsReport(b *testing.B, unit string, store, raw float64) {
	b.ReportMetric(store, "store-"+unit)
	b.ReportMetric(raw, "raw-"+unit)
	b.ReportMetric(store/raw, "ratio")
}

// timed runs op from callers goroutines for vsSlice and returns the rate
// of successful ops per second.
func timed(b *testing.B, callers int, op func(i int) error) float64 {
	b.Helper()
	var n atomic.Int64
	var failed atomic.Value
	deadline := time.Now().Add(vsSlice)
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := op(int(n.Add(1))); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return float64(n.Load()) / time.Since(start).Seconds()
}

// vsTimed alternates the store's and raw etcd's op, vsRounds times each,
// and reports their rates.
func vsTimed(b *testing.B, callers int, store, raw func(i int) error) {
	var s, r float64
	for b.Loop() {
		s, r = 0, 0
		for range vsRounds {
			s += timed(b, callers, store)
			r += timed(b, callers, raw)
		}
	}
	vsReport(b, "ops/s", s/vsRounds, r/vsRounds)
}

// rawPrefix returns a fresh key prefix for raw etcd's keys.
func rawPrefix() string { return "/raw" + freshPrefix() }

// rawValue is a 5 KB value, the size of a bigArticle.
func rawValue(b *testing.B) string {
	v, err := proto.Marshal(bigArticle("raw", 1))
	if err != nil {
		b.Fatal(err)
	}
	return string(v)
}

// side is the store's half of the comparison: called in process (via
// "store") or through a server.Server and the client package over
// loopback gRPC (via "server", as articlesd serves it).
type side struct {
	get func(ctx context.Context, id string) error
	// getAtLeast is get with a revision floor (read-your-writes).
	getAtLeast func(ctx context.Context, id string, floor int64) error
	create     func(ctx context.Context, a *articlesv1.Article) error
	stream     func(ctx context.Context) (bytes int, err error)
	imp        func(ctx context.Context, batch []*articlesv1.Article) (created int64, err error)
}

func storeSide(st *etcdstore.Store) side {
	return side{
		get: func(ctx context.Context, id string) error { _, err := st.Get(ctx, id); return err },
		getAtLeast: func(ctx context.Context, id string, floor int64) error {
			if err := st.WaitRevision(ctx, floor); err != nil {
				return err
			}
			_, err := st.GetLocal(ctx, id)
			return err
		},
		create: func(ctx context.Context, a *articlesv1.Article) error {
			_, err := st.Create(ctx, a, "")
			return err
		},
		stream: func(ctx context.Context) (int, error) {
			n := 0
			err := st.List(ctx, articles.Query{}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
				n += proto.Size(a)
				return nil
			})
			return n, err
		},
		imp: func(ctx context.Context, batch []*articlesv1.Article) (int64, error) {
			res, err := st.Import(ctx, batch)
			if err != nil {
				return 0, err
			}
			return int64(res.Created), nil
		},
	}
}

func serverSide(b *testing.B, st *etcdstore.Store) side {
	c, err := client.New(context.Background(), serveBench(b, st))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return side{
		get: func(ctx context.Context, id string) error { _, err := c.Get(ctx, id); return err },
		getAtLeast: func(ctx context.Context, id string, floor int64) error {
			_, err := c.Get(ctx, id, client.MinRevision(floor))
			return err
		},
		create: func(ctx context.Context, a *articlesv1.Article) error {
			_, err := c.Create(ctx, a, "")
			return err
		},
		stream: func(ctx context.Context) (int, error) {
			n := 0
			for a, err := range c.Stream(ctx, &articlesv1.StreamArticlesRequest{View: articlesv1.ArticleView_ARTICLE_VIEW_FULL}) {
				if err != nil {
					return 0, err
				}
				n += proto.Size(a)
			}
			return n, nil
		},
		imp: func(ctx context.Context, batch []*articlesv1.Article) (int64, error) {
			res, err := c.Import(ctx, slices.Values(batch))
			return int64(res.GetCreated()), err
		},
	}
}

// sideOf returns the side via names for st.
func sideOf(b *testing.B, via string, st *etcdstore.Store) side {
	if via == "server" {
		return serverSide(b, st)
	}
	return storeSide(st)
}

func BenchmarkVsRaw(b *testing.B) {
	for _, via := range []string{"store", "server"} {
		b.Run("via="+via, func(b *testing.B) { benchVsRaw(b, via) })
	}
}

func benchVsRaw(b *testing.B, via string) {
	ctx := context.Background()
	b.Run("Get", func(b *testing.B) {
		st, ids := seeded(b)
		sd := sideOf(b, via, st)
		cli := newClient(b, benchCluster)
		p, v := rawPrefix(), rawValue(b)
		for i := range len(ids) {
			if _, err := cli.Put(ctx, fmt.Sprintf("%s%d", p, i), v); err != nil {
				b.Fatal(err)
			}
		}
		get := func(i int) error { return sd.get(ctx, ids[i%len(ids)]) }
		rawGet := func(i int) error {
			_, err := cli.Get(ctx, fmt.Sprintf("%s%d", p, i%len(ids)), clientv3.WithSerializable())
			return err
		}
		for _, callers := range []int{1, 50} {
			b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) { vsTimed(b, callers, get, rawGet) })
		}
		// Read-your-writes: a floor at the seeding's last write instead
		// of a linearizable read, the guarantee raw etcd's serializable
		// Get gives a client of one member.
		floor, err := st.Revision(ctx)
		if err != nil {
			b.Fatal(err)
		}
		getAtLeast := func(i int) error { return sd.getAtLeast(ctx, ids[i%len(ids)], floor) }
		for _, callers := range []int{1, 50} {
			b.Run(fmt.Sprintf("min_revision/callers=%d", callers), func(b *testing.B) { vsTimed(b, callers, getAtLeast, rawGet) })
		}
	})
	b.Run("Create", func(b *testing.B) {
		sd := sideOf(b, via, benchStore(b))
		cli := newClient(b, benchCluster)
		p, v := rawPrefix(), rawValue(b)
		var seq atomic.Int64 // slugs and keys are unique across rounds
		for _, callers := range []int{1, 16} {
			b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
				vsTimed(b, callers, func(int) error {
					i := int(seq.Add(1))
					return sd.create(ctx, bigArticle(fmt.Sprintf("c-%d", i), i))
				}, func(int) error {
					_, err := cli.Put(ctx, fmt.Sprintf("%s%d", p, seq.Add(1)), v)
					return err
				})
			})
		}
	})
	if via == "store" {
		// Updates of articles the read cache holds (the seeding's,
		// through this store), against raw Puts of the same keys.
		b.Run("Update", func(b *testing.B) {
			st, ids := seeded(b)
			cli := newClient(b, benchCluster)
			p, v := rawPrefix(), rawValue(b)
			var seq atomic.Int64
			vsTimed(b, 1, func(i int) error {
				n := seq.Add(1)
				_, err := st.Update(ctx, ids[i%len(ids)], "", func(a *articlesv1.Article) error {
					a.Title = fmt.Sprintf("Updated %d", n)
					return nil
				})
				return err
			}, func(i int) error {
				_, err := cli.Put(ctx, fmt.Sprintf("%s%d", p, i%len(ids)), v)
				return err
			})
		})
	}
	b.Run("Stream", func(b *testing.B) {
		st, ids := seeded(b)
		sd := sideOf(b, via, st)
		cli := newClient(b, benchCluster)
		p, v := rawPrefix(), rawValue(b)
		for i := range len(ids) {
			if _, err := cli.Put(ctx, fmt.Sprintf("%s%04d", p, i), v); err != nil {
				b.Fatal(err)
			}
		}
		var s, r float64
		for b.Loop() {
			s, r = 0, 0
			for range vsRounds {
				start := time.Now()
				bytes, err := sd.stream(ctx)
				if err != nil {
					b.Fatal(err)
				}
				s += float64(bytes) / time.Since(start).Seconds() / 1e6

				start, bytes = time.Now(), 0
				key, end := p, clientv3.GetPrefixRangeEnd(p)
				for {
					resp, err := cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(1000))
					if err != nil {
						b.Fatal(err)
					}
					for _, kv := range resp.Kvs {
						bytes += len(kv.Value)
					}
					if !resp.More {
						break
					}
					key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
				}
				r += float64(bytes) / time.Since(start).Seconds() / 1e6
			}
		}
		vsReport(b, "MB/s", s/vsRounds, r/vsRounds)
	})
	b.Run("Import", func(b *testing.B) {
		const n = 10000
		benchStore(b) // starts the cluster
		cli := newClient(b, benchCluster)
		v := rawValue(b)
		var s, r, shaped float64
		for b.Loop() {
			st := benchStore(b)
			sd := sideOf(b, via, st)
			batch := make([]*articlesv1.Article, n)
			for i := range batch {
				batch[i] = bigArticle(fmt.Sprintf("i-%d", i), i)
			}
			start := time.Now()
			created, err := sd.imp(ctx, batch)
			if err != nil || created != n {
				b.Fatalf("import: %d created, %v", created, err)
			}
			s = n / time.Since(start).Seconds()

			p := rawPrefix()
			start = time.Now()
			for i := 0; i < n; i += 100 {
				ops := make([]clientv3.Op, 0, 100)
				for j := i; j < i+100; j++ {
					ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%d", p, j), v))
				}
				if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
					b.Fatal(err)
				}
			}
			r = n / time.Since(start).Seconds()

			// Raw etcd with the store's shape: each article a 5 KB
			// value and nine small keys (slug claim, five order keys,
			// author, tag, the marker's share), ten articles a Txn.
			p = rawPrefix()
			start = time.Now()
			for i := 0; i < n; i += 10 {
				ops := make([]clientv3.Op, 0, 100)
				for j := i; j < i+10; j++ {
					ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%d", p, j), v))
					for k := range 9 {
						ops = append(ops, clientv3.OpPut(fmt.Sprintf("%sx/%d/%d", p, k, j), "01M947EABM142GDEXK82DV0KF8"))
					}
				}
				if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
					b.Fatal(err)
				}
			}
			shaped = n / time.Since(start).Seconds()
		}
		vsReport(b, "articles/s", s, r)
		b.ReportMetric(shaped, "raw-shaped-articles/s")
		b.ReportMetric(s/shaped, "ratio-shaped")
	})
}
