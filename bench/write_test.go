package bench_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/etcdstore/etcdtest"
	"github.com/seed9c1868aa/articles/internal/corpus"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
)

// The write benchmarks of issue 11: articlesd (real server, bbolt file,
// full-text engine, loopback gRPC) beside a raw etcd member (embedded, with
// fsync, plain Puts over gRPC with one client per caller, Txns of 100 Puts
// for a load) and bbolt alone (one Put per Update), all started by the same
// benchmark and alternated in rounds so that each sees the same machine.
// Every write on every side is durable when acknowledged.

// writeRounds is how many times each side runs a timed workload,
// alternately; writeSlice is how long one run lasts.
const (
	writeRounds = 3
	writeSlice  = time.Second
)

var fileSizeDocs = flag.Int("filesize.docs", 100_000, "articles BenchmarkFileSize imports")

// zipfCorpus returns n articles of about 5 KB of Zipf-distributed words
// from a 50,000-word vocabulary (some 400 distinct words per article, as in
// real text), with slugs prefix-i. Every article holds the word "zyzzyva"
// last.
func zipfCorpus(prefix string, n int) []*articlesv1.Article {
	r := rand.New(rand.NewPCG(7, 7))
	zipf := rand.NewZipf(r, 1.1, 1, 50000)
	arts := make([]*articlesv1.Article, n)
	for i := range arts {
		var b strings.Builder
		for b.Len() < 5000 {
			b.WriteString(corpus.Word(zipf.Uint64()))
			b.WriteByte(' ')
			if r.IntN(100) == 0 {
				b.WriteString(".\n\n")
			}
		}
		b.WriteString("zyzzyva")
		arts[i] = &articlesv1.Article{
			Slug:        fmt.Sprintf("%s-%d", prefix, i),
			Title:       corpus.Word(zipf.Uint64()) + " " + corpus.Word(zipf.Uint64()),
			Body:        b.String(),
			Authors:     []string{fmt.Sprintf("Author %d", i%17)},
			Source:      "BENCH",
			Tags:        []string{"bench", fmt.Sprintf("t%d", i%5)},
			PublishTime: timestamppb.New(time.Unix(int64(i)*3600, 0)),
		}
	}
	return arts
}

// value5K is the value raw etcd and bbolt write: an article's size.
var value5K = []byte(zipfCorpus("v", 1)[0].GetBody())

// rate runs op from callers goroutines (op gets its caller's number) for
// writeSlice and returns successful ops per second.
func rate(b *testing.B, callers int, op func(caller, i int) error) float64 {
	r, _ := rateCPU(b, callers, op, nil)
	return r
}

// rateCPU is rate that also returns the process's CPU time per op, counted
// until settled (if not nil) returns: background work an op leaves
// behind (the articlesd side's indexing) is part of its cost.
func rateCPU(b *testing.B, callers int, op func(caller, i int) error, settled func()) (float64, time.Duration) {
	b.Helper()
	var n atomic.Int64
	var failed atomic.Value
	deadline := time.Now().Add(writeSlice)
	var wg sync.WaitGroup
	start, cpu := time.Now(), processCPU()
	for c := range callers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(c, int(n.Add(1))); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	r := float64(n.Load()) / time.Since(start).Seconds()
	if settled != nil {
		settled()
	}
	return r, (processCPU() - cpu) / time.Duration(max(n.Load(), 1))
}

// rawEtcd starts a one-member etcd that fsyncs, and returns n clients.
func rawEtcd(b *testing.B, n int) []*clientv3.Client {
	b.Helper()
	c, err := etcdtest.Start(1, b.TempDir(), etcdtest.WithFsync())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	clients := make([]*clientv3.Client, n)
	for i := range clients {
		if clients[i], err = c.Client(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { clients[i].Close() })
	}
	return clients
}

// rawBolt opens a bbolt file for one Put per Update.
func rawBolt(b *testing.B) *bbolt.DB {
	b.Helper()
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, InitialMmapSize: store.DefaultInitialMmapSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("kv")); return err }); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkWriteVsBaselines measures CreateArticle with 1 and 16 callers
// against raw etcd Puts and bbolt Updates, alternating the three sides in
// rounds, and reports each rate and the ratios to etcd and bbolt, and the
// process's CPU time per create and per etcd Put (clients included) and
// their ratio.
func BenchmarkWriteVsBaselines(b *testing.B) {
	for _, callers := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			_, srv := startReal(b)
			rpcs := dialN(b, srv, callers)
			etcds := rawEtcd(b, callers)
			bolt := rawBolt(b)
			arts := zipfCorpus("c", 64)
			ctx := context.Background()
			var round atomic.Int64
			create := func(c, i int) error {
				a := proto.Clone(arts[i%len(arts)]).(*articlesv1.Article)
				a.Slug = fmt.Sprintf("c%d-%d", round.Load(), i)
				_, err := rpcs[c].CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: a})
				return err
			}
			put := func(c, i int) error {
				_, err := etcds[c].Put(ctx, fmt.Sprintf("/raw/%d-%d", round.Load(), i), string(value5K))
				return err
			}
			update := func(c, i int) error {
				return bolt.Update(func(tx *bbolt.Tx) error {
					return tx.Bucket([]byte("kv")).Put(fmt.Appendf(nil, "%d-%d", round.Load(), i), value5K)
				})
			}
			// The process's CPU per op, clients included; the articlesd
			// side's counts until a search has waited for the indexer.
			settled := func() { settle(b, rpcs[0]) }
			var s, e, o float64
			var sCPU, eCPU time.Duration
			for b.Loop() {
				s, e, o, sCPU, eCPU = 0, 0, 0, 0, 0
				for range writeRounds {
					round.Add(1)
					r, c := rateCPU(b, callers, create, settled)
					s, sCPU = s+r, sCPU+c
					r, c = rateCPU(b, callers, put, nil)
					e, eCPU = e+r, eCPU+c
					o += rate(b, callers, update)
				}
			}
			s, e, o = s/writeRounds, e/writeRounds, o/writeRounds
			if eCPU > 0 {
				b.ReportMetric(float64(sCPU.Microseconds())/writeRounds, "articlesd-cpu-us/create")
				b.ReportMetric(float64(eCPU.Microseconds())/writeRounds, "etcd-cpu-us/put")
				b.ReportMetric(float64(sCPU)/float64(eCPU), "cpu-x-etcd")
			}
			b.ReportMetric(s, "articlesd-creates/s")
			b.ReportMetric(e, "etcd-puts/s")
			b.ReportMetric(o, "bbolt-updates/s")
			b.ReportMetric(s/e, "x-etcd")
			b.ReportMetric(s/o, "x-bbolt")
		})
	}
}

// BenchmarkImportVsEtcd imports 10,000 Zipf articles of about 5 KB
// through one ImportArticles stream, and measures when the reply arrives
// (acknowledged: durable) and when a search sees all of them (searchable:
// the engine has caught up), against raw etcd loading the same 10,000
// values in sequential Txns of 100 Puts.
func BenchmarkImportVsEtcd(b *testing.B) {
	const n, txn = 10_000, 100
	rpc, _ := startReal(b)
	etcd := rawEtcd(b, 1)[0]
	ctx := context.Background()
	var ack, searchable, raw time.Duration
	round := 0
	for b.Loop() {
		round++
		arts := zipfCorpus(fmt.Sprintf("r%d", round), n)

		start := time.Now()
		stream, err := rpc.ImportArticles(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range arts {
			if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
				b.Fatal(err)
			}
		}
		res, err := stream.CloseAndRecv()
		if err != nil || res.GetCreated() != n {
			b.Fatalf("import: %v, %v", res, err)
		}
		ack += time.Since(start)
		resp, err := rpc.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "zyzzyva", PageSize: 1})
		if err != nil || resp.GetTotalSize() < n {
			b.Fatalf("search after the import: %d results, %v", resp.GetTotalSize(), err)
		}
		searchable += time.Since(start)

		start = time.Now()
		for i := 0; i < n; i += txn {
			ops := make([]clientv3.Op, 0, txn)
			for j := i; j < i+txn; j++ {
				ops = append(ops, clientv3.OpPut(fmt.Sprintf("/load/%d/%d", round, j), arts[j].GetBody()))
			}
			if _, err := etcd.Txn(ctx).Then(ops...).Commit(); err != nil {
				b.Fatal(err)
			}
		}
		raw += time.Since(start)
	}
	perSec := func(d time.Duration) float64 { return float64(n*round) / d.Seconds() }
	b.ReportMetric(perSec(ack), "acknowledged/s")
	b.ReportMetric(perSec(searchable), "searchable/s")
	b.ReportMetric(perSec(raw), "etcd-txn-puts/s")
	b.ReportMetric(perSec(ack)/perSec(raw), "x-etcd-acknowledged")
	b.ReportMetric(perSec(searchable)/perSec(raw), "x-etcd-searchable")
}

// BenchmarkFileSize imports -filesize.docs Zipf articles of about 5 KB
// into a new store (default history, no search index: the engine keeps
// its own file) and reports the file's size over the encoded size of the
// articles as stored.
func BenchmarkFileSize(b *testing.B) {
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "size.db")
		st, err := store.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		const batch = 500
		arts := zipfCorpus("s", *fileSizeDocs)
		for i := 0; i < len(arts); i += batch {
			if _, err := st.Import(ctx, arts[i:min(i+batch, len(arts))]); err != nil {
				b.Fatal(err)
			}
		}
		var encoded int64
		err = st.List(ctx, articles.Query{Order: articles.OrderCreateTime}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
			encoded += int64(proto.Size(a))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size())/float64(encoded), "file/articles")
		b.ReportMetric(float64(fi.Size())/float64(len(arts)), "bytes/article")
		b.ReportMetric(float64(encoded)/float64(len(arts)), "encoded-bytes/article")
	}
}
