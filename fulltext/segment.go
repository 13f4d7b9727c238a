package fulltext

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.etcd.io/bbolt"
)

// Segments of the full-text index (see the comment at the top of
// search.go for the layout and why).
//
// A segment is written once, by one indexing transaction, and then only
// read, until a merge replaces it. Its postings are those of the documents
// that transaction indexed, whose docnums (taken from one sequence) form
// the segment's range; merges combine segments adjacent in docnum order,
// so live segments have disjoint ranges, and reading them in range order
// reads every posting list in docnum order.

const (
	// mergeFactor is how many segments of one tier a merge combines: at
	// rest there are fewer than mergeFactor segments per tier, and tiers
	// grow by mergeFactor, so the number of segments grows with the
	// logarithm of the number of documents.
	mergeFactor = 4
	// mergeTierBase is the size in documents under which segments are
	// all of the lowest tier. Small enough that the small segments of a
	// stream of single writes merge into larger ones tier by tier, rather
	// than into one growing segment rewritten every few batches.
	mergeTierBase = 64
	// maxSegmentsBehind is how many segments make the indexer merge even
	// while it is behind the feed, and maxSegments how many make it
	// merge before it applies more batches.
	maxSegmentsBehind, maxSegments = 12, 24
	// deadShare: a segment of which at least 1/deadShare of the documents
	// are dead is merged alone, to drop their postings.
	deadShare = 3
)

// mergeStepBytes bounds the posting bytes one merge transaction reads, so
// that a merge holds up indexing about as long as one batch does. (A
// variable so that tests can make merges take many steps.)
var mergeStepBytes = 24 << 20

// segmentInfo is a live segment's entry in the segment table.
type segmentInfo struct {
	id     uint64
	lo, hi uint32 // its first and last docnum
	docs   int    // documents with postings in it (some may be dead)
}

func (s segmentInfo) encode() []byte {
	b := binary.AppendUvarint(nil, uint64(s.lo))
	b = binary.AppendUvarint(b, uint64(s.hi))
	return binary.AppendUvarint(b, uint64(s.docs))
}

func decodeSegmentInfo(k, v []byte) (segmentInfo, error) {
	id, ok := decodeUint(k)
	d := decoder{b: v}
	s := segmentInfo{id: id, lo: uint32(d.uvarint()), hi: uint32(d.uvarint()), docs: int(d.uvarint())}
	if !ok || d.err != nil || s.lo > s.hi {
		return s, fmt.Errorf("corrupt search segment entry %x", k)
	}
	return s, nil
}

// segment is a live segment in one transaction.
type segment struct {
	segmentInfo
	b    *bbolt.Bucket // its chunks and length table (read with list and segmentTerms)
	lens []byte        // its document length table (docLensKey)
}

// docLensKey is the key of a segment's document length table: one byte
// 0x00, which sorts before every chunk key (0x01 and a term).
var docLensKey = []byte{0}

// docLensSize is the size of an entry of a document length table: the
// document's title length and body length in tokens, each a big-endian
// uint32. (Token counts fit: a bbolt value, hence an article, is under
// 2 GiB.)
const docLensSize = 8

// putDocLens sets the entry of docnum num in the length table t of a
// segment whose range starts at lo.
func putDocLens(t []byte, lo, num uint32, titleLen, bodyLen int) {
	e := t[int(num-lo)*docLensSize:]
	binary.BigEndian.PutUint32(e, uint32(min(uint64(titleLen), math.MaxUint32)))
	binary.BigEndian.PutUint32(e[4:], uint32(min(uint64(bodyLen), math.MaxUint32)))
}

// docLens returns the title and body lengths of docnum num from the length
// table of segment s; ok is false if num is outside its range.
func (s *segment) docLens(num uint32) (titleLen, bodyLen int, ok bool) {
	if num < s.lo || num > s.hi {
		return 0, 0, false
	}
	e := s.lens[int(num-s.lo)*docLensSize:]
	return int(binary.BigEndian.Uint32(e)), int(binary.BigEndian.Uint32(e[4:])), true
}

// loadSegments reads the segment table into ix.live, in docnum order.
func (ix *searchIndex) loadSegments() error {
	ix.live = ix.live[:0]
	if ix.segTable == nil {
		return nil
	}
	c := ix.segTable.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		info, err := decodeSegmentInfo(k, v)
		if err != nil {
			return err
		}
		b := ix.segs.Bucket(k)
		if b == nil {
			return fmt.Errorf("search segment %d is missing", info.id)
		}
		lens := b.Get(docLensKey)
		if uint64(len(lens)) != (uint64(info.hi-info.lo)+1)*docLensSize {
			return fmt.Errorf("search segment %d has a corrupt length table", info.id)
		}
		ix.live = append(ix.live, segment{info, b, lens})
	}
	slices.SortFunc(ix.live, func(a, b segment) int { return int(int64(a.lo) - int64(b.lo)) })
	return nil
}

// segmentDoc is a document to write into a new segment.
type segmentDoc struct {
	num uint32
	an  *analysis
}

// writeSegment writes docs, in docnum order, as a new segment. It gathers
// each term's postings with a counting sort (docs stay in docnum order
// within a term) and writes its length table and the chunks of its terms
// in key order into a new bucket, at the end of search_segments: bbolt
// then only appends pages.
func (ix *searchIndex) writeSegment(docs []segmentDoc, pre *prebuiltSegment) error {
	if len(docs) == 0 {
		return nil
	}
	var keys, vals [][]byte
	if pre != nil {
		keys, vals = pre.keys, pre.vals
	} else {
		keys, vals, _ = buildSegment(docs, chunkTarget)
	}
	id, err := ix.segTable.NextSequence()
	if err != nil {
		return err
	}
	b, err := ix.segs.CreateBucket(encodeUint(id))
	if err != nil {
		return err
	}
	b.FillPercent = 1 // written once, in key order
	for i, k := range keys {
		if err := b.Put(k, vals[i]); err != nil {
			return err
		}
	}
	info := segmentInfo{id: id, lo: docs[0].num, hi: docs[len(docs)-1].num, docs: len(docs)}
	return ix.segTable.Put(encodeUint(id), info.encode())
}

// prebuiltSegment is the segment of a batch, built before its
// transaction for the docnums the batch expects.
type prebuiltSegment struct {
	seq, seqAfter uint64 // the docs sequence before and after the batch
	keys, vals    [][]byte
	vocab         []wordTerm // batchVocab of its documents
}

// prebuildSegment builds the segment of items as indexItems would if the
// docs sequence were seq.
func prebuildSegment(items []indexItem, seq uint64) *prebuiltSegment {
	pre := &prebuiltSegment{seq: seq, seqAfter: seq}
	var docs []segmentDoc
	for _, it := range items {
		if it.a == nil {
			continue
		}
		pre.seqAfter++
		if len(it.an.ids) > 0 && pre.seqAfter <= math.MaxUint32 {
			docs = append(docs, segmentDoc{uint32(pre.seqAfter), it.an})
		}
	}
	if len(docs) > 0 {
		pre.keys, pre.vals, _ = buildSegment(docs, chunkTarget)
	}
	pre.vocab = batchVocab(docs)
	return pre
}

// buildSegment returns the keys of the segment of docs (in docnum order)
// in key order, and their values, and its number of terms: first
// docLensKey and the length table (for docnums docs[0].num to the last
// one's; those not in docs have zero entries), then the chunks holding the
// terms and their posting lists (chunks of at least target posting bytes
// but the last), all in one arena (bbolt keeps keys and values until
// commit).
//
// It works document by document rather than term by term: a first pass
// numbers the terms and sizes each list, which places every list in its
// chunk, a second copies each document's postings to the end of their
// lists. Reading the postings in the order they were written is what makes
// it fast: gathering each term's postings from thousands of documents
// misses the cache on almost every one.
func buildSegment(docs []segmentDoc, target int) (keys, vals [][]byte, nterms int) {
	idx, n, names, dict := segmentTermNumbers(docs)
	// The terms are numbered again, densely in order of first use, so
	// that the array below is as long as the segment's terms, not the
	// dictionary's; slot[ti] is term ti's number plus one, 0 until used.
	slot := getSlots(n)
	postings := 0
	for d := range docs {
		postings += len(idx[d])
	}
	m := min(n, postings) // at most this many terms
	var (
		used = make([]int32, 0, m) // by number: the term's number in idx
		tbs  = make([]termBuild, 0, m)
	)
	defer func() { putSlots(slot, used) }()
	for d, sd := range docs {
		dl := weighted(uint32(sd.an.titleLen), uint32(sd.an.bodyLen))
		for i, ti := range idx[d] {
			l := slot[ti] - 1
			if l < 0 {
				l = int32(len(used))
				slot[ti] = l + 1
				used = append(used, ti)
				tbs = append(tbs, termBuild{})
			}
			p := sd.an.posting(i)
			title, body, _, _ := postingHeader(p) // made by analyze
			tbs[l].add(sd.num, len(p), weighted(uint32(title), uint32(body)), dl)
		}
	}
	for l := range tbs {
		tbs[l].finish()
	}
	terms := make([]string, len(used)) // by number
	if dict != nil {
		dict.mu.RLock()
		for l, ti := range used {
			terms[l] = dict.terms[ti]
		}
		dict.mu.RUnlock()
	} else {
		for l, ti := range used {
			terms[l] = names[ti]
		}
	}
	order := make([]int32, len(used))
	for l := range order {
		order[l] = int32(l)
	}
	sortTerms(order, terms)

	// Cut the terms into chunks, and size the arena: the length table,
	// then each chunk's value and key.
	type span struct{ from, to, termBytes, listBytes int } // of order
	var (
		spans []span
		one   [1]block
	)
	lo, hi := docs[0].num, docs[len(docs)-1].num
	tableLen := (int(hi-lo) + 1) * docLensSize
	total := tableLen
	cur := span{}
	for j, ti := range order {
		tb := &tbs[ti]
		cur.termBytes += len(terms[ti])
		cur.listBytes += listHeaderLen(int(tb.count), tb.blocks(&one)) + tb.size
		cur.to = j + 1
		if cur.listBytes >= target || j == len(order)-1 {
			spans = append(spans, cur)
			total += chunkHeaderLen(cur.to-cur.from) + cur.termBytes + cur.listBytes + 1 + len(terms[ti])
			cur = span{from: j + 1}
		}
	}
	arena := make([]byte, total)
	table := arena[:tableLen:tableLen]
	for _, sd := range docs {
		putDocLens(table, lo, sd.num, sd.an.titleLen, sd.an.bodyLen)
	}
	keys = make([][]byte, 1, 1+len(spans))
	vals = make([][]byte, 1, 1+len(spans))
	keys[0], vals[0] = docLensKey, table

	// Write each chunk's count, offsets and terms, and each list's
	// header; from here on a term's size is where its list's next entry
	// goes in the arena, and its last the docnum of the entry before.
	w := tableLen
	var hdr []byte
	for _, sp := range spans {
		n := sp.to - sp.from
		head := chunkHeaderLen(n)
		end := w + head + sp.termBytes + sp.listBytes
		val := arena[w:end:end]
		binary.LittleEndian.PutUint32(val, uint32(n))
		offs, data := val[4:head], val[head:]
		d := 0
		for k, ti := range order[sp.from:sp.to] {
			d += copy(data[d:], terms[ti])
			binary.LittleEndian.PutUint32(offs[4*(k+1):], uint32(d))
		}
		for k, ti := range order[sp.from:sp.to] {
			tb := &tbs[ti]
			hdr = appendListHeader(hdr[:0], int(tb.count), tb.blocks(&one))
			copy(data[d:], hdr)
			d += len(hdr) + tb.size
			binary.LittleEndian.PutUint32(offs[4*(n+k+1):], uint32(d))
			tb.size = w + head + d - tb.size
			tb.cur.last = 0
		}
		lastTerm := terms[order[sp.to-1]]
		key := arena[end : end+1+len(lastTerm) : end+1+len(lastTerm)]
		key[0] = chunkPrefix
		copy(key[1:], lastTerm)
		keys = append(keys, key)
		vals = append(vals, val)
		w = end + len(key)
	}
	for d, sd := range docs {
		for i, ti := range idx[d] {
			tb := &tbs[slot[ti]-1]
			p := sd.an.posting(i)
			w := tb.size
			w += binary.PutUvarint(arena[w:], uint64(sd.num-tb.cur.last))
			w += binary.PutUvarint(arena[w:], uint64(len(p)))
			w += copy(arena[w:], p)
			tb.size = w
			tb.cur.last = sd.num
		}
	}
	return keys, vals, len(order)
}

// termBuild is what buildSegment gathers of one term's list: everything
// its first pass updates per posting is in it, in one cache line, rather
// than in an array per field (a cache miss each, for the rarer terms).
type termBuild struct {
	cur   block   // the list's last block so far
	done  []block // the blocks before cur, if any; after finish, all of them
	count int32   // entries
	n     int32   // entries in cur
	size  int     // bytes of the entries
}

// add records an entry for docnum doc whose posting is plen bytes long,
// of weighted frequency tf in a document of weighted length dl, as
// blockBuilder.add does.
func (tb *termBuild) add(doc uint32, plen int, tf, dl uint32) {
	size := uvarintLen(uint64(doc-tb.cur.last)) + uvarintLen(uint64(plen)) + plen
	tb.size += size
	tb.count++
	if tb.n == blockSize {
		tb.done = append(tb.done, tb.cur)
		tb.n = 0
	}
	if tb.n == 0 {
		tb.cur = block{maxTF: tf, minDL: dl}
	}
	tb.cur.last = doc
	tb.cur.bytes += size
	tb.cur.maxTF = max(tb.cur.maxTF, tf)
	tb.cur.minDL = min(tb.cur.minDL, dl)
	tb.n++
}

// finish closes the list's blocks, after its last add.
func (tb *termBuild) finish() {
	if tb.done != nil {
		tb.done = append(tb.done, tb.cur)
	}
}

// blocks returns the list's block table, in one[0] if it has one block.
// Call it after the last add and finish.
func (tb *termBuild) blocks(one *[1]block) []block {
	if tb.done == nil {
		one[0] = tb.cur
		return one[:]
	}
	return tb.done
}

// sortTerms sorts the term numbers ids by their terms. It sorts by the
// terms' first 8 bytes as one integer, with a radix sort (a byte at a
// time from the last, skipping the bytes all terms share), and compares
// strings only within runs of terms that agree on those 8 bytes: sorting
// a batch's thousands of terms with comparisons took a good part of
// building its segment.
func sortTerms(ids []int32, terms []string) {
	type keyed struct {
		prefix uint64 // the term's first 8 bytes, big-endian, 0-padded
		id     int32
	}
	n := len(ids)
	ks := make([]keyed, n)
	for i, id := range ids {
		var b [8]byte
		copy(b[:], terms[id])
		ks[i] = keyed{binary.BigEndian.Uint64(b[:]), id}
	}
	if n < radixSortMin {
		slices.SortFunc(ks, func(a, b keyed) int {
			if a.prefix != b.prefix {
				return cmp.Compare(a.prefix, b.prefix)
			}
			return strings.Compare(terms[a.id], terms[b.id])
		})
	} else {
		var counts [8][256]int
		for _, k := range ks {
			for d := range 8 {
				counts[d][byte(k.prefix>>(8*d))]++
			}
		}
		tmp := make([]keyed, n)
		for d := range 8 {
			c := &counts[d]
			if c[byte(ks[0].prefix>>(8*d))] == n {
				continue // every term has this byte
			}
			sum := 0
			for b := range c {
				c[b], sum = sum, sum+c[b]
			}
			for _, k := range ks {
				b := byte(k.prefix >> (8 * d))
				tmp[c[b]] = k
				c[b]++
			}
			ks, tmp = tmp, ks
		}
		for i := 0; i < n; {
			j := i + 1
			for j < n && ks[j].prefix == ks[i].prefix {
				j++
			}
			if j-i > 1 {
				slices.SortFunc(ks[i:j], func(a, b keyed) int { return strings.Compare(terms[a.id], terms[b.id]) })
			}
			i = j
		}
	}
	for i := range ks {
		ids[i] = ks[i].id
	}
}

// radixSortMin is the number of terms from which sortTerms sorts by
// radix: below it, a comparison sort does less work than the radix sort's
// tables.
const radixSortMin = 256

// segmentTermNumbers returns the number of each term of each of docs
// (idx[d][i] for docs[d].an.ids[i]), all less than n: the numbers of
// dictionary dict, if every analysis was made with the same one (the
// caller reads the terms it needs from dict), and otherwise (dict nil)
// numbers made here, names[i] being the term of number i.
func segmentTermNumbers(docs []segmentDoc) (idx [][]int32, n int, names []string, dict *termDict) {
	idx = make([][]int32, len(docs))
	dict = docs[0].an.dict
	for d, sd := range docs {
		if sd.an.dict != dict || dict == nil {
			idx = nil
			break
		}
		idx[d] = sd.an.ids
		n = max(n, int(sd.an.maxID)+1)
	}
	if idx != nil {
		return idx, n, nil, dict
	}
	idx = make([][]int32, len(docs))
	termIdx := make(map[string]int32, 4096)
	for d, sd := range docs {
		idx[d] = make([]int32, len(sd.an.ids))
		for i, t := range sd.an.termList() {
			ti, ok := termIdx[t]
			if !ok {
				ti = int32(len(names))
				termIdx[t] = ti
				names = append(names, t)
			}
			idx[d][i] = ti
		}
	}
	return idx, len(names), names, nil
}

// slotPool holds zeroed []int32 for buildSegment's renumbering, as long
// as the dictionary: allocating and clearing one per segment cost as much
// as building a small segment.
var slotPool sync.Pool

// getSlots returns a zeroed []int32 of length n.
func getSlots(n int) []int32 {
	if p, _ := slotPool.Get().(*[]int32); p != nil && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]int32, n, n+n/4)
}

// putSlots zeroes the entries used of s, and keeps s for getSlots.
func putSlots(s []int32, used []int32) {
	for _, ti := range used {
		s[ti] = 0
	}
	slotPool.Put(&s)
}

// uvarintLen returns the length of the uvarint encoding of x.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// deadSet is the dead docnums that live segments still hold, sorted.
type deadSet []uint32

// has reports whether docnum n is dead.
func (d deadSet) has(n uint32) bool {
	if len(d) == 0 {
		return false
	}
	i := sort.Search(len(d), func(i int) bool { return d[i] >= n })
	return i < len(d) && d[i] == n
}

// loadDead reads the dead docnums in [lo, hi] into ix.dead, and returns
// the kill sequence of each.
func (ix *searchIndex) loadDead(lo, hi uint32) ([]uint64, error) {
	ix.dead = ix.dead[:0]
	if ix.deadB == nil {
		return nil, nil
	}
	var seqs []uint64
	c := ix.deadB.Cursor()
	for k, v := c.Seek(docKey(lo)); k != nil; k, v = c.Next() {
		if len(k) != 4 {
			return nil, fmt.Errorf("%w: dead docnum %x", errCorruptDoc, k)
		}
		n := binary.BigEndian.Uint32(k)
		if n > hi {
			break
		}
		seq, ok := decodeUint(v)
		if !ok {
			return nil, fmt.Errorf("%w: dead docnum %d", errCorruptDoc, n)
		}
		ix.dead = append(ix.dead, n)
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// mergeState is a merge in progress, kept in search_index under "merge"
// so that it continues across transactions and restarts.
type mergeState struct {
	out     uint64   // the output segment, not yet in the segment table
	sources []uint64 // the segments it replaces, in docnum order
	// deadSeq is the kill sequence when the merge began: documents dead
	// by then are left out of every part of the output.
	deadSeq uint64
	started bool // whether after is set
	// after is the last term the merge has done: every term up to it is
	// in out's chunks (the last of which ends with it) or had only dead
	// postings, and no later term is.
	after []byte
}

func (m *mergeState) encode() []byte {
	b := binary.AppendUvarint(nil, m.out)
	b = binary.AppendUvarint(b, m.deadSeq)
	b = binary.AppendUvarint(b, uint64(len(m.sources)))
	for _, s := range m.sources {
		b = binary.AppendUvarint(b, s)
	}
	if !m.started {
		return append(b, 0)
	}
	return append(append(b, 1), m.after...)
}

func decodeMergeState(v []byte) (*mergeState, error) {
	d := decoder{b: v}
	m := &mergeState{out: d.uvarint(), deadSeq: d.uvarint()}
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		m.sources = append(m.sources, d.uvarint())
	}
	if d.err != nil || len(d.b) == 0 {
		return nil, errors.New("corrupt search merge state")
	}
	m.started = d.b[0] == 1
	m.after = bytes.Clone(d.b[1:])
	return m, nil
}

// tier returns the merge tier of a segment of n documents.
func tier(n int) int {
	t := 0
	for x := n / mergeTierBase; x >= mergeFactor; x /= mergeFactor {
		t++
	}
	return t
}

// pickMerge returns the segments to merge next, or nil: the newest run of
// at least mergeFactor segments of one tier, or else the segment with the
// largest share of dead documents if that is at least 1/deadShare. New
// segments arrive at the end, and outputs replace their run, so segments
// get smaller from the oldest to the newest and a full run forms at the
// end; a segment merged alone drops its dead postings, which a big old
// segment might otherwise keep for good. With all, any two or more
// segments are merged into one, and a single one with dead documents is
// rewritten (a test hook).
func (ix *searchIndex) pickMerge(all bool) ([]segment, error) {
	live := ix.live
	if all && len(live) >= 2 {
		return live, nil
	}
	if !all && len(live) >= mergeFactor {
		last := tier(live[len(live)-1].docs)
		i := len(live) - 1
		for i > 0 && tier(live[i-1].docs) == last {
			i--
		}
		if len(live)-i >= mergeFactor {
			return live[i:], nil
		}
	}
	if len(live) == 0 || ix.deadB == nil || ix.deadB.Stats().KeyN == 0 {
		return nil, nil
	}
	// Count the dead documents of each segment (ranges are disjoint and
	// sorted).
	dead := make([]int, len(live))
	c := ix.deadB.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 4 {
			return nil, fmt.Errorf("%w: dead docnum %x", errCorruptDoc, k)
		}
		n := binary.BigEndian.Uint32(k)
		i := sort.Search(len(live), func(i int) bool { return live[i].hi >= n })
		if i < len(live) && live[i].lo <= n {
			dead[i]++
		}
	}
	best := -1
	for i, s := range live {
		if dead[i] > 0 && (all || dead[i]*deadShare >= s.docs) &&
			(best < 0 || dead[i]*live[best].docs > dead[best]*s.docs) {
			best = i
		}
	}
	if best < 0 {
		return nil, nil
	}
	return live[best : best+1], nil
}

// mergeDue reports whether mergeStep has work to do, and how many live
// segments there are. While the indexer is behind the feed, merges are
// held back (they would delay the index) unless maxSegmentsBehind segments
// have piled up.
func mergeDue(tx *bbolt.Tx, all, behind bool) (bool, int, error) {
	ix, err := openIndex(tx)
	if err != nil || ix.segTable == nil {
		return false, 0, err
	}
	if err := ix.loadSegments(); err != nil {
		return false, 0, err
	}
	n := len(ix.live)
	if behind && n < maxSegmentsBehind {
		return false, n, nil
	}
	if ix.root.Get(searchIndexMerge) != nil {
		return true, n, nil
	}
	srcs, err := ix.pickMerge(all)
	return srcs != nil, n, err
}

// mergeStep does one bounded step of the current merge, starting one (as
// pickMerge chooses) if none is in progress. It reports whether it did
// anything.
func mergeStep(tx *bbolt.Tx, all bool) (bool, error) {
	ix, err := openIndex(tx)
	if err != nil {
		return false, err
	}
	if err := ix.loadSegments(); err != nil {
		return false, err
	}
	var m *mergeState
	if v := ix.root.Get(searchIndexMerge); v != nil {
		if m, err = decodeMergeState(v); err != nil {
			return false, err
		}
	} else {
		srcs, err := ix.pickMerge(all)
		if srcs == nil || err != nil {
			return false, err
		}
		out, err := ix.segTable.NextSequence()
		if err != nil {
			return false, err
		}
		m = &mergeState{out: out, deadSeq: ix.deadB.Sequence()}
		for _, s := range srcs {
			m.sources = append(m.sources, s.id)
		}
		if _, err := ix.segs.CreateBucket(encodeUint(out)); err != nil {
			return false, err
		}
	}
	out := ix.segs.Bucket(encodeUint(m.out))
	var srcs []segment
	for _, id := range m.sources {
		i := slices.IndexFunc(ix.live, func(s segment) bool { return s.id == id })
		if i < 0 || out == nil {
			// Not in a consistent index: drop the merge.
			if out != nil {
				if err := ix.segs.DeleteBucket(encodeUint(m.out)); err != nil {
					return false, err
				}
			}
			return true, ix.root.Delete(searchIndexMerge)
		}
		srcs = append(srcs, ix.live[i])
	}
	out.FillPercent = 1
	lo, hi := srcs[0].lo, srcs[len(srcs)-1].hi
	deadSeqs, err := ix.loadDead(lo, hi)
	if err != nil {
		return false, err
	}
	if !m.started {
		// The first step writes the output's length table, which sorts
		// before every term: the sources' tables at their places in the
		// output's range, zeros between them. A step that begins
		// unstarted either finishes the merge or takes at least one term
		// and saves started, in the same transaction as the table, so the
		// table is written once; a step lost to a crash took the table
		// with it, and is done again.
		table := make([]byte, (int(hi-lo)+1)*docLensSize)
		for _, s := range srcs {
			copy(table[int(s.lo-lo)*docLensSize:], s.lens)
		}
		if err := out.Put(docLensKey, table); err != nil {
			return false, err
		}
	}

	// Walk the sources' terms in key order, all iterators together, and
	// write the merged lists in chunks. A step ends with its partial
	// chunk, so that the next one starts a chunk after m.after.
	type src struct {
		it         *termIter
		term, list []byte
	}
	cs := make([]src, len(srcs))
	for i, s := range srcs {
		it := segmentTerms(s.b, m.after, m.started) // nil after: from the first term
		term, list, _ := it.next()
		if it.err != nil {
			return false, fmt.Errorf("search segment %d: %w", s.id, it.err)
		}
		cs[i] = src{it, term, list}
	}
	var cb chunkBuilder
	flush := func() error {
		if cb.len() == 0 {
			return nil
		}
		k, v := cb.take()
		return out.Put(k, v)
	}
	read := 0
	var (
		buf, head []byte
		blocks    blockBuilder
	)
	for read < mergeStepBytes {
		var term []byte
		for _, s := range cs {
			if s.term != nil && (term == nil || bytes.Compare(s.term, term) < 0) {
				term = s.term
			}
		}
		if term == nil {
			if err := flush(); err != nil {
				return false, err
			}
			return true, finishMerge(ix, m, srcs, deadSeqs)
		}
		term = bytes.Clone(term)
		buf = buf[:0]
		count := 0
		prev := uint32(0)
		blocks.blocks, blocks.n = blocks.blocks[:0], 0
		for i := range cs {
			s := &cs[i]
			if s.term == nil || !bytes.Equal(s.term, term) {
				continue
			}
			read += len(s.list)
			// An entry whose delta counts from the entry written before
			// it (the source's entry before it was not dropped) is
			// copied as it is stored; only the others are encoded again.
			r := newListReader(s.list)
			dead := deadWalk{d: ix.dead}
			var e entry
			for {
				before, stored := r.doc, r.v
				if !r.next(&e) {
					break
				}
				if dead.has(e.doc) {
					continue
				}
				dl, ok := srcs[i].docLen(e.doc)
				if !ok {
					return false, fmt.Errorf("%w: term %q", errCorruptPost, term)
				}
				raw := stored[:len(stored)-len(r.v)]
				n := len(buf)
				if prev == before {
					buf = append(buf, raw...)
				} else {
					_, k := uvarint(raw)
					_, k2 := uvarint(raw[k:])
					posting := raw[k+k2:]
					buf = binary.AppendUvarint(buf, uint64(e.doc-prev))
					buf = binary.AppendUvarint(buf, uint64(len(posting)))
					buf = append(buf, posting...)
				}
				blocks.add(e.doc, len(buf)-n, weighted(e.title, e.body), dl)
				prev = e.doc
				count++
			}
			if r.err != nil {
				return false, fmt.Errorf("%w: term %q", r.err, term)
			}
			s.term, s.list, _ = s.it.next()
			if s.it.err != nil {
				return false, fmt.Errorf("search segment %d: %w", srcs[i].id, s.it.err)
			}
		}
		if count > 0 {
			head = appendListHeader(head[:0], count, blocks.blocks)
			cb.addParts(term, head, buf)
			if cb.size() >= chunkTarget {
				if err := flush(); err != nil {
					return false, err
				}
			}
		}
		m.started, m.after = true, term
	}
	if err := flush(); err != nil {
		return false, err
	}
	return true, ix.root.Put(searchIndexMerge, m.encode())
}

// finishMerge makes merge m's output live in place of srcs, and forgets
// the dead documents it left out.
func finishMerge(ix *searchIndex, m *mergeState, srcs []segment, deadSeqs []uint64) error {
	info := segmentInfo{id: m.out, lo: srcs[0].lo, hi: srcs[len(srcs)-1].hi}
	for _, s := range srcs {
		info.docs += s.docs
		if err := ix.segTable.Delete(encodeUint(s.id)); err != nil {
			return err
		}
		if err := ix.segs.DeleteBucket(encodeUint(s.id)); err != nil {
			return err
		}
	}
	for i, n := range ix.dead {
		if deadSeqs[i] > m.deadSeq {
			continue // died during the merge: out may hold it
		}
		if err := ix.deadB.Delete(docKey(n)); err != nil {
			return err
		}
		info.docs--
	}
	if err := ix.root.Delete(searchIndexMerge); err != nil {
		return err
	}
	if k, _ := ix.segs.Bucket(encodeUint(m.out)).Cursor().Seek(chunkFirstKey); !isChunkKey(k) || info.docs <= 0 {
		return ix.segs.DeleteBucket(encodeUint(m.out)) // every document died
	}
	return ix.segTable.Put(encodeUint(m.out), info.encode())
}

// Chunks. A segment's terms and their posting lists are stored in chunks:
// each chunk is one value of the segment bucket holding a run of
// consecutive terms (in key order) and their lists, under key chunkPrefix
// (0x01) followed by the chunk's last term. Seeking a cursor to 0x01+term
// thus lands on the only chunk that can hold term (terms hold no 0x00 or
// 0x01 byte, and the length table's key 0x00 sorts before every chunk).
// A chunk closes once its lists hold at least chunkTarget bytes, so a
// segment is a handful of big values rather than a key per term: bbolt
// spends far less on a few large values than on tens of thousands of
// small keys. (A merge step ends with its partial chunk, so chunks vary in
// size; one long posting list makes a chunk bigger than the target.)
//
// A chunk value is, with n its number of terms:
//
//	n                  uint32, little-endian
//	offsets            2n+1 uint32s, little-endian, into the data area
//	data               the n terms' bytes, then the n posting lists
//
// Slot i of the data area is data[offsets[i]:offsets[i+1]]: slots 0 to
// n-1 are the terms, in key order, slots n to 2n-1 their posting lists
// (in the posting list encoding above). offsets[0] is 0 and offsets[2n]
// the data area's length. The fixed-width offsets let a lookup binary
// search the terms without decoding the chunk; every offset read is
// checked, so that corrupt chunks give errCorruptPost, never a panic.

// chunkPrefix is the first byte of chunk keys.
const chunkPrefix = 1

// chunkTargetBytes is the posting bytes at which a chunk closes.
const chunkTargetBytes = 1 << 20

// chunkTarget is chunkTargetBytes, but for tests, which make chunks
// small so that small segments have several.
var chunkTarget = chunkTargetBytes

// chunkFirstKey is the smallest chunk key, sought to find a segment's
// first chunk.
var chunkFirstKey = []byte{chunkPrefix}

// isChunkKey reports whether segment key k is a chunk's.
func isChunkKey(k []byte) bool { return len(k) > 1 && k[0] == chunkPrefix }

// chunkSeekKey returns the key to seek for the chunk that can hold term.
func chunkSeekKey(term []byte) []byte {
	return append(append(make([]byte, 0, 1+len(term)), chunkPrefix), term...)
}

// chunkHeaderLen returns the size of the count and offsets of a chunk of n
// terms.
func chunkHeaderLen(n int) int { return 4 + 4*(2*n+1) }

// chunk is a chunk value being read.
type chunk struct {
	n    int
	offs []byte // the 2n+1 offsets
	data []byte
}

// parseChunk checks v's header and returns the chunk it holds.
func parseChunk(v []byte) (chunk, error) {
	if len(v) < 4 {
		return chunk{}, errCorruptPost
	}
	n := uint64(binary.LittleEndian.Uint32(v))
	head := 4 + 4*(2*n+1)
	if head > uint64(len(v)) {
		return chunk{}, errCorruptPost
	}
	return chunk{n: int(n), offs: v[4:head:head], data: v[head:]}, nil
}

// slot returns slot i of the data area.
func (c *chunk) slot(i int) ([]byte, error) {
	lo := binary.LittleEndian.Uint32(c.offs[4*i:])
	hi := binary.LittleEndian.Uint32(c.offs[4*i+4:])
	if lo > hi || uint64(hi) > uint64(len(c.data)) {
		return nil, errCorruptPost
	}
	return c.data[lo:hi:hi], nil
}

// term returns the term of entry i (0 <= i < c.n).
func (c *chunk) term(i int) ([]byte, error) { return c.slot(i) }

// list returns the posting list of entry i (0 <= i < c.n).
func (c *chunk) list(i int) ([]byte, error) { return c.slot(c.n + i) }

// search returns the index of the first entry whose term is at least
// term, and whether that term is term.
func (c *chunk) search(term []byte) (int, bool, error) {
	lo, hi := 0, c.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		t, err := c.term(mid)
		if err != nil {
			return 0, false, err
		}
		if bytes.Compare(t, term) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == c.n {
		return lo, false, nil
	}
	t, err := c.term(lo)
	return lo, err == nil && bytes.Equal(t, term), err
}

// chunkLookup returns the posting list of term in chunk value v, or nil.
func chunkLookup(v, term []byte) ([]byte, error) {
	c, err := parseChunk(v)
	if err != nil {
		return nil, err
	}
	i, found, err := c.search(term)
	if !found || err != nil {
		return nil, err
	}
	return c.list(i)
}

// list returns the posting list of term in segment s (valid only in its
// transaction), or nil if s has no postings of term.
func (s *segment) list(term []byte) ([]byte, error) {
	return segmentList(s.b, term)
}

// segmentList returns the posting list of term in segment bucket b, or
// nil.
func segmentList(b *bbolt.Bucket, term []byte) ([]byte, error) {
	k, v := b.Cursor().Seek(chunkSeekKey(term))
	if !isChunkKey(k) {
		return nil, nil
	}
	list, err := chunkLookup(v, term)
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %q of segment", err, k[1:])
	}
	return list, nil
}

// termIter walks the terms of a segment and their posting lists, in key
// order, chunk after chunk.
type termIter struct {
	c   *bbolt.Cursor
	ch  chunk
	i   int // the next entry of ch
	err error
}

// segmentTerms returns an iterator over the terms of segment bucket b
// from the first one at least from (nil: the first term), or, with after,
// the first one greater than from.
func segmentTerms(b *bbolt.Bucket, from []byte, after bool) *termIter {
	it := &termIter{c: b.Cursor()}
	k, v := it.c.Seek(chunkSeekKey(from))
	if !isChunkKey(k) {
		return it // done: ch has no entries, and the cursor is past them
	}
	if it.ch, it.err = parseChunk(v); it.err != nil {
		return it
	}
	var found bool
	it.i, found, it.err = it.ch.search(from)
	if found && after {
		it.i++
	}
	return it
}

// next returns the next term and its posting list (valid only in the
// transaction); ok is false at the end or on error (in it.err).
func (it *termIter) next() (term, list []byte, ok bool) {
	for it.err == nil {
		if it.i < it.ch.n {
			if term, it.err = it.ch.term(it.i); it.err != nil {
				break
			}
			if list, it.err = it.ch.list(it.i); it.err != nil {
				break
			}
			it.i++
			return term, list, true
		}
		if it.c == nil {
			break
		}
		k, v := it.c.Next()
		if !isChunkKey(k) {
			it.c = nil
			break
		}
		it.ch, it.i = chunk{}, 0
		it.ch, it.err = parseChunk(v)
	}
	return nil, nil, false
}

// chunkBuilder accumulates terms, in key order, and their posting lists
// into a chunk.
type chunkBuilder struct {
	terms, lists       []byte
	termEnds, listEnds []uint32
}

// add appends term and its list (copying both).
func (b *chunkBuilder) add(term, list []byte) { b.addParts(term, list, nil) }

// addParts appends term and its list, made of head then rest (copying
// all).
func (b *chunkBuilder) addParts(term, head, rest []byte) {
	b.terms = append(b.terms, term...)
	b.lists = append(append(b.lists, head...), rest...)
	b.termEnds = append(b.termEnds, uint32(len(b.terms)))
	b.listEnds = append(b.listEnds, uint32(len(b.lists)))
}

// len returns the number of terms added since the last take.
func (b *chunkBuilder) len() int { return len(b.termEnds) }

// size returns the posting bytes added since the last take.
func (b *chunkBuilder) size() int { return len(b.lists) }

// last returns the last term added.
func (b *chunkBuilder) last() []byte {
	n := len(b.termEnds)
	if n == 0 {
		return nil
	}
	start := uint32(0)
	if n > 1 {
		start = b.termEnds[n-2]
	}
	return b.terms[start:b.termEnds[n-1]]
}

// take returns the key and value of the chunk of the terms added (at
// least one) and starts a new chunk.
func (b *chunkBuilder) take() (key, val []byte) {
	n := len(b.termEnds)
	key = chunkSeekKey(b.last())
	val = make([]byte, chunkHeaderLen(n)+len(b.terms)+len(b.lists))
	binary.LittleEndian.PutUint32(val, uint32(n))
	offs := val[4:]
	for i, e := range b.termEnds {
		binary.LittleEndian.PutUint32(offs[4*(i+1):], e)
	}
	tl := uint32(len(b.terms))
	for i, e := range b.listEnds {
		binary.LittleEndian.PutUint32(offs[4*(n+i+1):], tl+e)
	}
	w := chunkHeaderLen(n)
	w += copy(val[w:], b.terms)
	copy(val[w:], b.lists)
	b.terms, b.lists = b.terms[:0], b.lists[:0]
	b.termEnds, b.listEnds = b.termEnds[:0], b.listEnds[:0]
	return key, val
}
