package main_test

// TestWatchAcrossCrash: issue 3's "kill -9 of the server during writes,
// then resume from the last seen revision and check that the events seen
// equal exactly the acknowledged writes, in order", against the real
// articlesd binary on 127.0.0.1.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Bounds of TestWatchAcrossCrash. A cycle is: start the daemon, resume
// the watch, write for a random window, SIGKILL.
const (
	wcCycles      = 3
	wcWriters     = 3
	wcLoadMin     = 300 * time.Millisecond
	wcLoadSpread  = 500 * time.Millisecond
	wcMinAcks     = 3               // acknowledged writes before a kill, unless the load runs
	wcLoadMax     = 5 * time.Second // this long
	wcOpsPerCycle = 3000            // a writer's bound per cycle, far above what a window allows
	wcTailOps     = 5               // writes per writer after the last restart
)

// wcOp is one write: acknowledged (rev is the revision it returned, 0 for
// a delete, which returns none) or in flight at a kill (outcome unknown).
type wcOp struct {
	typ   articlesv1.ArticleEvent_Type
	id    string // empty for a create in flight: the server assigns it
	title string // for creates and updates
	rev   int64
}

func (o wcOp) String() string {
	return fmt.Sprintf("%v id=%q title=%q rev=%d", o.typ, o.id, o.title, o.rev)
}

// wcLedger is what the clients know: acknowledged writes, writes whose
// outcome a kill made unknown, and the events the watchers received.
type wcLedger struct {
	mu       sync.Mutex
	acked    []wcOp
	inflight []wcOp
	events   []*articlesv1.ArticleEvent // both watch streams, in arrival order
}

func (l *wcLedger) ack(o wcOp) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = append(l.acked, o)
}

func (l *wcLedger) unknown(o wcOp) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight = append(l.inflight, o)
}

func (l *wcLedger) saw(ev *articlesv1.ArticleEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// lastSeen returns the revision of the last event received, 0 if none.
func (l *wcLedger) lastSeen() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		return 0
	}
	return l.events[len(l.events)-1].GetRevision()
}

// wcWriter creates, updates and deletes its own articles, one call at a
// time. live persists across cycles.
type wcWriter struct {
	t      *testing.T
	id     int
	rng    *rand.Rand
	seq    int
	live   []string // ids of its articles that exist, as far as it knows
	killed *atomic.Bool
	acks   *atomic.Int64
	l      *wcLedger
}

// run writes until stop, an error (the kill) or maxOps writes.
func (w *wcWriter) run(c articlesv1.ArticleServiceClient, stop <-chan struct{}, maxOps int) {
	for range maxOps {
		select {
		case <-stop:
			return
		default:
		}
		if !w.one(c) {
			return
		}
	}
}

// one makes one write and records it. It reports false when the call
// failed, which is an error unless the daemon has been killed.
func (w *wcWriter) one(c articlesv1.ArticleServiceClient) bool {
	ctx, cancel := context.WithTimeout(w.t.Context(), callTimeout)
	defer cancel()
	w.seq++
	title := fmt.Sprintf("Watch crash w%d n%d", w.id, w.seq)
	var (
		op  wcOp
		err error
	)
	switch p := w.rng.IntN(100); {
	case len(w.live) == 0 || p < 45:
		op = wcOp{typ: articlesv1.ArticleEvent_CREATED, title: title}
		var a *articlesv1.Article
		a, err = c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{
			RequestId: fmt.Sprintf("wc-%d-%d", w.id, w.seq),
			Article:   &articlesv1.Article{Title: title, Body: "Body of " + title + "."},
		})
		if err == nil {
			op.id, op.rev = a.GetId(), a.GetRevision()
			w.live = append(w.live, op.id)
		}
	case p < 80:
		op = wcOp{typ: articlesv1.ArticleEvent_UPDATED, id: w.live[w.rng.IntN(len(w.live))], title: title}
		var a *articlesv1.Article
		a, err = c.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
			Article:    &articlesv1.Article{Id: op.id, Title: title},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		})
		if err == nil {
			op.rev = a.GetRevision()
			if a.GetId() != op.id || a.GetTitle() != title {
				w.t.Errorf("writer %d: update of %s answered %v", w.id, op.id, a)
			}
		}
	default:
		k := w.rng.IntN(len(w.live))
		op = wcOp{typ: articlesv1.ArticleEvent_DELETED, id: w.live[k]}
		// Whatever the outcome, the article is not touched again: after
		// an unknown outcome it may be gone.
		w.live = append(w.live[:k], w.live[k+1:]...)
		_, err = c.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: op.id})
	}
	if err != nil {
		if !w.killed.Load() {
			w.t.Errorf("writer %d: %v failed before the kill: %v", w.id, op, err)
		}
		w.l.unknown(op)
		return false
	}
	if op.typ != articlesv1.ArticleEvent_DELETED && op.rev <= 0 {
		w.t.Errorf("writer %d: %v acknowledged without a revision", w.id, op)
	}
	w.l.ack(op)
	w.acks.Add(1)
	return true
}

// wcWatch opens a watch from revision from, checks its opening PROGRESS
// event, and records every other event in l until the stream fails (the
// kill or ctx). It returns the stream's end on done.
func wcWatch(t *testing.T, ctx context.Context, c articlesv1.ArticleServiceClient, from int64, l *wcLedger) <-chan error {
	t.Helper()
	s, err := c.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{StartRevision: from})
	if err != nil {
		t.Fatalf("WatchArticles from %d: %v", from, err)
	}
	ev, err := s.Recv()
	if err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS || ev.GetRevision() != from-1 {
		t.Fatalf("watch from %d: opening message %v, %v; want PROGRESS at %d", from, ev, err, from-1)
	}
	done := make(chan error, 1)
	go func() {
		for {
			ev, err := s.Recv()
			if err != nil {
				done <- err
				return
			}
			if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
				l.saw(ev)
			}
		}
	}()
	return done
}

// TestWatchAcrossCrash runs writers and a watcher against articlesd,
// kills it with SIGKILL mid-load, restarts it on the same file and resumes
// the watch from the last revision seen plus one, a few times; then checks
// that the events seen are every revision once, in order, and are exactly
// the acknowledged writes plus some of the writes in flight at the kills.
func TestWatchAcrossCrash(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ARTICLES_FAULTS_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (ARTICLES_FAULTS_SEED reproduces the choices, not the kill moments)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	db := newDB(t)
	l := &wcLedger{}
	var killed atomic.Bool
	var acks atomic.Int64
	writers := make([]*wcWriter, wcWriters)
	for i := range writers {
		writers[i] = &wcWriter{t: t, id: i, rng: rand.New(rand.NewPCG(seed, uint64(i)+2)), killed: &killed, acks: &acks, l: l}
	}

	for cycle := range wcCycles + 1 {
		final := cycle == wcCycles
		d := start(t, db, nil, "--no-seed")
		cc := dial(t, d.addr)
		c := articlesv1.NewArticleServiceClient(cc)
		wctx, wcancel := context.WithCancel(t.Context())
		watchDone := wcWatch(t, wctx, c, l.lastSeen()+1, l)

		killed.Store(false)
		acks.Store(0)
		stop := make(chan struct{})
		ops := wcOpsPerCycle
		if final {
			ops = wcTailOps
		}
		var wg sync.WaitGroup
		for _, w := range writers {
			wg.Go(func() { w.run(c, stop, ops) })
		}

		if final {
			wg.Wait()
			// The watch must deliver up to the store's revision.
			rev := currentRevision(t, c)
			for n := 0; l.lastSeen() < rev && n < int(callTimeout/(5*time.Millisecond)); n++ {
				time.Sleep(5 * time.Millisecond)
			}
			if got := l.lastSeen(); got != rev {
				t.Errorf("the watch delivered up to revision %d, the store is at %d", got, rev)
			}
			wcancel()
			<-watchDone
			if code := d.signal(syscall.SIGTERM); code != 0 {
				t.Errorf("exit code after SIGTERM = %d, want 0; log:\n%s", code, d.logs)
			}
			cc.Close()
			break
		}

		loadStart := time.Now()
		time.Sleep(wcLoadMin + time.Duration(rng.Int64N(int64(wcLoadSpread))))
		for acks.Load() < wcMinAcks && time.Since(loadStart) < wcLoadMax {
			time.Sleep(5 * time.Millisecond)
		}
		killed.Store(true)
		if code := d.signal(syscall.SIGKILL); code != -1 {
			t.Errorf("cycle %d: exit code after SIGKILL = %d, want -1 (killed)", cycle, code)
		}
		close(stop)
		wg.Wait()
		select {
		case err := <-watchDone:
			if errors.Is(err, context.Canceled) {
				t.Errorf("cycle %d: watch ended by cancellation, not by the kill", cycle)
			}
		case <-time.After(callTimeout):
			t.Fatalf("cycle %d: the watch did not end within %v of the kill", cycle, callTimeout)
		}
		wcancel()
		cc.Close()
		if t.Failed() {
			t.FailNow()
		}
	}
	checkBolt(t, db)
	wcCheck(t, l)
}

// wcCheck checks the events seen against the ledger.
func wcCheck(t *testing.T, l *wcLedger) {
	t.Helper()
	// Every revision once, in order: bbolt revisions are dense, and the
	// daemon ran with --no-seed, so the first write is revision 1.
	byRev := map[int64]*articlesv1.ArticleEvent{}
	for i, ev := range l.events {
		if want := int64(i + 1); ev.GetRevision() != want {
			t.Fatalf("event %d has revision %d, want %d (gap, duplicate or disorder)", i, ev.GetRevision(), want)
		}
		if ev.GetArticle().GetId() == "" {
			t.Errorf("event %v names no article", ev)
		}
		byRev[ev.GetRevision()] = ev
	}

	claimed := map[int64]bool{}
	deletes := map[string][]int64{} // id -> revisions of DELETED events
	for _, ev := range l.events {
		if ev.GetType() == articlesv1.ArticleEvent_DELETED {
			deletes[ev.GetArticle().GetId()] = append(deletes[ev.GetArticle().GetId()], ev.GetRevision())
		}
	}
	var counts [4]int
	for _, o := range l.acked {
		counts[o.typ]++
		if o.typ == articlesv1.ArticleEvent_DELETED {
			if revs := deletes[o.id]; len(revs) != 1 {
				t.Errorf("acknowledged delete of %s: DELETED events at revisions %v, want exactly one", o.id, revs)
			} else {
				claimed[revs[0]] = true
			}
			continue
		}
		ev := byRev[o.rev]
		if ev == nil {
			t.Errorf("acknowledged %v: no event at its revision", o)
			continue
		}
		if claimed[o.rev] {
			t.Errorf("acknowledged %v: its revision is another acknowledged write's", o)
		}
		claimed[o.rev] = true
		if a := ev.GetArticle(); ev.GetType() != o.typ || a.GetId() != o.id || a.GetTitle() != o.title || a.GetRevision() != o.rev {
			t.Errorf("acknowledged %v: event %v", o, ev)
		}
	}

	// What remains must be writes in flight at a kill, each at most once.
	used := make([]bool, len(l.inflight))
	extra := 0
	for _, ev := range l.events {
		if claimed[ev.GetRevision()] {
			continue
		}
		extra++
		a, found := ev.GetArticle(), false
		for k, o := range l.inflight {
			if used[k] || o.typ != ev.GetType() {
				continue
			}
			if (o.id == "" || o.id == a.GetId()) && (o.typ == articlesv1.ArticleEvent_DELETED || o.title == a.GetTitle()) {
				used[k], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("event %v is no acknowledged write and none in flight at a kill (in flight: %v)", ev, l.inflight)
		}
	}
	t.Logf("%d events; acknowledged %d creates, %d updates, %d deletes; %d writes in flight at kills, %d of them committed",
		len(l.events), counts[articlesv1.ArticleEvent_CREATED], counts[articlesv1.ArticleEvent_UPDATED],
		counts[articlesv1.ArticleEvent_DELETED], len(l.inflight), extra)
	if counts[articlesv1.ArticleEvent_CREATED] == 0 || counts[articlesv1.ArticleEvent_UPDATED] == 0 || counts[articlesv1.ArticleEvent_DELETED] == 0 {
		t.Errorf("some kind of write was never acknowledged: the test proved little")
	}
}
