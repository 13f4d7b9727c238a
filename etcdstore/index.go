package etcdstore

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
)

// The local search index. Every server keeps its own, in memory: it is
// loaded at Open with ranged reads of the article keys at one revision,
// then fed by a watch on them from the next revision, so it always holds
// the articles exactly as of one revision (its rev), which only grows.
// When the watch is compacted away (the server was cut off for longer than
// the cluster keeps history) the index is loaded again.
//
// Search first reads the revision of the last write from the cluster and
// waits for the index to reach it, so a search sees every write
// acknowledged before it started, on whichever server it was made.
//
// The index holds every article's analysed title and body and the article
// itself (for results and snippets), so its memory is a few times the
// corpus: fine for hundreds of thousands of articles, not for far more.

// doc is one indexed article.
type doc struct {
	a           *articlesv1.Article
	title, body []search.Token
	// pos maps (field, position) to the term there, for phrases.
	titlePos, bodyPos map[int]string
}

// index is the in-memory inverted index of one Store.
type index struct {
	// mu protects every field below.
	mu   sync.RWMutex
	docs map[string]*doc
	// postings maps a term to the ids of the documents holding it; words
	// maps an unstemmed word to the same, for prefix clauses.
	postings map[string]map[string]struct{}
	words    map[string]map[string]struct{}
	titleLen int64
	bodyLen  int64
	rev      int64
	// wake is closed and replaced whenever rev advances.
	wake chan struct{}
	// recent are the newest change events the watch delivered, oldest
	// first: every event with floor < revision <= rev. Changes serves the
	// server's live feed from them without a watch of its own.
	recent []*articlesv1.ArticleEvent
	floor  int64
}

// recentEvents bounds index.recent.
const recentEvents = 1024

func newIndex() *index {
	return &index{
		docs:     map[string]*doc{},
		postings: map[string]map[string]struct{}{},
		words:    map[string]map[string]struct{}{},
		wake:     make(chan struct{}),
	}
}

// revision returns the index's revision and a channel closed when it next
// advances.
func (ix *index) revision() (int64, <-chan struct{}) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.rev, ix.wake
}

// advanceLocked moves rev forward and wakes waiters. ix.mu must be held.
func (ix *index) advanceLocked(rev int64) {
	if rev > ix.rev {
		ix.rev = rev
		close(ix.wake)
		ix.wake = make(chan struct{})
	}
}

func addTo(m map[string]map[string]struct{}, k, id string) {
	set := m[k]
	if set == nil {
		set = map[string]struct{}{}
		m[k] = set
	}
	set[id] = struct{}{}
}

func removeFrom(m map[string]map[string]struct{}, k, id string) {
	if set := m[k]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// putLocked indexes a, replacing its previous version. ix.mu must be held.
func (ix *index) putLocked(a *articlesv1.Article) {
	ix.removeLocked(a.GetId())
	d := &doc{a: a, title: search.Analyze(a.GetTitle()), body: search.Analyze(a.GetBody())}
	d.titlePos = make(map[int]string, len(d.title))
	d.bodyPos = make(map[int]string, len(d.body))
	for _, t := range d.title {
		d.titlePos[t.Pos] = t.Term
		addTo(ix.postings, t.Term, a.GetId())
		addTo(ix.words, t.Word, a.GetId())
	}
	for _, t := range d.body {
		d.bodyPos[t.Pos] = t.Term
		addTo(ix.postings, t.Term, a.GetId())
		addTo(ix.words, t.Word, a.GetId())
	}
	ix.docs[a.GetId()] = d
	ix.titleLen += int64(len(d.title))
	ix.bodyLen += int64(len(d.body))
}

// removeLocked drops the document with the given id, if any. ix.mu must be
// held.
func (ix *index) removeLocked(id string) {
	d := ix.docs[id]
	if d == nil {
		return
	}
	for _, toks := range [][]search.Token{d.title, d.body} {
		for _, t := range toks {
			removeFrom(ix.postings, t.Term, id)
			removeFrom(ix.words, t.Word, id)
		}
	}
	ix.titleLen -= int64(len(d.title))
	ix.bodyLen -= int64(len(d.body))
	delete(ix.docs, id)
}

// loadIndex fills the index with every article as of one revision, read
// in ranges, and returns that revision.
func (s *Store) loadIndex(ctx context.Context) (int64, error) {
	fresh := newIndex()
	prefix := s.prefix + articlePart
	start, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, start, opts...)
		if err != nil {
			return 0, etcdErr(ctx, "load search index", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			a, err := decodeArticle(kv.Value, kv.ModRevision)
			if err != nil {
				return 0, err
			}
			fresh.putLocked(a)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	ix := s.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.docs, ix.postings, ix.words = fresh.docs, fresh.postings, fresh.words
	ix.titleLen, ix.bodyLen = fresh.titleLen, fresh.bodyLen
	// Events before rev are not known: recent starts empty after it.
	ix.recent, ix.floor = nil, max(rev, ix.rev)
	ix.advanceLocked(rev)
	return rev, nil
}

// follow feeds the index from the watch on the article keys, from after
// revision rev, until the store closes. It reconnects after errors and
// reloads the index when its revision has been compacted.
func (s *Store) follow(rev int64) {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.quit
		cancel()
	}()
	pause := time.Duration(0)
	for ctx.Err() == nil {
		err := s.followFrom(ctx, &rev)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errCompactedIndex) {
			if r, lerr := s.loadIndex(ctx); lerr == nil {
				rev = r
				pause = 0
				continue
			}
		}
		pause = min(max(2*pause, 50*time.Millisecond), 2*time.Second)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

var errCompactedIndex = errors.New("etcdstore: index revision compacted")

// followFrom applies watch events after *rev to the index, advancing *rev,
// until the watch ends.
func (s *Store) followFrom(ctx context.Context, rev *int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// RequireLeader: a member cut off from the cluster ends the watch, and
	// the retry finds a member that is not.
	wch := s.cli.Watch(clientv3.WithRequireLeader(wctx), s.prefix+articlePart,
		clientv3.WithPrefix(), clientv3.WithRev(*rev+1), clientv3.WithPrevKV())
	for wr := range wch {
		if wr.CompactRevision != 0 {
			return errCompactedIndex
		}
		if err := wr.Err(); err != nil {
			return err
		}
		ix := s.ix
		ix.mu.Lock()
		for _, ev := range wr.Events {
			if ev.Kv.ModRevision <= *rev {
				continue // a resumed watch may repeat what was applied
			}
			e, err := s.event(ev)
			if err != nil {
				// A corrupt value: leave the index without it rather than
				// stop following; Get and Changes report the corruption.
				*rev = max(*rev, ev.Kv.ModRevision)
				continue
			}
			if ev.Type == mvccpb.DELETE {
				ix.removeLocked(e.GetArticle().GetId())
			} else {
				ix.putLocked(e.GetArticle())
			}
			ix.recent = append(ix.recent, e)
			if n := len(ix.recent); n > recentEvents {
				ix.floor = ix.recent[n-recentEvents-1].GetRevision()
				ix.recent = slices.Delete(ix.recent, 0, n-recentEvents)
			}
			*rev = max(*rev, ev.Kv.ModRevision)
		}
		ix.advanceLocked(*rev)
		ix.mu.Unlock()
	}
	return errors.New("etcdstore: watch closed")
}

// candidate is one matching document.
type candidate struct {
	d     *doc
	score float64
}

// Search returns the articles matching q and f, best first: those at
// positions [offset, offset+limit) of the ranking, with total_size and the
// index's revision. It waits for the local index to reach the revision of
// the last write (read-your-writes across servers), up to ctx's deadline.
// Ranking is BM25 over title and body as in package search; ties go to
// the newest publish time, then the smallest id.
func (s *Store) Search(ctx context.Context, q *search.Query, f articles.Filter, offset, limit int) (*articlesv1.SearchArticlesResponse, error) {
	if q == nil || len(q.Clauses) == 0 {
		return nil, errors.New("etcdstore: search: empty query")
	}
	last, err := s.Revision(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.WaitRevision(ctx, last); err != nil {
		return nil, err
	}
	offset = max(offset, 0)
	ix := s.ix
	ix.mu.RLock()
	resp := &articlesv1.SearchArticlesResponse{Revision: ix.rev}
	cands := ix.rankLocked(q, f)
	ix.mu.RUnlock()

	resp.TotalSize = int32(min(len(cands), math.MaxInt32))
	if limit <= 0 || offset >= len(cands) {
		return resp, nil
	}
	for _, c := range cands[offset:min(len(cands), offset+limit)] {
		text := c.d.a.GetBody()
		if strings.TrimSpace(text) == "" {
			text = c.d.a.GetSummary()
		}
		resp.Results = append(resp.Results, &articlesv1.SearchResult{
			Article: cloneArticle(c.d.a),
			Score:   c.score,
			Snippet: search.Snippet(text, q, 0),
		})
	}
	return resp, nil
}

// rankLocked returns every document matching q and f, best first. ix.mu
// must be held (read).
func (ix *index) rankLocked(q *search.Query, f articles.Filter) []candidate {
	scorer := search.NewScorer(len(ix.docs), ix.titleLen, ix.bodyLen)
	type clauseHits struct {
		c    search.Clause
		hits map[*doc][2]int // title and body frequencies
	}
	var included []clauseHits
	excluded := map[*doc]bool{}
	for _, c := range q.Clauses {
		hits := ix.hitsLocked(c)
		if c.Negated {
			for d := range hits {
				excluded[d] = true
			}
			continue
		}
		if len(hits) == 0 {
			return nil
		}
		included = append(included, clauseHits{c, hits})
	}
	if len(included) == 0 {
		return nil
	}
	idfs := make([]float64, len(included))
	shortest := 0
	for i, ch := range included {
		idfs[i] = scorer.IDF(len(ch.hits))
		if len(ch.hits) < len(included[shortest].hits) {
			shortest = i
		}
	}
	var cands []candidate
	for d := range included[shortest].hits {
		if excluded[d] || !f.Match(d.a) {
			continue
		}
		c := candidate{d: d}
		all := true
		for i, ch := range included {
			tf, ok := ch.hits[d]
			if !ok {
				all = false
				break
			}
			c.score += scorer.Score(idfs[i], tf[0], tf[1], len(d.title), len(d.body))
		}
		if all {
			cands = append(cands, c)
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		ap, bp := a.d.a.GetPublishTime(), b.d.a.GetPublishTime()
		if (ap == nil) != (bp == nil) {
			if ap != nil {
				return -1
			}
			return 1
		}
		if ap != nil {
			if c := bp.AsTime().Compare(ap.AsTime()); c != 0 {
				return c
			}
		}
		return strings.Compare(a.d.a.GetId(), b.d.a.GetId())
	})
	return cands
}

// hitsLocked returns the documents matching clause c (ignoring negation)
// with c's frequency in their title and body.
func (ix *index) hitsLocked(c search.Clause) map[*doc][2]int {
	hits := map[*doc][2]int{}
	if c.Prefix {
		p := c.Terms[0]
		for w, ids := range ix.words {
			if !strings.HasPrefix(w, p) {
				continue
			}
			for id := range ids {
				d := ix.docs[id]
				if d == nil {
					continue
				}
				if _, seen := hits[d]; !seen {
					hits[d] = [2]int{countPrefix(d.title, p), countPrefix(d.body, p)}
				}
			}
		}
		return hits
	}
	for id := range ix.postings[c.Terms[0]] {
		d := ix.docs[id]
		if d == nil {
			continue
		}
		tf := [2]int{countClause(d.title, d.titlePos, c), countClause(d.body, d.bodyPos, c)}
		if tf[0]+tf[1] > 0 {
			hits[d] = tf
		}
	}
	return hits
}

// countPrefix counts the tokens whose unstemmed word starts with p.
func countPrefix(toks []search.Token, p string) int {
	n := 0
	for _, t := range toks {
		if strings.HasPrefix(t.Word, p) {
			n++
		}
	}
	return n
}

// countClause counts the occurrences of a word or phrase clause.
func countClause(toks []search.Token, pos map[int]string, c search.Clause) int {
	n := 0
	for _, t := range toks {
		if t.Term != c.Terms[0] {
			continue
		}
		match := true
		for i := 1; i < len(c.Terms); i++ {
			if pos[t.Pos+c.Pos[i]] != c.Terms[i] {
				match = false
				break
			}
		}
		if match {
			n++
		}
	}
	return n
}

// cloneArticle returns a copy the caller may keep.
func cloneArticle(a *articlesv1.Article) *articlesv1.Article {
	return proto.Clone(a).(*articlesv1.Article)
}

// recentFrom returns the events with revision >= from that the index
// holds, at most limit, copied for the caller, and whether the index can
// answer: it must have reached last and hold every event from from on.
func (ix *index) recentFrom(from, last int64, limit int) ([]*articlesv1.ArticleEvent, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.rev < last || from <= ix.floor {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(ix.recent, from, func(e *articlesv1.ArticleEvent, rev int64) int {
		return cmp.Compare(e.GetRevision(), rev)
	})
	var out []*articlesv1.ArticleEvent
	for _, e := range ix.recent[i:] {
		if len(out) >= limit {
			break
		}
		out = append(out, proto.Clone(e).(*articlesv1.ArticleEvent))
	}
	return out, true
}
