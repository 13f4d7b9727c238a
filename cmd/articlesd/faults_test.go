package main_test

// Fault tests (issue 5, "nothing acknowledged is lost"), all against the
// real articlesd binary on 127.0.0.1:
//
//   - TestCrashCycles kills the daemon with SIGKILL again and again under a
//     concurrent mix of creates, updates, deletes, imports and writes that
//     must fail, and checks a client-side ledger after every restart, plus
//     bbolt's own consistency check (Tx.Check) of the file.
//   - TestDiskFull fills a small tmpfs under the daemon (it mounts one, so
//     it needs root; elsewhere it skips, saying why).
//   - TestShutdownUnderLoad sends SIGTERM with hundreds of streams open and
//     unary calls in flight.
//   - TestStalledStream opens streams it never reads and makes the file
//     grow, which would hang if a blocked send held a read transaction.
//
// The CI form is bounded in cycles and in time; ARTICLES_SOAK=1 runs the
// crash test for ARTICLES_SOAK_CYCLES cycles (default 300) instead, and
// ARTICLES_FAULTS_SEED repeats a run's random choices.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Crash test bounds. A cycle is: start (and verify), write for a random
// load window, SIGKILL, check the file.
const (
	crashCycles     = 20
	crashWorkers    = 4
	crashSlots      = 24 // slugs per worker; bounds the database's size
	crashLoadMin    = 150 * time.Millisecond
	crashLoadSpread = 250 * time.Millisecond
	crashMinAcks    = 4                // and at least this many (up to 3x) acknowledged writes,
	crashLoadMax    = 5 * time.Second  // unless the load runs this long
	crashOpsPerLoad = 5000             // a worker's op bound per cycle, far above what a window allows
	crashBudget     = 4 * time.Minute  // no new cycle starts after this (a hang detector, not a goal)
	soakBudget      = 60 * time.Minute // the same for the soak
)

// state is what the ledger knows of one slug.
type state struct {
	present bool
	art     *articlesv1.Article // the expected article when present
	// exact means art is a server reply (or read back): every field must
	// match, ids, revisions and timestamps included. Otherwise art is what
	// the client sent and only the settable fields are compared.
	exact bool
}

// slot is one slug a crash worker owns. Only its worker touches it during
// a cycle; verify touches it between cycles.
type slot struct {
	slug string
	cur  state
	// alt is the outcome of the write that was in flight when the daemon
	// died: after the restart either cur or *alt is acceptable.
	alt *state
	// retry is the create whose outcome was unknown; if it turns out to
	// have committed, retrying it after the restart must return it.
	retry *articlesv1.CreateArticleRequest
	// staleEtag is an etag the article had before its last acknowledged
	// write; an update naming it must fail and change nothing.
	staleEtag string
}

// crashStats counts what the crash test did, to prove it did something.
type crashStats struct {
	creates, updates, deletes, imports, aborted, rejected, unknown, appliedUnknown, retried int
	maxRev                                                                                  int64
}

func (s *crashStats) add(o crashStats) {
	s.creates += o.creates
	s.updates += o.updates
	s.deletes += o.deletes
	s.imports += o.imports
	s.aborted += o.aborted
	s.rejected += o.rejected
	s.unknown += o.unknown
	s.appliedUnknown += o.appliedUnknown
	s.retried += o.retried
	s.maxRev = max(s.maxRev, o.maxRev)
}

// crashWorker writes to its own slots, one call at a time, and keeps the
// ledger of what was acknowledged.
type crashWorker struct {
	t      *testing.T
	id     int
	rng    *rand.Rand
	slots  []*slot
	seq    int   // makes contents and request ids unique
	cycle  int   // the current cycle
	floor  int64 // the store revision when the cycle's daemon started
	killed *atomic.Bool
	acks   *atomic.Int64 // acknowledged writes of all workers in this cycle
	stats  crashStats
}

// content returns new settable fields for s, already in the form the
// server stores them (trimmed, lower-case unique tags, explicit summary), so
// that what was sent can be compared with what is read back.
func (w *crashWorker) content(slug string) *articlesv1.Article {
	w.seq++
	tags := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	w.rng.Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
	words := make([]string, 10+w.rng.IntN(400))
	for i := range words {
		words[i] = fmt.Sprintf("w%dx%d", w.rng.IntN(1000), i%7)
	}
	return &articlesv1.Article{
		Slug:        slug,
		Title:       fmt.Sprintf("Crash %s v%d.%d", slug, w.cycle, w.seq),
		Summary:     fmt.Sprintf("Summary of %s, version %d.", slug, w.seq),
		Body:        "First paragraph " + strings.Join(words, " ") + ".\n\nSecond paragraph, naïve café.",
		Authors:     []string{fmt.Sprintf("Worker %d", w.id)},
		AuthorBio:   "Writes under faults.",
		Source:      "faults",
		Tags:        tags[:1+w.rng.IntN(3)],
		Labels:      map[string]string{"seq": strconv.Itoa(w.seq), "worker": strconv.Itoa(w.id)},
		PublishTime: timestamppb.New(time.Unix(1_700_000_000+int64(w.seq), 0)),
	}
}

// failed handles an error of a call that should have succeeded. Before the
// kill no call may fail; after it, the outcome is unknown.
func (w *crashWorker) failed(what string, err error) {
	if !w.killed.Load() {
		w.t.Errorf("worker %d: %s failed before the kill: %v", w.id, what, err)
	}
	w.stats.unknown++
}

// acked records an acknowledged write's revision, which must be newer than
// anything the store had when the cycle began.
func (w *crashWorker) acked(what string, a *articlesv1.Article) {
	if a.GetRevision() <= w.floor {
		w.t.Errorf("worker %d: %s acknowledged at revision %d, not above the revision %d the store had at its start", w.id, what, a.GetRevision(), w.floor)
	}
	w.stats.maxRev = max(w.stats.maxRev, a.GetRevision())
	w.acks.Add(1)
}

// run writes until an error (the kill) or stop, at most crashOpsPerLoad
// calls.
func (w *crashWorker) run(c articlesv1.ArticleServiceClient, stop <-chan struct{}) {
	for range crashOpsPerLoad {
		select {
		case <-stop:
			return
		default:
		}
		s := w.slots[w.rng.IntN(len(w.slots))]
		p := w.rng.IntN(100)
		var ok bool
		switch {
		case p < 15:
			ok = w.importSome(c)
		case !s.cur.present && p < 90:
			ok = w.create(c, s)
		case !s.cur.present:
			ok = w.invalidCreate(c)
		case p < 55:
			ok = w.update(c, s)
		case p < 75:
			ok = w.delete(c, s)
		case p < 88 && s.staleEtag != "":
			ok = w.staleUpdate(c, s)
		default:
			ok = w.duplicateCreate(c, s)
		}
		if !ok {
			return
		}
	}
}

func (w *crashWorker) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(w.t.Context(), callTimeout)
}

func (w *crashWorker) create(c articlesv1.ArticleServiceClient, s *slot) bool {
	ctx, cancel := w.ctx()
	defer cancel()
	req := &articlesv1.CreateArticleRequest{
		RequestId: fmt.Sprintf("crash-%d-%d-%d", w.cycle, w.id, w.seq),
		Article:   w.content(s.slug),
	}
	a, err := c.CreateArticle(ctx, req)
	if err != nil {
		w.failed("create "+s.slug, err)
		s.alt, s.retry = &state{present: true, art: req.Article}, req
		return false
	}
	if !settableEqual(a, req.Article) || a.GetId() == "" {
		w.t.Errorf("worker %d: create %s answered %v, want the content sent %v", w.id, s.slug, a, req.Article)
	}
	w.acked("create "+s.slug, a)
	w.stats.creates++
	s.cur, s.staleEtag = state{present: true, art: a, exact: true}, ""
	return true
}

// refresh makes s.cur exact (with id and etag) by reading the article,
// checking it against what was written. It reports false if the read
// failed.
func (w *crashWorker) refresh(c articlesv1.ArticleServiceClient, s *slot) bool {
	if s.cur.exact {
		return true
	}
	ctx, cancel := w.ctx()
	defer cancel()
	a, err := c.GetArticle(ctx, &articlesv1.GetArticleRequest{
		Key:  &articlesv1.GetArticleRequest_Slug{Slug: s.slug},
		View: articlesv1.ArticleView_ARTICLE_VIEW_FULL,
	})
	if err != nil {
		if !w.killed.Load() {
			w.t.Errorf("worker %d: reading %s back: %v", w.id, s.slug, err)
		}
		return false
	}
	if !settableEqual(a, s.cur.art) {
		w.t.Errorf("worker %d: %s reads back as %v, want %v", w.id, s.slug, a, s.cur.art)
	}
	s.cur = state{present: true, art: a, exact: true}
	return true
}

func (w *crashWorker) update(c articlesv1.ArticleServiceClient, s *slot) bool {
	if !w.refresh(c, s) {
		return false
	}
	ctx, cancel := w.ctx()
	defer cancel()
	next := w.content(s.slug)
	want := proto.Clone(s.cur.art).(*articlesv1.Article)
	want.Title, want.Body, want.Tags = next.Title, next.Body, next.Tags
	a, err := c.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
		Article:    &articlesv1.Article{Id: s.cur.art.GetId(), Etag: s.cur.art.GetEtag(), Title: next.Title, Body: next.Body, Tags: next.Tags},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "body", "tags"}},
	})
	if err != nil {
		w.failed("update "+s.slug, err)
		s.alt = &state{present: true, art: want}
		return false
	}
	if !settableEqual(a, want) || a.GetId() != want.GetId() {
		w.t.Errorf("worker %d: update %s answered %v, want %v", w.id, s.slug, a, want)
	}
	w.acked("update "+s.slug, a)
	w.stats.updates++
	s.staleEtag = s.cur.art.GetEtag()
	s.cur = state{present: true, art: a, exact: true}
	return true
}

func (w *crashWorker) delete(c articlesv1.ArticleServiceClient, s *slot) bool {
	if !w.refresh(c, s) {
		return false
	}
	ctx, cancel := w.ctx()
	defer cancel()
	_, err := c.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: s.cur.art.GetId(), Etag: s.cur.art.GetEtag()})
	if err != nil {
		w.failed("delete "+s.slug, err)
		s.alt = &state{}
		return false
	}
	w.stats.deletes++
	w.acks.Add(1)
	s.cur, s.staleEtag = state{}, ""
	return true
}

// definite checks the error of a call that must fail with want. It reports
// whether the worker may go on: an unknown outcome after the kill ends it,
// but such a call still must not have changed anything.
func (w *crashWorker) definite(what string, err error, want codes.Code) bool {
	switch got := status.Code(err); {
	case got == want:
		return true
	case w.killed.Load() && err != nil:
		return false
	default:
		w.t.Errorf("worker %d: %s: %v (code %v), want %v", w.id, what, err, got, want)
		return err != nil
	}
}

// staleUpdate updates with an etag the article no longer has: ABORTED, and
// verify later checks the article did not change.
func (w *crashWorker) staleUpdate(c articlesv1.ArticleServiceClient, s *slot) bool {
	if !w.refresh(c, s) {
		return false
	}
	ctx, cancel := w.ctx()
	defer cancel()
	_, err := c.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
		Article:    &articlesv1.Article{Id: s.cur.art.GetId(), Etag: s.staleEtag, Title: "DOOMED stale update"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if ok := w.definite("update "+s.slug+" with a stale etag", err, codes.Aborted); !ok {
		return false
	}
	w.stats.aborted++
	return true
}

// duplicateCreate creates another article with s's slug: ALREADY_EXISTS,
// and no article titled DOOMED may ever show up.
func (w *crashWorker) duplicateCreate(c articlesv1.ArticleServiceClient, s *slot) bool {
	ctx, cancel := w.ctx()
	defer cancel()
	a := w.content(s.slug)
	a.Title = "DOOMED duplicate " + a.Title
	_, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{
		RequestId: fmt.Sprintf("dup-%d-%d-%d", w.cycle, w.id, w.seq),
		Article:   a,
	})
	if ok := w.definite("create with the taken slug "+s.slug, err, codes.AlreadyExists); !ok {
		return false
	}
	w.stats.rejected++
	return true
}

// invalidCreate creates an article without a title under a slug no slot
// owns: INVALID_ARGUMENT, and verify finds no article outside the slots.
func (w *crashWorker) invalidCreate(c articlesv1.ArticleServiceClient) bool {
	ctx, cancel := w.ctx()
	defer cancel()
	a := w.content(fmt.Sprintf("doomed-%d-%d", w.id, w.seq))
	a.Title = ""
	_, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: a})
	if ok := w.definite("create without a title", err, codes.InvalidArgument); !ok {
		return false
	}
	w.stats.rejected++
	return true
}

// importSome upserts new contents for a few of the worker's slots in one
// import stream.
func (w *crashWorker) importSome(c articlesv1.ArticleServiceClient) bool {
	ctx, cancel := w.ctx()
	defer cancel()
	picked := w.rng.Perm(len(w.slots))[:2+w.rng.IntN(8)]
	sent := make([]*articlesv1.Article, len(picked))
	for i, k := range picked {
		sent[i] = w.content(w.slots[k].slug)
	}
	unknown := func(err error) bool {
		w.failed("import", err)
		for i, k := range picked {
			w.slots[k].alt = &state{present: true, art: sent[i]}
		}
		return false
	}
	stream, err := c.ImportArticles(ctx)
	if err != nil {
		return unknown(err)
	}
	for _, a := range sent {
		if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
			if errors.Is(err, io.EOF) {
				_, err = stream.CloseAndRecv() // the real error
			}
			return unknown(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return unknown(err)
	}
	if n := resp.GetCreated() + resp.GetUpdated() + resp.GetUnchanged(); int(n) != len(sent) || len(resp.GetFailures()) > 0 {
		w.t.Errorf("worker %d: import of %d articles answered %v", w.id, len(sent), resp)
	}
	w.stats.imports++
	w.acks.Add(1)
	for i, k := range picked {
		s := w.slots[k]
		if s.cur.present && s.cur.exact {
			s.staleEtag = s.cur.art.GetEtag()
		}
		s.cur = state{present: true, art: sent[i]}
	}
	return true
}

// settableEqual reports whether got has the settable fields of want.
func settableEqual(got, want *articlesv1.Article) bool {
	return got.GetSlug() == want.GetSlug() && got.GetTitle() == want.GetTitle() &&
		got.GetSummary() == want.GetSummary() && got.GetBody() == want.GetBody() &&
		slices.Equal(got.GetAuthors(), want.GetAuthors()) && got.GetAuthorBio() == want.GetAuthorBio() &&
		got.GetSource() == want.GetSource() && slices.Equal(got.GetTags(), want.GetTags()) &&
		maps2Equal(got.GetLabels(), want.GetLabels()) &&
		proto.Equal(got.GetPublishTime(), want.GetPublishTime())
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// matches reports whether the article read back (ok: it exists) is st.
func (st state) matches(got *articlesv1.Article, ok bool) bool {
	switch {
	case !st.present || !ok:
		return st.present == ok
	case st.exact:
		return proto.Equal(got, st.art)
	default:
		return settableEqual(got, st.art)
	}
}

func (st state) String() string {
	if !st.present {
		return "absent"
	}
	return fmt.Sprintf("%.300v", st.art)
}

// ledger is every worker's slots plus the highest revision seen.
type ledger struct {
	workers []*crashWorker
	stats   crashStats
	rev     int64 // the highest store revision acknowledged or observed
}

// verify checks the restarted daemon against the ledger: every slot holds
// its acknowledged state (or, after an unknown outcome, the old or the new
// one), no other article exists (so no rejected write is present), and the
// store's revision did not go back. It then adopts what it read as the
// ledger's truth and returns the store's revision.
func (l *ledger) verify(t *testing.T, c articlesv1.ArticleServiceClient) int64 {
	t.Helper()
	all := listAll(t, c)
	bySlug := make(map[string]*articlesv1.Article, len(all))
	var listed int64
	for _, a := range all {
		if _, dup := bySlug[a.GetSlug()]; dup {
			t.Errorf("slug %q listed twice", a.GetSlug())
		}
		if strings.HasPrefix(a.GetTitle(), "DOOMED") {
			t.Errorf("a write that failed with a definite error is present: %.300v", a)
		}
		bySlug[a.GetSlug()] = a
		listed = max(listed, a.GetRevision())
	}
	for _, w := range l.workers {
		for _, s := range w.slots {
			got, ok := bySlug[s.slug]
			delete(bySlug, s.slug)
			switch {
			case s.cur.matches(got, ok):
			case s.alt != nil && s.alt.matches(got, ok):
				l.stats.appliedUnknown++
				if s.retry != nil && ok {
					again, err := c.CreateArticle(callCtx(t), s.retry)
					if err != nil || again.GetId() != got.GetId() {
						t.Errorf("retrying create %q after the restart: id %q, %v; want the committed %q", s.retry.GetRequestId(), again.GetId(), err, got.GetId())
					}
					l.stats.retried++
				}
			default:
				var alt string
				if s.alt != nil {
					alt = "\n  or (outcome unknown) " + s.alt.String()
				}
				t.Errorf("slug %s after restart: got %.300v (present %v)\nwant acknowledged %v%s", s.slug, got, ok, s.cur, alt)
			}
			s.alt, s.retry = nil, nil
			if ok {
				s.cur = state{present: true, art: got, exact: true}
			} else {
				s.cur = state{}
			}
		}
	}
	for slug, a := range bySlug {
		t.Errorf("article %q exists but no acknowledged or in-flight write made it: %.300v", slug, a)
	}
	rev := currentRevision(t, c)
	if rev < l.rev || rev < listed {
		t.Errorf("store revision after restart is %d; it had reached %d and articles carry revisions up to %d", rev, l.rev, listed)
	}
	l.rev = max(l.rev, rev)
	return rev
}

// currentRevision reads the store's revision from the opening PROGRESS
// event of a watch from now.
func currentRevision(t *testing.T, c articlesv1.ArticleServiceClient) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	stream, err := c.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{})
	if err != nil {
		t.Fatalf("WatchArticles: %v", err)
	}
	ev, err := stream.Recv()
	if err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
		t.Fatalf("first watch event %v, %v; want PROGRESS", ev, err)
	}
	return ev.GetRevision()
}

// dial returns a client connection to addr that the caller closes.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient(%q): %v", addr, err)
	}
	return cc
}

// checkBolt opens the database file read-only with bbolt itself and runs
// its consistency check (Tx.Check). The daemon must not be running.
func checkBolt(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: exitTimeout})
	if err != nil {
		t.Fatalf("opening %s with bbolt: %v", path, err)
	}
	defer db.Close()
	var problems []error
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			if len(problems) < 20 {
				problems = append(problems, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("bbolt View: %v", err)
	}
	if len(problems) > 0 {
		t.Errorf("bbolt Tx.Check found %d+ problems: %v", len(problems), errors.Join(problems...))
	}
}

// soakCycles returns how many crash cycles to run and the time budget.
func soakCycles(t *testing.T) (int, time.Duration) {
	t.Helper()
	if os.Getenv("ARTICLES_SOAK") != "1" {
		return crashCycles, crashBudget
	}
	n := 300
	if v := os.Getenv("ARTICLES_SOAK_CYCLES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("ARTICLES_SOAK_CYCLES=%q: want a positive number", v)
		}
	}
	return n, soakBudget
}

// TestCrashCycles kills articlesd with SIGKILL at random moments while
// workers create, update, delete and import (and send writes that must
// fail), and after every restart checks the ledger of acknowledged writes,
// the revision, and the file's consistency.
func TestCrashCycles(t *testing.T) {
	t.Parallel()
	cycles, budget := soakCycles(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ARTICLES_FAULTS_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (ARTICLES_FAULTS_SEED reproduces the choices, not the kill moments)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	db := newDB(t)
	l := &ledger{}
	var killed atomic.Bool
	var acks atomic.Int64
	for i := range crashWorkers {
		w := &crashWorker{t: t, id: i, rng: rand.New(rand.NewPCG(seed, uint64(i)+2)), killed: &killed, acks: &acks}
		for k := range crashSlots {
			w.slots = append(w.slots, &slot{slug: fmt.Sprintf("crash-w%d-s%02d", i, k)})
		}
		l.workers = append(l.workers, w)
	}

	began := time.Now()
	done := 0
	for cycle := range cycles {
		if time.Since(began) > budget {
			t.Logf("time budget %v spent after %d cycles", budget, done)
			break
		}
		d := start(t, db, nil, "--no-seed")
		cc := dial(t, d.addr)
		c := articlesv1.NewArticleServiceClient(cc)
		floor := l.verify(t, c)
		if t.Failed() {
			cc.Close()
			t.FailNow()
		}

		killed.Store(false)
		acks.Store(0)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, w := range l.workers {
			w.cycle, w.floor = cycle, floor
			wg.Go(func() { w.run(c, stop) })
		}
		// Kill after a random window and a random amount of progress, so
		// that a slow (race-enabled, loaded) machine still gets a mix of
		// writes in every cycle.
		loadStart := time.Now()
		time.Sleep(crashLoadMin + time.Duration(rng.Int64N(int64(crashLoadSpread))))
		for minAcks := int64(crashMinAcks + rng.IntN(2*crashMinAcks)); acks.Load() < minAcks && time.Since(loadStart) < crashLoadMax; {
			time.Sleep(5 * time.Millisecond)
		}
		killed.Store(true)
		if os.Getenv("ARTICLES_FAULTS_DEBUG") != "" {
			t.Logf("cycle %d: kill after %v and %d acknowledged writes", cycle, time.Since(loadStart), acks.Load())
		}
		if code := d.signal(syscall.SIGKILL); code != -1 {
			t.Errorf("cycle %d: exit code after SIGKILL = %d, want -1 (killed)", cycle, code)
		}
		close(stop)
		wg.Wait()
		cc.Close()
		for _, w := range l.workers {
			l.stats.add(w.stats)
			w.stats = crashStats{}
		}
		l.rev = max(l.rev, l.stats.maxRev)
		checkBolt(t, db)
		done++
	}

	d := start(t, db, nil, "--no-seed")
	cc := dial(t, d.addr)
	defer cc.Close()
	l.verify(t, articlesv1.NewArticleServiceClient(cc))
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after the final SIGTERM = %d, want 0; log:\n%s", code, d.logs)
	}
	checkBolt(t, db)

	s := l.stats
	t.Logf("%d kills; acknowledged: %d creates, %d updates, %d deletes, %d imports; rejected as expected: %d aborted, %d other; "+
		"%d outcomes unknown at a kill, %d of them committed (%d creates retried); revision %d",
		done, s.creates, s.updates, s.deletes, s.imports, s.aborted, s.rejected, s.unknown, s.appliedUnknown, s.retried, l.rev)
	if done < min(cycles, crashCycles) {
		t.Errorf("only %d kill cycles ran, want %d", done, min(cycles, crashCycles))
	}
	if s.creates == 0 || s.updates == 0 || s.deletes == 0 || s.imports == 0 || s.unknown == 0 {
		t.Errorf("the mix did not happen (some kind of write was never acknowledged, or no kill caught a write in flight): the test proved little")
	}
}

// mountSmallFS mounts a tmpfs of size bytes on a test directory and
// unmounts it when the test ends, or skips the test when mounting is not
// allowed here.
func mountSmallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs (needs root): %v: %s", size, err, strings.TrimSpace(string(out)))
	}
	// Registered after TempDir's removal and before any daemon's kill, so
	// it runs after the daemons are gone and before the directory goes.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes zeros to path until the file system is full, at most
// limit bytes.
func fillDisk(t *testing.T, path string, limit int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for n := 0; n < limit; n += len(buf) {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
	t.Fatalf("wrote %d bytes to %s without filling the file system", limit, path)
}

// TestDiskFull runs the daemon on a small tmpfs, fills it with a ballast
// file (leaving some slack) and writes until a write fails: the failure
// must be RESOURCE_EXHAUSTED or UNAVAILABLE, the daemon must stay up and
// serve reads, and once the ballast is gone writes succeed again and every
// acknowledged article survives a restart in a consistent file.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		slack int64 // bytes freed again after filling the disk
	}{
		{"NoRoom", 0},
		{"SomeRoom", 300 << 10}, // a few commits succeed first, then one fails mid-growth
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testDiskFull(t, tc.slack)
		})
	}
}

func testDiskFull(t *testing.T, slack int64) {
	t.Helper()
	dir := mountSmallFS(t, "8m")
	db := filepath.Join(dir, "articles.db")
	d := start(t, db, nil, "--no-seed")
	c := d.client()

	var acked []*articlesv1.Article
	create := func(i int) (*articlesv1.Article, error) {
		body := strings.TrimSpace(strings.Repeat(fmt.Sprintf("Disk full filler %d. ", i), 400)) // about 8 KB
		a, err := c.CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
			RequestId: fmt.Sprintf("full-%d", i),
			Article:   &articlesv1.Article{Slug: fmt.Sprintf("full-%d", i), Title: fmt.Sprintf("Disk full %d", i), Body: body},
		})
		if err == nil {
			acked = append(acked, a)
		}
		return a, err
	}
	for i := range 10 {
		if _, err := create(i); err != nil {
			t.Fatalf("create %d with space left: %v", i, err)
		}
	}

	ballast := filepath.Join(dir, "ballast")
	fillDisk(t, ballast, 16<<20)
	if slack > 0 {
		fi, err := os.Stat(ballast)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(ballast, max(0, fi.Size()-slack)); err != nil {
			t.Fatal(err)
		}
	}

	// bbolt may still have free pages in its file: write until it has not.
	next := len(acked)
	var failure error
	for range 2000 {
		_, err := create(next)
		next++
		if err != nil {
			failure = err
			break
		}
	}
	if failure == nil {
		t.Fatalf("2000 writes of 8 KB succeeded on a full 8 MB file system")
	}
	t.Logf("after %d acknowledged writes: %v", len(acked), failure)
	okCode := func(err error) bool {
		c := status.Code(err)
		return c == codes.ResourceExhausted || c == codes.Unavailable
	}
	if !okCode(failure) {
		t.Errorf("write on a full disk: %v (code %v), want RESOURCE_EXHAUSTED or UNAVAILABLE", failure, status.Code(failure))
	}
	// Further writes of every kind fail the same way, and the daemon stays up.
	for range 3 {
		if _, err := create(next); err != nil && !okCode(err) {
			t.Errorf("another create on a full disk: %v, want RESOURCE_EXHAUSTED or UNAVAILABLE", err)
		}
		next++
	}
	if _, err := c.UpdateArticle(callCtx(t), &articlesv1.UpdateArticleRequest{
		Article:    &articlesv1.Article{Id: acked[0].GetId(), Body: strings.Repeat("Longer body. ", 2000)},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"body"}},
	}); err == nil {
		acked[0] = nil // written after all: no longer the acknowledged content
	} else if !okCode(err) {
		t.Errorf("update on a full disk: %v, want RESOURCE_EXHAUSTED or UNAVAILABLE", err)
	}
	if err := importOnFullDisk(t, c); err != nil && !okCode(err) {
		t.Errorf("import on a full disk: %v, want RESOURCE_EXHAUSTED or UNAVAILABLE", err)
	}

	checkAcked := func(c articlesv1.ArticleServiceClient, when string) {
		t.Helper()
		byID := map[string]*articlesv1.Article{}
		for _, a := range listAll(t, c) {
			byID[a.GetId()] = a
		}
		for _, want := range acked {
			if want == nil {
				continue
			}
			got, err := c.GetArticle(callCtx(t), &articlesv1.GetArticleRequest{
				Key: &articlesv1.GetArticleRequest_Id{Id: want.GetId()}, View: articlesv1.ArticleView_ARTICLE_VIEW_FULL,
			})
			if err != nil || !proto.Equal(got, want) {
				t.Errorf("%s: GetArticle(%s) = %.200v, %v; want the acknowledged %.200v", when, want.GetSlug(), got, err, want)
			}
			if !proto.Equal(byID[want.GetId()], want) {
				t.Errorf("%s: ListArticles lacks or changed %s", when, want.GetSlug())
			}
		}
	}
	checkAcked(c, "disk full") // reads keep working
	select {
	case <-d.done:
		t.Fatalf("articlesd exited on a full disk (%v); log:\n%s", d.err, d.logs)
	default:
	}

	// Space returns: the next writes succeed.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := create(next); err != nil {
			t.Fatalf("write after space returned: %v", err)
		}
		next++
	}
	checkAcked(c, "space returned")
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0; log:\n%s", code, d.logs)
	}
	checkBolt(t, db)
	d2 := start(t, db, nil, "--no-seed")
	checkAcked(d2.client(), "restart")
	if code := d2.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after the restart's SIGTERM = %d, want 0; log:\n%s", code, d2.logs)
	}
}

// importOnFullDisk imports 50 articles of 8 KB and returns the error the
// stream ends with.
func importOnFullDisk(t *testing.T, c articlesv1.ArticleServiceClient) error {
	t.Helper()
	stream, err := c.ImportArticles(callCtx(t))
	if err != nil {
		return err
	}
	for i := range 50 {
		a := &articlesv1.Article{
			Slug:  fmt.Sprintf("full-import-%d", i),
			Title: fmt.Sprintf("Full import %d", i),
			Body:  strings.Repeat("Imported on a full disk. ", 330),
		}
		if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
			break // the real error comes from CloseAndRecv
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

// TestShutdownUnderLoad sends SIGTERM while 200 watch streams are open and
// unary reads and writes are in flight: the daemon exits 0 without waiting
// out its grace period, every stream and call ends with success or
// UNAVAILABLE, and after a restart every acknowledged create is present
// while every create that got UNAVAILABLE is absent (a graceful stop either
// refuses a call or completes it; it never leaves its outcome unknown).
func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		conns          = 8
		watchesPerConn = 25
		writers        = 6
		readers        = 4
		opsBound       = 20_000 // per goroutine; the daemon's exit ends them long before
	)
	db := newDB(t)
	d := start(t, db, nil, "--no-seed", "--grace-period", "30s")
	var ccs []*grpc.ClientConn
	for range conns {
		cc := dial(t, d.addr)
		defer cc.Close()
		ccs = append(ccs, cc)
	}
	client := func(i int) articlesv1.ArticleServiceClient { return articlesv1.NewArticleServiceClient(ccs[i%conns]) }

	// Some articles for the readers.
	var ids []string
	for i := range 20 {
		a, err := client(i).CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
			Article: &articlesv1.Article{Title: fmt.Sprintf("Shutdown reading %d", i), Body: "Text to search for shutdown."},
		})
		if err != nil {
			t.Fatalf("CreateArticle: %v", err)
		}
		ids = append(ids, a.GetId())
	}

	var signalled atomic.Bool
	// check reports an error that happened before SIGTERM was sent, and
	// checks that one after it is UNAVAILABLE.
	check := func(what string, err error) {
		if !signalled.Load() {
			t.Errorf("%s failed before SIGTERM: %v", what, err)
		} else if status.Code(err) != codes.Unavailable {
			t.Errorf("%s during shutdown: %v (code %v), want UNAVAILABLE", what, err, status.Code(err))
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), exitTimeout+startTimeout)
	defer cancel()
	var streams, load sync.WaitGroup
	var events atomic.Int64
	for i := range conns * watchesPerConn {
		w, err := client(i).WatchArticles(ctx, &articlesv1.WatchArticlesRequest{})
		if err != nil {
			t.Fatalf("WatchArticles %d: %v", i, err)
		}
		first, err := w.Recv()
		if err != nil || first.GetType() != articlesv1.ArticleEvent_PROGRESS {
			t.Fatalf("watch %d: first event %v, %v; want PROGRESS", i, first, err)
		}
		streams.Go(func() {
			prev := first.GetRevision()
			for range opsBound {
				ev, err := w.Recv()
				if err != nil {
					check(fmt.Sprintf("watch %d", i), err)
					return
				}
				rev := ev.GetRevision()
				switch {
				case ev.GetType() == articlesv1.ArticleEvent_PROGRESS && rev < prev,
					ev.GetType() != articlesv1.ArticleEvent_PROGRESS && rev != prev+1:
					t.Errorf("watch %d: %v event at revision %d after revision %d: want no gaps or repeats", i, ev.GetType(), rev, prev)
				}
				prev = rev
				events.Add(1)
			}
			t.Errorf("watch %d still open after %d events", i, opsBound)
		})
	}

	var (
		mu      sync.Mutex // guards acked and refused
		acked   []*articlesv1.Article
		refused []*articlesv1.CreateArticleRequest
		calls   atomic.Int64
	)
	for g := range writers {
		c := client(g)
		load.Go(func() {
			for i := range opsBound {
				req := &articlesv1.CreateArticleRequest{
					RequestId: fmt.Sprintf("shutdown-%d-%d", g, i),
					Article:   &articlesv1.Article{Slug: fmt.Sprintf("shutdown-%d-%d", g, i), Title: fmt.Sprintf("Shutdown %d/%d", g, i), Body: "Written under load."},
				}
				a, err := c.CreateArticle(ctx, req)
				mu.Lock()
				if err != nil {
					refused = append(refused, req)
				} else {
					acked = append(acked, a)
				}
				mu.Unlock()
				if err != nil {
					check("CreateArticle", err)
					return
				}
				calls.Add(1)
			}
		})
	}
	for g := range readers {
		c := client(g + writers)
		load.Go(func() {
			for i := range opsBound {
				var err error
				switch i % 4 {
				case 0:
					_, err = c.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: ids[i%len(ids)]}})
				case 1:
					_, err = c.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 50})
				case 2:
					_, err = c.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "shutdown text"})
				case 3:
					var s grpc.ServerStreamingClient[articlesv1.StreamArticlesResponse]
					if s, err = c.StreamArticles(ctx, &articlesv1.StreamArticlesRequest{}); err == nil {
						for range 100_000 { // bounded: the database holds far fewer
							if _, err = s.Recv(); err != nil {
								break
							}
						}
						if errors.Is(err, io.EOF) {
							err = nil
						}
					}
				}
				if err != nil {
					check(fmt.Sprintf("reader %d call %d", g, i), err)
					return
				}
				calls.Add(1)
			}
		})
	}

	// Signal once the load is well under way (polling at most 30 s).
	for range 3000 {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 50 && events.Load() >= 1000 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	signalled.Store(true)
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM under load = %d, want 0; log:\n%s", code, d.logs)
	}
	load.Wait()
	streams.Wait()
	logs := d.logs.String()
	if strings.Contains(logs, "grace period ended") {
		t.Errorf("shutdown waited out its grace period and cancelled calls; log:\n%s", logs)
	}
	if !strings.Contains(logs, "msg=stopped") {
		t.Errorf("no clean stop logged; log:\n%s", logs)
	}
	t.Logf("%d unary calls and %d watch events before the exit; %d creates acknowledged, %d refused", calls.Load(), events.Load(), len(acked), len(refused))

	checkBolt(t, db)
	d2 := start(t, db, nil, "--no-seed")
	c2 := d2.client()
	bySlug := map[string]*articlesv1.Article{}
	for _, a := range listAll(t, c2) {
		bySlug[a.GetSlug()] = a
	}
	for _, want := range acked {
		if got := bySlug[want.GetSlug()]; !proto.Equal(got, want) {
			t.Errorf("acknowledged create %s: after restart %v, want %v", want.GetSlug(), got, want)
		}
	}
	for _, req := range refused {
		if got, ok := bySlug[req.GetArticle().GetSlug()]; ok {
			t.Errorf("create %s failed with UNAVAILABLE at shutdown but was committed: %v", req.GetArticle().GetSlug(), got)
		}
	}
	if code := d2.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after the restart's SIGTERM = %d, want 0; log:\n%s", code, d2.logs)
	}
}

// rssAnon returns the anonymous resident memory of process pid in bytes
// (its heap and stacks, not the pages of the mapped database file), from
// /proc/<pid>/status.
func rssAnon(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("cannot read the daemon's memory use: %v", err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parsing %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Skipf("no RssAnon line in /proc/%d/status", pid)
	return 0
}

// importBig imports n articles named prefix-0 ... of about size bytes each
// and returns the error the stream ends with. Their bodies draw on a small
// vocabulary of long words, so they are big on disk but cheap to index.
func importBig(ctx context.Context, c articlesv1.ArticleServiceClient, prefix string, n, size int) error {
	var vocab []string
	for i := range 40 {
		vocab = append(vocab, strings.Repeat(string(rune('a'+i%26)), 60)+strconv.Itoa(i))
	}
	stream, err := c.ImportArticles(ctx)
	if err != nil {
		return err
	}
	for i := range n {
		var body strings.Builder
		for j := 0; body.Len() < size; j++ {
			body.WriteString(vocab[(i*7+j*13)%len(vocab)])
			body.WriteByte(' ')
		}
		a := &articlesv1.Article{
			Slug:  fmt.Sprintf("%s-%d", prefix, i),
			Title: fmt.Sprintf("Big %s %d", prefix, i),
			Body:  strings.TrimSpace(body.String()),
		}
		if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
			break // the real error comes from CloseAndRecv
		}
	}
	resp, err := stream.CloseAndRecv()
	if err == nil && (int(resp.GetCreated()) != n || len(resp.GetFailures()) > 0) {
		err = fmt.Errorf("import of %d articles answered %v", n, resp)
	}
	return err
}

// TestStalledStream opens StreamArticles and WatchArticles streams that
// never read past their first message, then imports enough to grow the
// database file several times over. bbolt must remap the file to grow it,
// which waits for every read transaction to end: if a blocked send held
// one, the import would hang (the timeout here is a hang detector, not a
// speed requirement). The daemon's memory must not grow by anything like
// what the stalled streams would buffer if flow control did not hold them
// back, and the stalled streams must still deliver once read.
func TestStalledStream(t *testing.T) {
	t.Parallel()
	const (
		initial = 100
		grow    = 500
		size    = 16 << 10
		lists   = 8   // stalled StreamArticles streams; each pins a List page of 256 articles
		watches = 128 // stalled WatchArticles streams from revision 1: each is owed every event
		// Unbounded, the watches alone would buffer 128 x 600 x 16 KB, some
		// 1.2 GB. The import itself costs tens of MB (three times that
		// under the race detector, whose shadow memory grows with the heap).
		maxGrowth = 200 << 20
		hang      = 3 * time.Minute // far beyond what the import needs
		// Below 1 GB bbolt doubles its mmap, so a file that grows 3x over
		// has been remapped at least once.
		fileGrows = 3
	)
	db := newDB(t)
	// bbolt's own mapping, which doubles as the file grows: the 1 GiB
	// mapped by default would spare this file every remap.
	d := start(t, db, nil, "--no-seed", "--grace-period", "5s", "--initial-mmap-size", "0")
	cc := dial(t, d.addr)
	defer cc.Close()
	c := articlesv1.NewArticleServiceClient(cc)

	ctx, cancel := context.WithTimeout(t.Context(), hang)
	defer cancel()
	if err := importBig(ctx, c, "before", initial, size); err != nil {
		t.Fatalf("initial import: %v", err)
	}
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	sizeBefore := fi.Size()
	rssBefore := rssAnon(t, d.cmd.Process.Pid)

	// The stalled streams get their own connection; each proves it is open
	// by one message and is never read again. Fixed 64 KB flow-control
	// windows turn off grpc's BDP estimation, which would otherwise let the
	// client buffer up to 16 MB per stream and the server finish sending.
	stallCC, err := grpc.NewClient(d.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10),
		grpc.WithInitialConnWindowSize(64<<10),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer stallCC.Close()
	sc := articlesv1.NewArticleServiceClient(stallCC)
	var listed []grpc.ServerStreamingClient[articlesv1.StreamArticlesResponse]
	for i := range lists {
		s, err := sc.StreamArticles(ctx, &articlesv1.StreamArticlesRequest{View: articlesv1.ArticleView_ARTICLE_VIEW_FULL})
		if err != nil {
			t.Fatalf("StreamArticles %d: %v", i, err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("StreamArticles %d: first message: %v", i, err)
		}
		listed = append(listed, s)
	}
	for i := range watches {
		w, err := sc.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{StartRevision: 1})
		if err != nil {
			t.Fatalf("WatchArticles %d: %v", i, err)
		}
		if _, err := w.Recv(); err != nil {
			t.Fatalf("WatchArticles %d: first event: %v", i, err)
		}
	}

	if err := importBig(ctx, c, "during", grow, size); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("the import did not finish within %v while streams were stalled: is a read transaction held during a blocked send? %v", hang, err)
		}
		t.Fatalf("import while streams were stalled: %v", err)
	}
	if fi, err = os.Stat(db); err != nil {
		t.Fatal(err)
	}
	rssAfter := rssAnon(t, d.cmd.Process.Pid)
	t.Logf("file %d -> %d bytes; daemon anonymous RSS %d -> %d MB", sizeBefore, fi.Size(), rssBefore>>20, rssAfter>>20)
	if fi.Size() < fileGrows*sizeBefore {
		t.Errorf("the file grew from %d to only %d bytes: the test did not force bbolt to remap it", sizeBefore, fi.Size())
	}
	limit := int64(maxGrowth)
	if raceEnabled {
		limit *= 3
	}
	if growth := rssAfter - rssBefore; growth > limit {
		t.Errorf("daemon's anonymous memory grew by %d MB with %d stalled streams, want under %d MB", growth>>20, lists+watches, limit>>20)
	}

	// A stalled stream was only waiting: read to its end it delivers at
	// least every article that existed when it began.
	n := 1
	for ; n < initial+grow+10; n++ {
		if _, err := listed[0].Recv(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading the stalled stream after %d messages: %v", n, err)
		}
	}
	if n < initial {
		t.Errorf("the stalled stream delivered %d articles, want at least %d", n, initial)
	}

	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM with stalled streams = %d, want 0; log:\n%s", code, d.logs)
	}
	// Documented (server.GracefulStop): a stream whose client stopped reading
	// holds the graceful stop up until the grace period ends.
	t.Logf("grace period ran out at the stop: %v", strings.Contains(d.logs.String(), "grace period ended"))
	checkBolt(t, db)
}

// setFileSizeLimit sets the soft RLIMIT_FSIZE of process pid ("unlimited"
// or a number of bytes) with prlimit(1), or skips the test where that is
// not possible.
func setFileSizeLimit(t *testing.T, pid int, limit string) {
	t.Helper()
	out, err := exec.Command("prlimit", "--pid", strconv.Itoa(pid), "--fsize="+limit+":").CombinedOutput()
	if err != nil {
		t.Skipf("cannot set the daemon's file size limit with prlimit: %v: %s", err, strings.TrimSpace(string(out)))
	}
}

// TestFileSizeLimit caps the size of the daemon's files (RLIMIT_FSIZE) so
// that bbolt fails to grow the database: by truncating it (an error bbolt
// reports with the errno flattened into text) or by writing past the
// limit (EFBIG). Either must reach the client as RESOURCE_EXHAUSTED, like a
// full disk, not INTERNAL; reads keep working and writes recover once the
// limit is lifted.
func TestFileSizeLimit(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	d := start(t, db, nil, "--no-seed")
	c := d.client()
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	pid := d.cmd.Process.Pid
	// Room for a few writes first, so that reads of them can be checked.
	setFileSizeLimit(t, pid, strconv.FormatInt(fi.Size()+256<<10, 10))

	var acked []*articlesv1.Article
	var failure error
	for i := range 2000 {
		a, err := c.CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
			Article: &articlesv1.Article{
				Slug:  fmt.Sprintf("limit-%d", i),
				Title: fmt.Sprintf("Size limit %d", i),
				Body:  strings.TrimSpace(strings.Repeat(fmt.Sprintf("Size limit filler %d. ", i), 400)),
			},
		})
		if err != nil {
			failure = err
			break
		}
		acked = append(acked, a)
	}
	if failure == nil {
		t.Fatalf("2000 writes of 8 KB succeeded with the file size capped at %d bytes", fi.Size())
	}
	t.Logf("after %d acknowledged writes: %v", len(acked), failure)
	if got := status.Code(failure); got != codes.ResourceExhausted {
		t.Errorf("write past the file size limit: %v (code %v), want RESOURCE_EXHAUSTED", failure, got)
	}
	for _, want := range acked {
		got, err := c.GetArticle(callCtx(t), &articlesv1.GetArticleRequest{
			Key: &articlesv1.GetArticleRequest_Id{Id: want.GetId()}, View: articlesv1.ArticleView_ARTICLE_VIEW_FULL,
		})
		if err != nil || !proto.Equal(got, want) {
			t.Errorf("reading %s at the limit: %.200v, %v; want the acknowledged %.200v", want.GetSlug(), got, err, want)
		}
	}

	setFileSizeLimit(t, pid, "unlimited")
	for i := range 20 {
		if _, err := c.CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
			Article: &articlesv1.Article{Slug: fmt.Sprintf("after-%d", i), Title: fmt.Sprintf("After the limit %d", i), Body: "Room again."},
		}); err != nil {
			t.Fatalf("write %d after the limit was lifted: %v", i, err)
		}
	}
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0; log:\n%s", code, d.logs)
	}
	checkBolt(t, db)
}
