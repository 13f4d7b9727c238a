package fulltext

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"

	"go.etcd.io/bbolt"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
)

// Query evaluation. Each clause becomes its live documents in docnum
// order (postings), decoded straight from the segments' posting lists
// into flat arrays that are reused from search to search: a document's
// weighted frequency of the clause (TitleWeight*title + body, which is
// what BM25 reads) and its weighted length. Positions are decoded only
// for the documents every word of a phrase occurs in; a prefix sums the
// frequencies of its terms in a table over each segment's docnum range.
// The rarest included clause then drives: the others are searched for
// each of its documents with galloping searches (docnum order makes each
// search start where the last ended), the scores go into a flat array,
// and only the documents that can be in the requested page (those
// scoring at least its lowest score) are sorted and have their doc
// records read for the tie breaks.

// postings are the live documents matching one clause, in docnum order:
// docs[i] with weighted frequency tf[i] and weighted length dl[i].
type postings struct {
	docs   []uint32
	tf, dl []uint32
}

func (p *postings) len() int { return len(p.docs) }

// grow makes room for n more documents.
func (p *postings) grow(n int) {
	p.docs = slices.Grow(p.docs, n)
	p.tf = slices.Grow(p.tf, n)
	p.dl = slices.Grow(p.dl, n)
}

func (p *postings) add(doc, tf, dl uint32) {
	p.docs = append(p.docs, doc)
	p.tf = append(p.tf, tf)
	p.dl = append(p.dl, dl)
}

// postingsPool keeps the arrays of earlier searches: a common term's
// arrays are a few hundred kilobytes that would otherwise be allocated
// and cleared for every search.
var postingsPool = sync.Pool{New: func() any { return new(postings) }}

func getPostings() *postings {
	p := postingsPool.Get().(*postings)
	p.docs, p.tf, p.dl = p.docs[:0], p.tf[:0], p.dl[:0]
	return p
}

// weighted returns a field pair weighted as BM25 reads it here: title
// counts TitleWeight times.
func weighted(title, body uint32) uint32 { return search.TitleWeight*title + body }

// uvarint is binary.Uvarint with a fast path for one-byte values, which
// most deltas, lengths and counts are.
func uvarint(v []byte) (uint64, int) {
	if len(v) != 0 && v[0] < 0x80 {
		return uint64(v[0]), 1
	}
	return uvarintSlow(v)
}

// uvarintSlow is binary.Uvarint, out of line so that uvarint inlines.
//
//go:noinline
func uvarintSlow(v []byte) (uint64, int) { return binary.Uvarint(v) }

// deadWalk answers "is docnum n dead?" for increasing n, walking the dead
// set once.
type deadWalk struct {
	d deadSet
	i int
}

func (w *deadWalk) has(n uint32) bool {
	for w.i < len(w.d) && w.d[w.i] < n {
		w.i++
	}
	return w.i < len(w.d) && w.d[w.i] == n
}

// entry is one decoded entry of a posting list.
type entry struct {
	doc         uint32
	title, body uint32
	positions   []byte // after the counts
}

// listReader decodes a posting list entry by entry.
type listReader struct {
	v    []byte
	left int
	doc  uint32
	err  error
}

func newListReader(v []byte) listReader {
	n, _, entries, err := parseListHeader(v, nil)
	if err != nil {
		return listReader{err: err}
	}
	return listReader{v: entries, left: n}
}

// next decodes the next entry into e; false at the end or on error.
func (r *listReader) next(e *entry) bool {
	if r.left == 0 || r.err != nil {
		return false
	}
	delta, k := uvarint(r.v)
	if k <= 0 || uint64(r.doc)+delta > math.MaxUint32 {
		r.err = errCorruptPost
		return false
	}
	r.v = r.v[k:]
	n, k := uvarint(r.v)
	if k <= 0 || n > uint64(len(r.v)-k) {
		r.err = errCorruptPost
		return false
	}
	p := r.v[k : k+int(n)]
	r.v = r.v[k+int(n):]
	r.doc += uint32(delta)
	r.left--
	t, k1 := uvarint(p)
	if k1 <= 0 {
		r.err = errCorruptPost
		return false
	}
	b, k2 := uvarint(p[k1:])
	if k2 <= 0 || t+b > uint64(len(p)-k1-k2) {
		r.err = errCorruptPost
		return false
	}
	*e = entry{doc: r.doc, title: uint32(t), body: uint32(b), positions: p[k1+k2:]}
	return true
}

// docLen returns the weighted length of docnum num of segment s.
func (s *segment) docLen(num uint32) (uint32, bool) {
	if num < s.lo || num > s.hi {
		return 0, false
	}
	e := s.lens[int(num-s.lo)*docLensSize:]
	return weighted(binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])), true
}

// termPostings appends the live documents of term to out.
func (ix *searchIndex) termPostings(ctx context.Context, term string, out *postings) error {
	key := []byte(term)
	lists := make([][]byte, len(ix.live))
	n := 0
	for i := range ix.live {
		s := &ix.live[i]
		v, err := s.list(key)
		if err != nil {
			return fmt.Errorf("search segment %d: term %q: %w", s.id, term, err)
		}
		lists[i] = v
		if v != nil {
			c, _ := uvarint(v) // checked by newListReader
			n += int(min(c, uint64(len(v))))
		}
	}
	out.grow(n)
	dead := deadWalk{d: ix.dead}
	var e entry
	for i, v := range lists {
		if v == nil {
			continue
		}
		s := &ix.live[i]
		r := newListReader(v)
		for n := 1; r.next(&e); n++ {
			if n%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if dead.has(e.doc) {
				continue
			}
			dl, ok := s.docLen(e.doc)
			if !ok {
				return errCorruptPost
			}
			out.add(e.doc, weighted(e.title, e.body), dl)
		}
		if r.err != nil {
			return fmt.Errorf("search segment %d: term %q: %w", s.id, term, r.err)
		}
	}
	return nil
}

// prefixTerms returns the terms a prefix clause expands to.
//
// The words stemming leaves unchanged are terms themselves, and are found
// in the segments (the alphabetically first maxPrefixTerms of them); the
// others are in the vocabulary. A term that starts with prefix while none
// of its words does is matched too (rare: "happi*" finds "happy"), as
// stems are prefixes of their words but for their last letters.
func (ix *searchIndex) prefixTerms(prefix string) ([]string, error) {
	terms := map[string]bool{}
	seek := []byte(prefix)
	for _, s := range ix.live {
		it := segmentTerms(s.b, seek, false)
		for n := 0; n < maxPrefixTerms; n++ {
			k, _, ok := it.next()
			if !ok || !bytes.HasPrefix(k, seek) {
				break
			}
			terms[string(k)] = true
		}
		if it.err != nil {
			return nil, fmt.Errorf("search segment %d: prefix %q: %w", s.id, prefix, it.err)
		}
	}
	sorted := slices.Sorted(maps.Keys(terms))
	if len(sorted) > maxPrefixTerms {
		for _, t := range sorted[maxPrefixTerms:] {
			delete(terms, t)
		}
	}
	if ix.words != nil {
		if wb := ix.words.Bucket(wordBucketName(prefix)); wb != nil {
			c := wb.Cursor()
			for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, seek) && len(terms) < maxPrefixTerms; k, v = c.Next() {
				terms[string(v)] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(terms)), nil
}

// prefixPostings appends the live documents with a word starting with
// prefix to out, with the summed frequencies of the terms it expands to.
// Segment by segment, the terms' frequencies are summed in a table over
// the segment's docnum range (the size of its length table), which is
// then swept in docnum order.
func (ix *searchIndex) prefixPostings(ctx context.Context, prefix string, out *postings) error {
	terms, err := ix.prefixTerms(prefix)
	if err != nil || len(terms) == 0 {
		return err
	}
	keys := make([][]byte, len(terms))
	for i, t := range terms {
		keys[i] = []byte(t)
	}
	acc := getPostings() // acc.tf is the table
	defer postingsPool.Put(acc)
	dead := deadWalk{d: ix.dead}
	var e entry
	n := 0
	for i := range ix.live {
		s := &ix.live[i]
		size := int(s.hi-s.lo) + 1
		table := acc.tf[:0]
		table = slices.Grow(table, size)[:size]
		clear(table)
		acc.tf = table
		found := false
		for _, key := range keys {
			v, err := s.list(key)
			if err != nil {
				return fmt.Errorf("search segment %d: prefix %q: %w", s.id, prefix, err)
			}
			if v == nil {
				continue
			}
			found = true
			r := newListReader(v)
			for r.next(&e) {
				if n++; n%ctxCheckEvery == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				if e.doc < s.lo || e.doc > s.hi {
					return errCorruptPost
				}
				table[e.doc-s.lo] += weighted(e.title, e.body)
			}
			if r.err != nil {
				return fmt.Errorf("search segment %d: prefix %q: %w", s.id, prefix, r.err)
			}
		}
		if !found {
			continue
		}
		for j, tf := range table {
			if tf == 0 {
				continue
			}
			doc := s.lo + uint32(j)
			if dead.has(doc) {
				continue
			}
			dl, _ := s.docLen(doc)
			out.add(doc, tf, dl)
		}
	}
	return nil
}

// phrasePostings appends the live documents where c's terms occur at c's
// relative positions to out, counting occurrences in each field (a phrase
// never spans the title and the body). Segment by segment, it walks the
// rarest term's list and finds each of its documents in the other lists
// (all in docnum order, so each list is read once); positions are
// decoded only for the documents that hold every term.
func (ix *searchIndex) phrasePostings(ctx context.Context, c search.Clause, out *postings) error {
	keys := make([][]byte, len(c.Terms))
	for i, t := range c.Terms {
		keys[i] = []byte(t)
	}
	readers := make([]listReader, len(keys))
	cur := make([]entry, len(keys))
	live := make([]bool, len(keys)) // whether cur[k] holds an entry
	pos := make([][2][]int, len(keys))
	next := make([]int, len(keys))
	var pairs pairCounter
	dead := deadWalk{d: ix.dead}
	n := 0
	for i := range ix.live {
		s := &ix.live[i]
		w, missing := 0, false
		for k, key := range keys {
			v, err := s.list(key)
			if err != nil {
				return fmt.Errorf("search segment %d: term %q: %w", s.id, c.Terms[k], err)
			}
			if v == nil {
				missing = true
				break
			}
			readers[k] = newListReader(v)
			live[k] = false
			if readers[k].left < readers[w].left {
				w = k
			}
		}
		if missing {
			continue
		}
		var e0 entry
		for readers[w].next(&e0) {
			if n++; n%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			cur[w], live[w] = e0, true
			all := true
			for k := range readers {
				if k == w {
					continue
				}
				for !live[k] || cur[k].doc < e0.doc {
					if !readers[k].next(&cur[k]) {
						live[k] = false
						break
					}
					live[k] = true
				}
				if !live[k] || cur[k].doc != e0.doc {
					all = false
					break
				}
			}
			if !all || dead.has(e0.doc) {
				continue
			}
			var counts [2]uint32
			if len(keys) == 2 {
				var err error
				if counts, err = pairs.count(cur[0], cur[1], int32(c.Pos[1])); err != nil {
					return err
				}
			} else {
				for k := range keys {
					t, b, err := decodePositions(cur[k], pos[k][0], pos[k][1])
					if err != nil {
						return err
					}
					pos[k] = [2][]int{t, b}
				}
				counts = phraseCounts(pos, c.Pos, next)
			}
			if counts[0]+counts[1] == 0 {
				continue
			}
			dl, ok := s.docLen(e0.doc)
			if !ok {
				return errCorruptPost
			}
			out.add(e0.doc, weighted(counts[0], counts[1]), dl)
		}
		for k := range readers {
			if readers[k].err != nil {
				return fmt.Errorf("search segment %d: term %q: %w", s.id, c.Terms[k], readers[k].err)
			}
		}
	}
	return nil
}

// decodeInt32 decodes n delta-encoded positions from v into buf[:0], and
// returns them and the rest of v; ok is false for corrupt input.
func decodeInt32(v []byte, n uint32, buf []int32) (ps []int32, rest []byte, ok bool) {
	ps = slices.Grow(buf[:0], int(n))[:n]
	var prev int32
	j := 0
	for i := range ps {
		if j < len(v) && v[j] < 0x80 {
			prev += int32(v[j])
			j++
		} else {
			d, k := binary.Uvarint(v[j:])
			if k <= 0 {
				return nil, nil, false
			}
			prev += int32(d)
			j += k
		}
		ps[i] = prev
	}
	return ps, v[j:], true
}

// pairCounter counts two-word phrases, reusing its buffers.
type pairCounter struct{ a, b []int32 }

// count counts, in each field, the positions p of a's term where b's
// term is at p+d.
func (pc *pairCounter) count(a, b entry, d int32) ([2]uint32, error) {
	var counts [2]uint32
	va, vb := a.positions, b.positions
	for field, n := range [2][2]uint32{{a.title, b.title}, {a.body, b.body}} {
		var ok1, ok2 bool
		pc.a, va, ok1 = decodeInt32(va, n[0], pc.a)
		pc.b, vb, ok2 = decodeInt32(vb, n[1], pc.b)
		if !ok1 || !ok2 {
			return counts, errCorruptPost
		}
		pa, pb := pc.a, pc.b
		i, j, c := 0, 0, uint32(0)
		for i < len(pa) && j < len(pb) {
			switch want := pa[i] + d; {
			case pb[j] < want:
				j++
			case pb[j] > want:
				i++
			default:
				c++
				i++
				j++
			}
		}
		counts[field] = c
	}
	return counts, nil
}

// decodePositions returns the title and body positions of e, appended to
// title[:0] and body[:0].
func decodePositions(e entry, title, body []int) ([]int, []int, error) {
	v := e.positions
	read := func(ps []int, n uint32) ([]int, bool) {
		ps = ps[:0]
		prev := 0
		for range n {
			d, k := uvarint(v)
			if k <= 0 {
				return nil, false
			}
			v = v[k:]
			prev += int(d)
			ps = append(ps, prev)
		}
		return ps, true
	}
	title, ok := read(title, e.title)
	if !ok {
		return nil, nil, errCorruptPost
	}
	body, ok = read(body, e.body)
	if !ok {
		return nil, nil, errCorruptPost
	}
	return title, body, nil
}

// clausePostings appends the documents matching clause c to out.
func (ix *searchIndex) clausePostings(ctx context.Context, c search.Clause, out *postings) error {
	switch {
	case c.Prefix:
		return ix.prefixPostings(ctx, c.Terms[0], out)
	case c.IsPhrase():
		return ix.phrasePostings(ctx, c, out)
	case len(c.Terms) == 1:
		return ix.termPostings(ctx, c.Terms[0], out)
	}
	return nil
}

// seek returns the first index at or after from whose docnum is at least
// doc: a galloping search, cheap when the answer is near.
func (p *postings) seek(from int, doc uint32) int {
	docs := p.docs
	if from >= len(docs) || docs[from] >= doc {
		return from
	}
	step := 1
	lo, hi := from, from+1
	for hi < len(docs) && docs[hi] < doc {
		lo = hi
		step *= 2
		hi = from + step
	}
	hi = min(hi, len(docs))
	// docs[lo] < doc; the answer is in (lo, hi].
	i, _ := slices.BinarySearch(docs[lo+1:hi], doc)
	return lo + 1 + i
}

// scratch is the reusable memory of one ranking.
type scratch struct {
	docs   []uint32
	scores []float64
	heap   []float64
}

// kthLargest returns the k-th largest of xs (1 <= k <= len(xs)): a
// min-heap of the k largest so far, which most scores fall below at the
// first comparison.
func (sc *scratch) kthLargest(xs []float64, k int) float64 {
	h := append(sc.heap[:0], xs[:k]...)
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for _, x := range xs[k:] {
		if x > h[0] {
			h[0] = x
			siftDown(h, 0)
		}
	}
	sc.heap = h
	return h[0]
}

// siftDown restores the min-heap order of h below i.
func siftDown(h []float64, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		if r := l + 1; r < len(h) && h[r] < h[l] {
			l = r
		}
		if h[i] <= h[l] {
			return
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// rank returns how many documents match q and f, and the best top of them
// (at least top, if there are so many), best first.
//
// Scores come from the postings alone. Only a filtered search reads the
// doc record of every match; otherwise only the matches scoring at least
// the top-th best score are read, for the publish time and id that break
// ties.
func rank(ctx context.Context, tx *bbolt.Tx, q *search.Query, f articles.Filter, top int) (int, []candidate, error) {
	ix, err := openIndex(tx)
	if err != nil {
		return 0, nil, err
	}
	if ix.docs == nil {
		return 0, nil, nil // never written: empty
	}
	stats, err := readStats(ix.root)
	if err != nil {
		return 0, nil, err
	}
	scorer := search.NewScorer(int(stats.docs), stats.titleLen, stats.bodyLen)
	if err := ix.loadSegments(); err != nil {
		return 0, nil, err
	}
	if _, err := ix.loadDead(0, math.MaxUint32); err != nil {
		return 0, nil, err
	}
	if c := q.Clauses[0]; len(q.Clauses) == 1 && c.IsPhrase() && !c.Negated && f.IsZero() {
		return ix.rankPhrase(ctx, c, scorer, top)
	}
	if terms := plainTerms(q); terms != nil && f.IsZero() {
		if len(terms) == 1 {
			total, cands, _, err := ix.rankTerm(ctx, terms[0], scorer, top)
			return total, cands, err
		}
		return ix.rankTerms(ctx, terms, scorer, top)
	}

	type eval struct {
		p       *postings
		next    int // how far the walk through p has got
		negated bool
		idf     float64
	}
	var evals []*eval
	defer func() {
		for _, e := range evals {
			postingsPool.Put(e.p)
		}
	}()
	for _, c := range q.Clauses {
		e := &eval{p: getPostings(), negated: c.Negated}
		evals = append(evals, e)
		if err := ix.clausePostings(ctx, c, e.p); err != nil {
			return 0, nil, err
		}
		if e.p.len() == 0 && !c.Negated {
			return 0, nil, nil // a required clause matches nothing
		}
	}
	var driver *eval // the rarest included clause: its matches are walked
	for _, e := range evals {
		if !e.negated && (driver == nil || e.p.len() < driver.p.len()) {
			driver = e
		}
	}
	if driver == nil {
		return 0, nil, nil
	}
	for _, e := range evals {
		e.idf = scorer.IDF(e.p.len())
	}

	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	dp := driver.p
	docs := slices.Grow(sc.docs[:0], dp.len())
	scores := slices.Grow(sc.scores[:0], dp.len())
	var cands []candidate // filtered searches only
	for i, doc := range dp.docs {
		if i%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return 0, nil, err
			}
		}
		score, ok := 0.0, true
		for _, e := range evals {
			tf := dp.tf[i]
			if e != driver {
				j := e.p.seek(e.next, doc)
				e.next = j
				found := j < e.p.len() && e.p.docs[j] == doc
				if found == e.negated {
					ok = false
					break
				}
				if e.negated {
					continue
				}
				tf = e.p.tf[j]
			}
			// tf and dl are already weighted: Score sees them as body
			// counts.
			score += scorer.Score(e.idf, 0, int(tf), 0, int(dp.dl[i]))
		}
		if !ok {
			continue
		}
		if !f.IsZero() {
			rec, err := ix.record(doc, true)
			if err != nil {
				return 0, nil, err
			}
			if !f.Match(&articlesv1.Article{Authors: rec.authors, Tags: rec.tags, Source: rec.source, PublishTime: rec.publish}) {
				continue
			}
			c := candidate{doc: doc, score: score}
			c.setRecord(rec)
			cands = append(cands, c)
		}
		docs = append(docs, doc)
		scores = append(scores, score)
	}
	sc.docs, sc.scores = docs, scores
	total := len(docs)
	if top <= 0 || total == 0 {
		return total, nil, nil
	}

	// Keep the matches that can be in the top: those scoring at least the
	// top-th best score (all of them when there are ties at that score).
	kth := math.Inf(-1)
	if total > top {
		kth = sc.kthLargest(scores, top)
	}
	if f.IsZero() {
		for i, doc := range docs {
			if scores[i] >= kth {
				cands = append(cands, candidate{doc: doc, score: scores[i]})
			}
		}
		for i := range cands {
			rec, err := ix.record(cands[i].doc, false)
			if err != nil {
				return 0, nil, err
			}
			cands[i].setRecord(rec)
		}
	} else {
		cands = slices.DeleteFunc(cands, func(c candidate) bool { return c.score < kth })
	}
	sortCandidates(cands)
	return total, cands, nil
}

// rankTerm is rank for a query of one word and no filter, with block-max
// pruning: the exact total is the term's document frequency (the lists'
// counts less their dead documents), and a block of a list is decoded
// only if the best score its table allows (its largest frequency at its
// smallest length) can reach the page, that is, the top-th best score
// found so far. It also returns how many blocks it skipped.
func (ix *searchIndex) rankTerm(ctx context.Context, term string, scorer search.Scorer, top int) (total int, cands []candidate, skipped int, err error) {
	type termList struct {
		s       *segment
		blocks  []block
		entries []byte
	}
	key := []byte(term)
	var lists []termList
	df := 0
	for i := range ix.live {
		s := &ix.live[i]
		v, err := s.list(key)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("search segment %d: term %q: %w", s.id, term, err)
		}
		if v == nil {
			continue
		}
		n, blocks, entries, err := parseListHeader(v, []block{})
		if err != nil {
			return 0, nil, 0, fmt.Errorf("search segment %d: term %q: %w", s.id, term, err)
		}
		dead, err := deadInList(ix.dead, s, blocks, entries)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("search segment %d: term %q: %w", s.id, term, err)
		}
		df += n - dead
		lists = append(lists, termList{s, blocks, entries})
	}
	if df == 0 || top <= 0 {
		return df, nil, 0, nil
	}
	idf := scorer.IDF(df)
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	h := sc.heap[:0]
	dead := deadWalk{d: ix.dead}
	var e entry
	decoded := 0
	for _, l := range lists {
		base, off := uint32(0), 0
		for _, b := range l.blocks {
			ent := l.entries[off : off+b.bytes]
			off += b.bytes
			if len(h) == top {
				// A margin keeps a block whose bound only rounding puts
				// below the page's lowest score.
				if bound := scorer.Score(idf, 0, int(b.maxTF), 0, int(b.minDL)); bound < h[0]*(1-1e-9) {
					base = b.last
					skipped++
					continue
				}
			}
			if decoded++; decoded%(ctxCheckEvery/blockSize) == 0 {
				if err := ctx.Err(); err != nil {
					return 0, nil, 0, err
				}
			}
			r := listReader{v: ent, left: math.MaxInt, doc: base}
			for len(r.v) > 0 && r.next(&e) {
				if dead.has(e.doc) {
					continue
				}
				dl, ok := l.s.docLen(e.doc)
				if !ok {
					return 0, nil, 0, errCorruptPost
				}
				score := scorer.Score(idf, 0, int(weighted(e.title, e.body)), 0, int(dl))
				switch {
				case len(h) < top:
					h = append(h, score)
					siftUp(h, len(h)-1)
				case score > h[0]:
					h[0] = score
					siftDown(h, 0)
				case score < h[0]:
					continue
				}
				cands = append(cands, candidate{doc: e.doc, score: score})
			}
			if r.err != nil || r.doc != b.last {
				return 0, nil, 0, fmt.Errorf("search segment %d: term %q: %w", l.s.id, term, errCorruptPost)
			}
			base = b.last
		}
	}
	kth := math.Inf(-1)
	if df > top {
		kth = h[0]
	}
	sc.heap = h
	cands = slices.DeleteFunc(cands, func(c candidate) bool { return c.score < kth })
	for i := range cands {
		rec, err := ix.record(cands[i].doc, false)
		if err != nil {
			return 0, nil, 0, err
		}
		cands[i].setRecord(rec)
	}
	sortCandidates(cands)
	return df, cands, skipped, nil
}

// deadInList returns how many of the dead documents lie in the list of
// segment s with the given blocks and entries, decoding only the blocks
// that could hold one.
func deadInList(dead deadSet, s *segment, blocks []block, entries []byte) (int, error) {
	i, _ := slices.BinarySearch(dead, s.lo)
	n := 0
	var (
		e       entry
		decoded = -1 // the block whose docs are in docs
		docs    []uint32
	)
	for ; i < len(dead) && dead[i] <= s.hi; i++ {
		d := dead[i]
		j, _ := slices.BinarySearchFunc(blocks, d, func(b block, d uint32) int { return cmp.Compare(b.last, d) })
		if j == len(blocks) {
			break
		}
		if j != decoded {
			base, off := uint32(0), 0
			for _, b := range blocks[:j] {
				base, off = b.last, off+b.bytes
			}
			docs = docs[:0]
			r := listReader{v: entries[off : off+blocks[j].bytes], left: math.MaxInt, doc: base}
			for len(r.v) > 0 && r.next(&e) {
				docs = append(docs, e.doc)
			}
			if r.err != nil {
				return 0, r.err
			}
			decoded = j
		}
		if _, found := slices.BinarySearch(docs, d); found {
			n++
		}
	}
	return n, nil
}

// siftUp restores the min-heap order of h above i.
func siftUp(h []float64, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// sortCandidates sorts the best first: by score, then newest publish time
// (none counts as oldest), then smallest id.
func sortCandidates(cands []candidate) {
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		if a.hasPub != b.hasPub {
			if a.hasPub {
				return -1
			}
			return 1
		}
		if c := b.publish.Compare(a.publish); c != 0 {
			return c
		}
		return bytes.Compare(a.id, b.id)
	})
}

// termCursor walks one term's posting list in one segment, docnum by
// docnum, stepping over whole blocks when it can.
type termCursor struct {
	blocks  []block
	entries []byte
	b       int    // the current block
	off     int    // where the current block's entries start
	v       []byte // what is left of block b's entries, if loaded
	loaded  bool
	doc     uint32 // the current docnum (0 before the first)
	posting []byte // the current entry's posting (nil before the first)
	blk     int    // the block of the current entry
	done    bool
	err     error
	// boundOf is the block whose score bound is in boundScore, plus one
	// (0: none yet).
	boundOf    int
	boundScore float64
}

// fail marks c corrupt.
func (c *termCursor) fail() bool {
	c.err, c.done = errCorruptPost, true
	return false
}

// load makes block c.b's entries the ones to decode, and reports whether
// there is such a block.
func (c *termCursor) load() bool {
	if c.b == len(c.blocks) {
		c.done = true
		return false
	}
	c.v, c.loaded = c.entries[c.off:c.off+c.blocks[c.b].bytes], true
	return true
}

// step decodes the next entry of the loaded block.
func (c *termCursor) step() bool {
	v := c.v
	if len(v) >= 2 && v[0] < 0x80 && v[1] < 0x80 && c.doc < math.MaxUint32-0x80 {
		// Most entries: a delta and a posting length of one byte each.
		n := 2 + int(v[1])
		if n > len(v) {
			return c.fail()
		}
		c.doc += uint32(v[0])
		c.posting, c.v = v[2:n], v[n:]
	} else {
		if len(v) == 0 {
			return c.fail() // the block ends before its last docnum
		}
		delta, k := uvarint(v)
		if k <= 0 || uint64(c.doc)+delta > math.MaxUint32 {
			return c.fail()
		}
		n, k2 := uvarint(v[k:])
		if k2 <= 0 || n > uint64(len(v)-k-k2) {
			return c.fail()
		}
		c.doc += uint32(delta)
		c.posting = v[k+k2 : k+k2+int(n)]
		c.v = v[k+k2+int(n):]
	}
	c.blk = c.b
	if len(c.v) == 0 {
		// The next entry is in the next block.
		if c.doc != c.blocks[c.b].last {
			return c.fail()
		}
		c.off += c.blocks[c.b].bytes
		c.b++
		c.loaded = false
	}
	return true
}

// next moves c to its next entry, and reports whether there is one.
func (c *termCursor) next() bool {
	if c.done || !c.loaded && !c.load() {
		return false
	}
	return c.step()
}

// advance moves c to its first entry with docnum >= doc, and reports
// whether there is one.
func (c *termCursor) advance(doc uint32) bool {
	if c.done {
		return false
	}
	if c.posting != nil && c.doc >= doc {
		return true
	}
	for c.b < len(c.blocks) && c.blocks[c.b].last < doc {
		// The whole block is before doc: step over it.
		c.off += c.blocks[c.b].bytes
		c.doc = c.blocks[c.b].last
		c.b++
		c.loaded = false
	}
	for {
		if !c.loaded && !c.load() || !c.step() {
			return false
		}
		if c.doc >= doc {
			return true
		}
	}
}

// bound returns the highest score (of idf) a document of the block
// holding the current entry can have: BM25 of the block's largest
// weighted frequency at its smallest weighted length. It is computed once
// per block.
func (c *termCursor) bound(scorer search.Scorer, idf float64) float64 {
	if c.boundOf != c.blk+1 {
		c.setBound(scorer, idf)
	}
	return c.boundScore
}

// setBound computes the bound of the current entry's block.
func (c *termCursor) setBound(scorer search.Scorer, idf float64) {
	b := c.blocks[c.blk]
	c.boundOf = c.blk + 1
	c.boundScore = scorer.Score(idf, 0, int(b.maxTF), 0, int(b.minDL))
}

// postingTF returns the weighted frequency of a posting, with a fast path
// for counts under 128 in both fields, which most are.
func postingTF(p []byte) (uint32, error) {
	if len(p) >= 2 && p[0] < 0x80 && p[1] < 0x80 {
		return weighted(uint32(p[0]), uint32(p[1])), nil
	}
	title, body, _, err := postingHeader(p)
	return weighted(uint32(title), uint32(body)), err
}

// minTF returns the least weighted frequency x for which a document of
// the block holding the current entry can score floor when the other
// terms add other: BM25 of x at the block's smallest length, plus other,
// is at least floor. It returns the block's largest frequency plus one if
// none can.
func (c *termCursor) minTF(scorer search.Scorer, idf, other, floor float64) uint32 {
	k := c.blocks[c.blk]
	// BM25 grows with the frequency: a binary search.
	lo, hi := uint32(0), k.maxTF+1
	for lo < hi {
		x := lo + (hi-lo)/2
		if scorer.Score(idf, 0, int(x), 0, int(k.minDL))+other >= floor {
			hi = x
		} else {
			lo = x + 1
		}
	}
	return lo
}

// rankTerms is rank for a query of several words, none excluded, and no
// filter: the words' lists are walked together segment by segment, the
// rarest one's documents found in the others by stepping over whole
// blocks where possible, every common document counted for the exact
// total, and a document scored only if the sum of the bounds of its
// blocks (BM25 of each block's largest frequency at its smallest length)
// can reach the page's lowest score so far.
func (ix *searchIndex) rankTerms(ctx context.Context, terms []string, scorer search.Scorer, top int) (int, []candidate, error) {
	type termList struct {
		blocks  []block
		entries []byte
	}
	lists := make([][]termList, len(terms)) // by term, then segment (nil: absent)
	idf := make([]float64, len(terms))
	for t, term := range terms {
		key := []byte(term)
		lists[t] = make([]termList, len(ix.live))
		df := 0
		for i := range ix.live {
			s := &ix.live[i]
			v, err := s.list(key)
			if err != nil {
				return 0, nil, fmt.Errorf("search segment %d: term %q: %w", s.id, term, err)
			}
			if v == nil {
				continue
			}
			n, blocks, entries, err := parseListHeader(v, []block{})
			if err != nil {
				return 0, nil, fmt.Errorf("search segment %d: term %q: %w", s.id, term, err)
			}
			dead, err := deadInList(ix.dead, s, blocks, entries)
			if err != nil {
				return 0, nil, fmt.Errorf("search segment %d: term %q: %w", s.id, term, err)
			}
			df += n - dead
			lists[t][i] = termList{blocks, entries}
		}
		if df == 0 {
			return 0, nil, nil
		}
		idf[t] = scorer.IDF(df)
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	h := sc.heap[:0]
	var cands []candidate
	dead := deadWalk{d: ix.dead}
	cur := make([]termCursor, len(terms))
	bounds := make([]float64, len(terms)) // each term's bound at the current document
	full := false                         // whether the heap holds top scores
	floor := math.Inf(-1)                 // what a score needs to reach the page, once full
	// For the current blocks and floor: rest is the sum of the terms'
	// bounds, and minTF the driving term's least weighted frequency with
	// which a document can reach floor, the other terms at their bounds.
	// They change with a block or the floor, not from document to
	// document.
	var (
		rest      float64
		minTF     uint32
		restFloor = math.NaN() // the floor rest and minTF are for
	)
	total, n := 0, 0
	for i := range ix.live {
		s := &ix.live[i]
		w := -1 // the rarest term here drives
		for t := range terms {
			l := lists[t][i]
			if l.blocks == nil {
				w = -1
				break
			}
			cur[t] = termCursor{blocks: l.blocks, entries: l.entries}
			if w < 0 || len(l.entries) < len(lists[w][i].entries) {
				w = t
			}
		}
		if w < 0 {
			continue
		}
	docs:
		for cur[w].next() {
			if n++; n%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return 0, nil, err
				}
			}
			d := cur[w].doc
			for t := range cur {
				if t != w && (!cur[t].advance(d) || cur[t].doc != d) {
					if cur[t].done {
						break docs
					}
					continue docs
				}
			}
			if dead.has(d) {
				continue
			}
			total++
			if top <= 0 {
				continue
			}
			left := math.Inf(1) // the bound of the terms not scored yet
			if full {
				changed := floor != restFloor
				for t := range cur {
					if cur[t].boundOf != cur[t].blk+1 {
						cur[t].setBound(scorer, idf[t])
						changed = true
					}
				}
				if changed {
					rest, restFloor = 0, floor
					other := 0.0
					for t := range cur {
						bounds[t] = cur[t].boundScore
						rest += bounds[t]
						if t != w {
							other += bounds[t]
						}
					}
					minTF = 0
					if rest >= floor {
						minTF = cur[w].minTF(scorer, idf[w], other, floor)
					}
				}
				if rest < floor {
					continue
				}
				// The driving term's frequency alone, against the
				// others' bounds, rules out most documents before their
				// length is read and their scores computed.
				tf, err := postingTF(cur[w].posting)
				if err != nil {
					return 0, nil, err
				}
				if tf < minTF {
					continue
				}
				left = rest
			}
			dl, ok := s.docLen(d)
			if !ok {
				return 0, nil, errCorruptPost
			}
			score := 0.0
			for t := range cur {
				title, body, _, err := postingHeader(cur[t].posting)
				if err != nil {
					return 0, nil, err
				}
				score += scorer.Score(idf[t], 0, int(weighted(uint32(title), uint32(body))), 0, int(dl))
				// Drop the document as soon as what is scored and the
				// bound of the rest cannot reach the page.
				if left -= bounds[t]; score+left < floor {
					continue docs
				}
			}
			switch {
			case len(h) < top:
				h = append(h, score)
				siftUp(h, len(h)-1)
				full = len(h) == top
			case score > h[0]:
				h[0] = score
				siftDown(h, 0)
			case score < h[0]:
				continue
			}
			if full {
				// A margin keeps a document whose bound only rounding
				// puts below the page's lowest score.
				floor = h[0] * (1 - 1e-9)
			}
			cands = append(cands, candidate{doc: d, score: score})
		}
		for t := range cur {
			if cur[t].err != nil {
				return 0, nil, fmt.Errorf("search segment %d: term %q: %w", s.id, terms[t], cur[t].err)
			}
		}
	}
	sc.heap = h
	if top <= 0 {
		return total, nil, nil
	}
	kth := math.Inf(-1)
	if total > top {
		kth = h[0]
	}
	cands = slices.DeleteFunc(cands, func(c candidate) bool { return c.score < kth })
	for i := range cands {
		rec, err := ix.record(cands[i].doc, false)
		if err != nil {
			return 0, nil, err
		}
		cands[i].setRecord(rec)
	}
	sortCandidates(cands)
	return total, cands, nil
}

// plainTerms returns the words of q if it is only words (no phrase,
// prefix or exclusion), or nil.
func plainTerms(q *search.Query) []string {
	terms := make([]string, 0, len(q.Clauses))
	for _, c := range q.Clauses {
		if c.Negated || c.Prefix || len(c.Terms) != 1 {
			return nil
		}
		terms = append(terms, c.Terms[0])
	}
	return terms
}

// rankPhrase is rank for a query of one phrase and no filter. A first
// walk of the words' lists finds the documents holding the phrase at
// least once (stopping at the first occurrence), which gives the exact
// total and document frequency, and bounds each one's frequency by the
// least frequent of its words. A second walk counts the occurrences, and
// so scores, only the documents whose bound can reach the page's lowest
// score so far.
func (ix *searchIndex) rankPhrase(ctx context.Context, c search.Clause, scorer search.Scorer, top int) (int, []candidate, error) {
	keys := make([][]byte, len(c.Terms))
	for i, t := range c.Terms {
		keys[i] = []byte(t)
	}
	// cursors sets cur to the words' lists in segment s, the rarest first,
	// or reports that a word is missing there.
	cur := make([]termCursor, len(keys))
	order := make([]int, len(keys)) // cur[j] is the list of word order[j]
	cursors := func(s *segment) (bool, error) {
		for k, key := range keys {
			v, err := s.list(key)
			if err != nil {
				return false, fmt.Errorf("search segment %d: term %q: %w", s.id, c.Terms[k], err)
			}
			if v == nil {
				return false, nil
			}
			_, blocks, entries, err := parseListHeader(v, []block{})
			if err != nil {
				return false, fmt.Errorf("search segment %d: term %q: %w", s.id, c.Terms[k], err)
			}
			cur[k] = termCursor{blocks: blocks, entries: entries}
			order[k] = k
		}
		// The rarest list drives.
		w := 0
		for k := range cur {
			if len(cur[k].entries) < len(cur[w].entries) {
				w = k
			}
		}
		cur[0], cur[w] = cur[w], cur[0]
		order[0], order[w] = order[w], order[0]
		return true, nil
	}
	// at moves every cursor to doc and returns the words' entries there
	// (in phrase order), or false if a word is not in doc.
	ents := make([]entry, len(keys))
	at := func(doc uint32) (bool, error) {
		for j := range cur {
			if !cur[j].advance(doc) || cur[j].doc != doc {
				return false, cur[j].err
			}
			t, b, rest, err := postingHeader(cur[j].posting)
			if err != nil {
				return false, err
			}
			ents[order[j]] = entry{doc: doc, title: uint32(t), body: uint32(b), positions: rest}
		}
		return true, nil
	}
	var pairs pairCounter
	pos := make([][2][]int, len(keys))
	next := make([]int, len(keys))
	count := func(first bool) ([2]uint32, error) {
		if len(keys) == 2 {
			if first {
				ok, err := pairExists(ents[0], ents[1], int32(c.Pos[1]))
				if ok {
					return [2]uint32{0, 1}, err
				}
				return [2]uint32{}, err
			}
			return pairs.count(ents[0], ents[1], int32(c.Pos[1]))
		}
		for k := range keys {
			t, b, err := decodePositions(ents[k], pos[k][0], pos[k][1])
			if err != nil {
				return [2]uint32{}, err
			}
			pos[k] = [2][]int{t, b}
		}
		return phraseCounts(pos, c.Pos, next), nil
	}

	// First walk: the documents holding the phrase, each with its bound.
	found := getPostings() // tf holds the bound
	defer postingsPool.Put(found)
	dead := deadWalk{d: ix.dead}
	n := 0
	for i := range ix.live {
		s := &ix.live[i]
		ok, err := cursors(s)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			continue
		}
		for doc := uint32(0); cur[0].advance(doc); doc = cur[0].doc + 1 {
			if n++; n%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return 0, nil, err
				}
			}
			d := cur[0].doc
			in, err := at(d)
			if err != nil {
				return 0, nil, fmt.Errorf("search segment %d: %w", s.id, err)
			}
			if in && !dead.has(d) {
				counts, err := count(true)
				if err != nil {
					return 0, nil, err
				}
				if counts[0]+counts[1] > 0 {
					bt, bb := ents[0].title, ents[0].body
					for _, e := range ents[1:] {
						bt, bb = min(bt, e.title), min(bb, e.body)
					}
					dl, ok := s.docLen(d)
					if !ok {
						return 0, nil, errCorruptPost
					}
					found.add(d, weighted(bt, bb), dl)
				}
			}
			if d == math.MaxUint32 {
				break
			}
		}
		for j := range cur {
			if cur[j].err != nil {
				return 0, nil, fmt.Errorf("search segment %d: %w", s.id, cur[j].err)
			}
		}
	}
	total := found.len()
	if total == 0 || top <= 0 {
		return total, nil, nil
	}
	idf := scorer.IDF(total)

	// Second walk: exact counts where the bound can reach the page.
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	h := sc.heap[:0]
	var cands []candidate
	f := 0 // index into found
	for i := range ix.live {
		s := &ix.live[i]
		if f < total && found.docs[f] > s.hi {
			continue
		}
		if f == total {
			break
		}
		if ok, err := cursors(s); err != nil || !ok {
			if err != nil {
				return 0, nil, err
			}
			continue
		}
		for ; f < total && found.docs[f] <= s.hi; f++ {
			if f%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return 0, nil, err
				}
			}
			d, dl := found.docs[f], found.dl[f]
			if len(h) == top && scorer.Score(idf, 0, int(found.tf[f]), 0, int(dl)) < h[0]*(1-1e-9) {
				continue
			}
			in, err := at(d)
			if err != nil || !in {
				return 0, nil, fmt.Errorf("search segment %d: phrase document %d: %w", s.id, d, errCorruptPost)
			}
			counts, err := count(false)
			if err != nil {
				return 0, nil, err
			}
			score := scorer.Score(idf, 0, int(weighted(counts[0], counts[1])), 0, int(dl))
			switch {
			case len(h) < top:
				h = append(h, score)
				siftUp(h, len(h)-1)
			case score > h[0]:
				h[0] = score
				siftDown(h, 0)
			case score < h[0]:
				continue
			}
			cands = append(cands, candidate{doc: d, score: score})
		}
	}
	sc.heap = h
	kth := math.Inf(-1)
	if total > top {
		kth = h[0]
	}
	cands = slices.DeleteFunc(cands, func(c candidate) bool { return c.score < kth })
	for i := range cands {
		rec, err := ix.record(cands[i].doc, false)
		if err != nil {
			return 0, nil, err
		}
		cands[i].setRecord(rec)
	}
	sortCandidates(cands)
	return total, cands, nil
}

// pairExists reports whether b's term occurs at p+d for some position p of
// a's term, in either field, decoding only as far as the first.
func pairExists(a, b entry, d int32) (bool, error) {
	va, vb := a.positions, b.positions
	for _, n := range [2][2]uint32{{a.title, b.title}, {a.body, b.body}} {
		var pa, pb int32
		i, j := uint32(0), uint32(0) // positions read of each
		if n[0] > 0 && n[1] > 0 {
			var ok bool
			if pa, va, ok = nextGap(va, pa); !ok {
				return false, errCorruptPost
			}
			if pb, vb, ok = nextGap(vb, pb); !ok {
				return false, errCorruptPost
			}
			i, j = 1, 1
			for {
				want := pa + d
				if pb == want {
					return true, nil
				}
				if pb < want {
					if j == n[1] {
						break
					}
					if pb, vb, ok = nextGap(vb, pb); !ok {
						return false, errCorruptPost
					}
					j++
				} else {
					if i == n[0] {
						break
					}
					if pa, va, ok = nextGap(va, pa); !ok {
						return false, errCorruptPost
					}
					i++
				}
			}
		}
		// Step over the rest of the field to the next one.
		var ok bool
		if va, ok = skipUvarints(va, n[0]-i); !ok {
			return false, errCorruptPost
		}
		if vb, ok = skipUvarints(vb, n[1]-j); !ok {
			return false, errCorruptPost
		}
	}
	return false, nil
}

// nextGap adds the gap at the start of v to p, and returns the sum and the
// rest of v.
func nextGap(v []byte, p int32) (int32, []byte, bool) {
	if len(v) > 0 && v[0] < 0x80 {
		return p + int32(v[0]), v[1:], true
	}
	x, k := binary.Uvarint(v)
	if k <= 0 {
		return 0, nil, false
	}
	return p + int32(x), v[k:], true
}

// skipUvarints returns v after its first n uvarints.
func skipUvarints(v []byte, n uint32) ([]byte, bool) {
	for ; n > 0; n-- {
		k := 0
		for k < len(v) && v[k] >= 0x80 {
			k++
		}
		if k == len(v) || k >= binary.MaxVarintLen64 {
			return nil, false
		}
		v = v[k+1:]
	}
	return v, true
}

var DbgWalk, DbgBound, DbgScored, DbgFull int

// phraseCounts counts, in each field (title, body), the places where the
// words of a phrase stand at their offsets from its first word (offs),
// given each word's positions in the field. Positions are ascending, so
// one pointer per list (next, scratch of one int per word) walks forward
// with the first word's position: a merge, not a search per position.
func phraseCounts(pos [][2][]int, offs []int, next []int) [2]uint32 {
	var counts [2]uint32
	for field := range 2 {
		clear(next)
		for _, p := range pos[0][field] {
			ok := true
			for k := 1; k < len(pos) && ok; k++ {
				ps, want := pos[k][field], p+offs[k]
				for next[k] < len(ps) && ps[next[k]] < want {
					next[k]++
				}
				ok = next[k] < len(ps) && ps[next[k]] == want
			}
			if ok {
				counts[field]++
			}
		}
	}
	return counts
}
