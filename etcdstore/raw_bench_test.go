package etcdstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
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

func BenchmarkVsRaw(b *testing.B) {
	ctx := context.Background()
	b.Run("Get", func(b *testing.B) {
		st, ids := seeded(b)
		cli := newClient(b, benchCluster)
		p, v := rawPrefix(), rawValue(b)
		for i := range len(ids) {
			if _, err := cli.Put(ctx, fmt.Sprintf("%s%d", p, i), v); err != nil {
				b.Fatal(err)
			}
		}
		get := func(i int) error {
			_, err := st.Get(ctx, ids[i%len(ids)])
			return err
		}
		rawGet := func(i int) error {
			_, err := cli.Get(ctx, fmt.Sprintf("%s%d", p, i%len(ids)), clientv3.WithSerializable())
			return err
		}
		for _, callers := range []int{1, 50} {
			b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) { vsTimed(b, callers, get, rawGet) })
		}
	})
	b.Run("Create", func(b *testing.B) {
		st := benchStore(b)
		cli := newClient(b, benchCluster)
		p, v := rawPrefix(), rawValue(b)
		var seq atomic.Int64 // slugs and keys are unique across rounds
		for _, callers := range []int{1, 16} {
			b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
				vsTimed(b, callers, func(int) error {
					i := int(seq.Add(1))
					_, err := st.Create(ctx, bigArticle(fmt.Sprintf("c-%d", i), i), "")
					return err
				}, func(int) error {
					_, err := cli.Put(ctx, fmt.Sprintf("%s%d", p, seq.Add(1)), v)
					return err
				})
			})
		}
	})
	b.Run("Stream", func(b *testing.B) {
		st, ids := seeded(b)
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
				start, bytes := time.Now(), 0
				if err := st.List(ctx, articles.Query{}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
					bytes += proto.Size(a)
					return nil
				}); err != nil {
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
		var s, r float64
		for b.Loop() {
			st := benchStore(b)
			batch := make([]*articlesv1.Article, n)
			for i := range batch {
				batch[i] = bigArticle(fmt.Sprintf("i-%d", i), i)
			}
			start := time.Now()
			res, err := st.Import(ctx, batch)
			if err != nil || res.GetCreated() != n {
				b.Fatalf("import: %v, %v", res, err)
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
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
		}
		vsReport(b, "articles/s", s, r)
	})
}
