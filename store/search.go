package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The full-text index. Writes do not touch it: the change log is its
// input. One indexer goroutine per DB (indexer.go, started by Open and
// stopped by Close) wakes on each commit, reads the events after the
// indexed revision in short read transactions, keeps each article's last
// event, and applies them with indexArticle in one write transaction per
// batch (at most indexBatch events or indexBatchBytes of them), which also
// stores the new indexed revision (meta "indexed"). An update finds the
// indexed version by id and removes its postings through its doc record.
//
// Why: a write transaction that indexes touches a bucket per distinct term,
// spread over the whole vocabulary, and bbolt rewrites every page it
// touches on commit. Indexing in each write's (or each import's)
// transaction paid that per write; one batch of thousands of articles pays
// it once, and writers never wait for search work longer than one
// indexing transaction.
//
// Invariants, which keep what clients see unchanged:
//   - Search waits (bounded by its ctx) until the indexed revision is at
//     least the store revision it observed on entry, then ranks and loads
//     its page in one read transaction; the response's revision is the
//     indexed revision. It loads each result from the articles bucket in
//     that transaction; one deleted or rewritten after the indexed
//     revision makes it start over (searchAttempts), and is otherwise
//     left out. A search therefore never misses a write acknowledged
//     before it began, and never returns a deleted article, a stale
//     version, or a version the index did not match.
//   - The change-log compactor never removes an event the indexer has not
//     applied (compact.go), and the indexed revision is stored in the same
//     transaction as the postings, so a crash between a write and its
//     indexing loses nothing: the next Open continues from the stored
//     indexed revision. A file from before this design (no indexed
//     revision) was indexed synchronously and counts as indexed.
//   - Reindex sets the indexed revision to the store's in the transaction
//     that clears the index, rebuilds from the articles bucket, and leaves
//     the writes after that revision to the indexer.
//
// Each indexed article has a document number (docnum): a uint32 taken from
// the sequence of the docs bucket when the article is first indexed and
// kept across updates. Postings are keyed by docnum rather than id to keep
// the keys of the largest bucket short. Nested buckets are named in
// quotes; docnums are 4 big-endian bytes.
//
//	search_postings  term -> bucket: docnum -> posting
//	search_docs      "docs"  -> bucket: docnum -> doc record
//	                 "ids"   -> bucket: id -> docnum
//	                 "words" -> bucket: word[:2] -> bucket: word -> term
//	                 "stats" -> corpus stats
//
// Terms are the Token.Term values of search.Analyze over the title and the
// body. One nested bucket per term (rather than flat term+docnum keys)
// makes indexing append-only: new docnums are the largest, so a write adds
// at the end of each term's bucket instead of shifting the keys of other
// terms, which in one big write transaction (an import, a reindex) costs
// quadratic time in bbolt. The vocabulary is split by its words' first two
// bytes for the same reason, and because a prefix (at least two
// characters) then lies in exactly one bucket. All integers in the values
// below are uvarints.
//
//   - term bucket: its sequence is its number of postings (the term's
//     document frequency), so ranking knows which clause is rarest
//     without reading any posting.
//   - posting: the document's title and body lengths (so that scoring
//     needs no doc record), the term's title and body counts, then its
//     title positions and body positions, each delta-encoded.
//   - doc record: a format byte (1), title and body lengths in tokens, the
//     publish time (0, or 1 then seconds as a zigzag varint and nanos), the
//     id, source, authors and tags (length-prefixed strings, counts first;
//     enough to apply an articles.Filter without loading the article) and
//     the article's distinct terms, sorted and front-coded, so that an
//     update or delete removes exactly its old postings without analysing
//     the old text again.
//   - "words" is the vocabulary of the folded, unstemmed words that
//     stemming changes, which prefix queries (word*) expand; the words it
//     leaves unchanged are terms, found among the term buckets. Words are
//     only added: one that no longer occurs anywhere stays until Reindex,
//     and expands to a term without postings, which is harmless.
//   - corpus stats: number of documents, total title length, total body
//     length (for BM25's average document length), index version.
//
// Caveats: while Reindex runs, searches see only the articles it has
// reached. A filter is applied to the doc records as of the indexed
// revision, so an article whose tags (say) changed during the search may
// be judged on its old ones, though it is returned as it is now. A
// search right after a large import waits for the indexer to catch up
// (about a thousand realistic 5 KB articles a second); if the indexer
// cannot write (a full disk), searches wait until their deadline. A prefix expands to at most maxPrefixTerms distinct terms (the
// alphabetically first ones).

const (
	// maxPrefixTerms bounds the terms one prefix clause expands to.
	maxPrefixTerms = 256
	// reindexBatch is how many articles one Reindex transaction indexes:
	// small enough that writers queued behind it wait well under a second.
	reindexBatch = 200
	// docFormat is the format byte of doc records.
	docFormat = 1
	// searchAttempts bounds how often Search starts over because
	// concurrent writes changed articles of its page.
	searchAttempts = 3
	// ctxCheckEvery is how many postings a search reads between checks of
	// its context.
	ctxCheckEvery = 4096
)

var (
	searchDocsDocs  = []byte("docs")
	searchDocsIDs   = []byte("ids")
	searchDocsWords = []byte("words")
	searchDocsStats = []byte("stats")
	errCorruptDoc   = errors.New("corrupt search doc record")
	errCorruptPost  = errors.New("corrupt search posting")
)

// docKey returns the key of docnum n.
func docKey(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// searchIndex is the index's buckets in one transaction. In a read
// transaction of a database whose index was never written, the nested
// buckets are nil.
type searchIndex struct {
	post, root       *bbolt.Bucket // search_postings, search_docs
	docs, ids, words *bbolt.Bucket
}

// openIndex returns the index's buckets, creating the nested ones when tx
// is writable.
func openIndex(tx *bbolt.Tx) (*searchIndex, error) {
	ix := &searchIndex{post: tx.Bucket(bucketSearchPostings), root: tx.Bucket(bucketSearchDocs)}
	if ix.post == nil || ix.root == nil {
		return nil, errors.New("search buckets are missing")
	}
	for _, nb := range []struct {
		name []byte
		b    **bbolt.Bucket
	}{{searchDocsDocs, &ix.docs}, {searchDocsIDs, &ix.ids}, {searchDocsWords, &ix.words}} {
		if tx.Writable() {
			b, err := ix.root.CreateBucketIfNotExists(nb.name)
			if err != nil {
				return nil, err
			}
			*nb.b = b
		} else {
			*nb.b = ix.root.Bucket(nb.name)
		}
	}
	return ix, nil
}

// wordBucketName returns the name of the vocabulary bucket holding w.
func wordBucketName(w string) []byte { return []byte(w[:min(2, len(w))]) }

// docRecord is a decoded doc record.
type docRecord struct {
	titleLen, bodyLen int
	publish           *timestamppb.Timestamp
	id, source        string
	idRaw             []byte // the id's bytes in the value (valid in its tx)
	authors, tags     []string
	terms             []string
}

func (r *docRecord) encode() []byte {
	b := []byte{docFormat}
	b = binary.AppendUvarint(b, uint64(r.titleLen))
	b = binary.AppendUvarint(b, uint64(r.bodyLen))
	if r.publish == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, r.publish.GetSeconds())
		b = binary.AppendUvarint(b, uint64(r.publish.GetNanos()))
	}
	b = appendString(b, r.id)
	b = appendString(b, r.source)
	b = appendStrings(b, r.authors)
	b = appendStrings(b, r.tags)
	b = binary.AppendUvarint(b, uint64(len(r.terms)))
	prev := ""
	for _, t := range r.terms {
		shared := 0
		for shared < len(prev) && shared < len(t) && prev[shared] == t[shared] {
			shared++
		}
		b = binary.AppendUvarint(b, uint64(shared))
		b = appendString(b, t[shared:])
		prev = t
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// decoder reads the uvarints and strings of an encoded value, remembering
// the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorruptDoc
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorruptDoc
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length or count that must fit in what is left of the value.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.err = errCorruptDoc
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count()
	var ss []string
	for i := 0; i < n && d.err == nil; i++ {
		ss = append(ss, d.string())
	}
	return ss
}

// decodeDoc decodes a doc record. With full false it stops after the
// lengths, publish time and id (left in idRaw, not copied), which is all
// that ranking needs.
func decodeDoc(v []byte, full bool) (docRecord, error) {
	var r docRecord
	if len(v) == 0 || v[0] != docFormat {
		return r, errCorruptDoc
	}
	d := decoder{b: v[1:]}
	r.titleLen = int(d.uvarint())
	r.bodyLen = int(d.uvarint())
	if d.err == nil && len(d.b) > 0 {
		hasTime := d.b[0]
		d.b = d.b[1:]
		if hasTime == 1 {
			r.publish = &timestamppb.Timestamp{Seconds: d.varint(), Nanos: int32(d.uvarint())}
		}
	} else {
		d.err = errCorruptDoc
	}
	if n := d.count(); d.err == nil {
		r.idRaw = d.b[:n:n]
		d.b = d.b[n:]
	}
	if !full || d.err != nil {
		return r, d.err
	}
	r.id = string(r.idRaw)
	r.source = d.string()
	r.authors = d.strings()
	r.tags = d.strings()
	n := d.count()
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		shared := int(d.uvarint())
		if shared > len(prev) {
			d.err = errCorruptDoc
			break
		}
		t := prev[:shared] + d.string()
		r.terms = append(r.terms, t)
		prev = t
	}
	return r, d.err
}

// indexVersion is the version of the index layout this file writes. In
// version 2 each term bucket's sequence is its number of postings (its
// document frequency); an index of version 1 (stats without a version)
// lacks them, and ranking counts postings instead until Reindex.
const indexVersion = 2

// corpusStats are the totals BM25 needs, and the index version.
type corpusStats struct {
	docs, titleLen, bodyLen int64
	version                 uint64
}

func readStats(root *bbolt.Bucket) (corpusStats, error) {
	s := corpusStats{version: indexVersion}
	v := root.Get(searchDocsStats)
	if v == nil {
		return s, nil // an empty index, made by this version
	}
	d := decoder{b: v}
	s.docs = int64(d.uvarint())
	s.titleLen = int64(d.uvarint())
	s.bodyLen = int64(d.uvarint())
	s.version = 1
	if len(d.b) > 0 {
		s.version = d.uvarint()
	}
	if d.err != nil {
		return s, errors.New("corrupt search stats: run reindex")
	}
	return s, nil
}

func writeStats(root *bbolt.Bucket, s corpusStats) error {
	b := binary.AppendUvarint(nil, uint64(max(s.docs, 0)))
	b = binary.AppendUvarint(b, uint64(max(s.titleLen, 0)))
	b = binary.AppendUvarint(b, uint64(max(s.bodyLen, 0)))
	b = binary.AppendUvarint(b, s.version)
	return root.Put(searchDocsStats, b)
}

// analysis is what indexing needs from an article's text, computed from the
// title and body alone: no transaction, no id. Writers compute it before
// they queue their op, in parallel for an import, so that the single
// committer only writes postings.
type analysis struct {
	// title and body are the analysed texts: an analysis applies to an
	// article only if they are still its texts.
	title, body       string
	titleLen, bodyLen int
	// terms are the article's distinct terms, sorted; postings[i] is the
	// encoded posting of terms[i].
	terms    []string
	postings [][]byte
	// vocab holds word, term pairs for the words that stemming changes.
	vocab [][2]string
}

// matches reports whether an is the analysis of a's current text.
func (an *analysis) matches(a *articlesv1.Article) bool {
	return an != nil && an.title == a.GetTitle() && an.body == a.GetBody()
}

// occurrence is one indexed word of an article: the index of its distinct
// word, and its position in its field.
type occurrence struct {
	word  int32
	pos   int32
	title bool
}

// analyze analyses the title and body of a. Each distinct word is stemmed
// once, and the positions of every term are gathered with a counting sort
// into one array, rather than one growing slice per term.
func analyze(a *articlesv1.Article) *analysis {
	an := &analysis{title: a.GetTitle(), body: a.GetBody()}
	wordIdx := make(map[string]int32, 256)
	var words []string
	occs := make([]occurrence, 0, (len(an.title)+len(an.body))/7+1)
	for _, f := range []struct {
		text  string
		title bool
		n     *int
	}{{an.title, true, &an.titleLen}, {an.body, false, &an.bodyLen}} {
		search.ScanWords(f.text, func(w string, pos int) {
			i, ok := wordIdx[w]
			if !ok {
				i = int32(len(words))
				wordIdx[w] = i
				words = append(words, w)
			}
			occs = append(occs, occurrence{word: i, pos: int32(pos), title: f.title})
			*f.n++
		})
	}
	// Stem each distinct word; number the distinct terms.
	termIdx := make(map[string]int32, len(words))
	wordTerm := make([]int32, len(words))
	var terms []string
	for i, w := range words {
		t := search.Stem(w)
		ti, ok := termIdx[t]
		if !ok {
			ti = int32(len(terms))
			termIdx[t] = ti
			terms = append(terms, t)
		}
		wordTerm[i] = ti
		if t != w {
			an.vocab = append(an.vocab, [2]string{w, t})
		}
	}
	// Count each term's occurrences per field, then place positions: the
	// title ones of a term before its body ones, each in text order.
	nTitle := make([]int32, len(terms))
	nBody := make([]int32, len(terms))
	for _, o := range occs {
		if o.title {
			nTitle[wordTerm[o.word]]++
		} else {
			nBody[wordTerm[o.word]]++
		}
	}
	off := make([]int32, len(terms)+1)
	for t := range terms {
		off[t+1] = off[t] + nTitle[t] + nBody[t]
	}
	next := slices.Clone(off[:len(terms)])
	positions := make([]int32, len(occs))
	for _, o := range occs { // title occurrences come first in occs
		t := wordTerm[o.word]
		positions[next[t]] = o.pos
		next[t]++
	}
	// Encode the postings in term order, into one buffer.
	order := make([]int32, len(terms))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(terms[x], terms[y]) })
	an.terms = make([]string, len(terms))
	an.postings = make([][]byte, len(terms))
	buf := make([]byte, 0, 4*len(occs)+16*len(terms))
	for i, t := range order {
		start := len(buf)
		ps := positions[off[t]:off[t+1]]
		buf = appendPosting(buf, ps[:nTitle[t]], ps[nTitle[t]:], an.titleLen, an.bodyLen)
		an.terms[i] = terms[t]
		an.postings[i] = buf[start:len(buf):len(buf)]
	}
	return an
}

// appendPosting appends the posting of a term with the given title and
// body positions in a document whose title and body have titleLen and
// bodyLen tokens.
func appendPosting(b []byte, title, body []int32, titleLen, bodyLen int) []byte {
	b = binary.AppendUvarint(b, uint64(titleLen))
	b = binary.AppendUvarint(b, uint64(bodyLen))
	b = binary.AppendUvarint(b, uint64(len(title)))
	b = binary.AppendUvarint(b, uint64(len(body)))
	for _, ps := range [2][]int32{title, body} {
		prev := int32(0)
		for _, x := range ps {
			b = binary.AppendUvarint(b, uint64(x-prev))
			prev = x
		}
	}
	return b
}

// analyzeAll analyses arts (nil entries are skipped) on up to GOMAXPROCS
// goroutines. The returned wait blocks until arts[i] is analysed and
// returns its analysis; done blocks until every worker has finished.
func analyzeAll(arts []*articlesv1.Article) (wait func(i int) *analysis, done func()) {
	res := make([]*analysis, len(arts))
	ready := make([]chan struct{}, len(arts))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(arts)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(arts) {
					return
				}
				if arts[i] != nil {
					res[i] = analyze(arts[i])
				}
				close(ready[i])
			}
		})
	}
	wait = func(i int) *analysis {
		<-ready[i]
		return res[i]
	}
	return wait, wg.Wait
}

// postingHeader decodes the start of a posting: the document's field
// lengths and the term's count in each field, and returns the positions
// that follow.
func postingHeader(v []byte) (h hit, rest []byte, err error) {
	var f [4]uint64
	for i := range f {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return hit{}, nil, errCorruptPost
		}
		f[i], v = x, v[n:]
	}
	if f[2]+f[3] > uint64(len(v)) || f[0] > math.MaxInt32 || f[1] > math.MaxInt32 {
		return hit{}, nil, errCorruptPost
	}
	return hit{titleLen: int(f[0]), bodyLen: int(f[1]), title: int(f[2]), body: int(f[3])}, v, nil
}

// postingPositions returns the title and body positions of a posting.
// They are appended to title[:0] and body[:0], so that a caller decoding
// many postings can reuse its buffers.
func postingPositions(v []byte, title, body []int) ([]int, []int, error) {
	h, rest, err := postingHeader(v)
	if err != nil {
		return nil, nil, err
	}
	nt, nb := h.title, h.body
	read := func(ps []int, n int) []int {
		ps = ps[:0]
		prev := 0
		for range n {
			d, k := binary.Uvarint(rest)
			if k <= 0 {
				err = errCorruptPost
				return nil
			}
			rest = rest[k:]
			prev += int(d)
			ps = append(ps, prev)
		}
		return ps
	}
	title = read(title, nt)
	if err == nil {
		body = read(body, nb)
	}
	return title, body, err
}

// indexArticle brings the search index from old to new: old nil indexes a
// created article, new nil removes a deleted one, and with old nil an
// article indexed before is found by id and replaced. It runs in the
// indexer's or Reindex's write transaction. pre, if it is the analysis of new's text, saves
// analysing it here; otherwise (nil, or the text changed since) new is
// analysed in the transaction. pb, if not nil, defers the postings of new
// to pb.flush, which must run before the transaction commits.
func indexArticle(tx *bbolt.Tx, old, new *articlesv1.Article, pre *analysis, pb *postingBatch) error {
	ix, err := openIndex(tx)
	if err != nil {
		return err
	}
	if old != nil && pb != nil {
		// old may be an article of pb: its postings must be in place
		// before they are replaced.
		if err := pb.flush(ix); err != nil {
			return err
		}
	}
	stats, err := readStats(ix.root)
	if err != nil {
		return err
	}
	id := new.GetId()
	if new == nil {
		id = old.GetId()
	}
	num, rec, hasNum, found, err := ix.lookup(id)
	if err != nil {
		return err
	}
	if found && new != nil && old != nil && old.GetTitle() == new.GetTitle() && old.GetBody() == new.GetBody() {
		// Only metadata changed: the postings stand, the filter fields in
		// the doc record do not.
		next := recordOf(new, rec.titleLen, rec.bodyLen, rec.terms)
		return ix.docs.Put(docKey(num), next.encode())
	}
	if found {
		if err := ix.removePostings(num, rec.terms); err != nil {
			return err
		}
		stats.docs--
		stats.titleLen -= int64(rec.titleLen)
		stats.bodyLen -= int64(rec.bodyLen)
	}
	if new == nil && hasNum {
		if err := ix.docs.Delete(docKey(num)); err != nil {
			return err
		}
		if err := ix.ids.Delete([]byte(id)); err != nil {
			return err
		}
	}
	if new != nil {
		if !hasNum {
			seq, err := ix.docs.NextSequence()
			if err != nil {
				return err
			}
			if seq > math.MaxUint32 {
				return errors.New("search document numbers are exhausted: run reindex")
			}
			num = uint32(seq)
			if err := ix.ids.Put([]byte(id), docKey(num)); err != nil {
				return err
			}
		}
		if !pre.matches(new) {
			pre = analyze(new)
		}
		titleLen, bodyLen, err := ix.add(num, new, pre, pb)
		if err != nil {
			return err
		}
		stats.docs++
		stats.titleLen += int64(titleLen)
		stats.bodyLen += int64(bodyLen)
	}
	return writeStats(ix.root, stats)
}

// lookup returns the docnum of the article with the given id (hasNum)
// and, if it is indexed, its doc record (indexed). An id without its doc
// record keeps its docnum but counts as not indexed.
func (ix *searchIndex) lookup(id string) (num uint32, rec docRecord, hasNum, indexed bool, err error) {
	v := ix.ids.Get([]byte(id))
	if v == nil {
		return 0, docRecord{}, false, false, nil
	}
	if len(v) != 4 {
		return 0, docRecord{}, false, false, fmt.Errorf("%w: docnum of %q", errCorruptDoc, id)
	}
	num = binary.BigEndian.Uint32(v)
	dv := ix.docs.Get(docKey(num))
	if dv == nil {
		return num, docRecord{}, true, false, nil
	}
	rec, err = decodeDoc(dv, true)
	if err != nil {
		return 0, docRecord{}, false, false, fmt.Errorf("%w: docnum %d", err, num)
	}
	return num, rec, true, true, nil
}

// recordOf returns the doc record of a with the given lengths and terms.
func recordOf(a *articlesv1.Article, titleLen, bodyLen int, terms []string) *docRecord {
	return &docRecord{
		titleLen: titleLen,
		bodyLen:  bodyLen,
		publish:  a.GetPublishTime(),
		id:       a.GetId(),
		source:   a.GetSource(),
		authors:  a.GetAuthors(),
		tags:     a.GetTags(),
		terms:    terms,
	}
}

// removePostings deletes the postings of document num for terms, and the
// term buckets left empty.
func (ix *searchIndex) removePostings(num uint32, terms []string) error {
	key := docKey(num)
	for _, t := range terms {
		b := ix.post.Bucket([]byte(t))
		if b == nil || b.Get(key) == nil {
			continue
		}
		if err := b.Delete(key); err != nil {
			return err
		}
		if err := b.SetSequence(b.Sequence() - 1); err != nil {
			return err
		}
		if k, _ := b.Cursor().First(); k == nil {
			if err := ix.post.DeleteBucket([]byte(t)); err != nil {
				return err
			}
		}
	}
	return nil
}

// add writes the postings, vocabulary and doc record of a as document num,
// from an, the analysis of a's text, and returns its title and body
// lengths. With pb, the postings are left to pb.flush.
func (ix *searchIndex) add(num uint32, a *articlesv1.Article, an *analysis, pb *postingBatch) (int, int, error) {
	key := docKey(num)
	if pb != nil {
		pb.docs = append(pb.docs, pendingDoc{key: key, an: an})
	}
	// In key order, successive bucket lookups walk nearby pages.
	for i, t := range an.terms {
		if pb != nil {
			break // pb.flush writes them
		}
		b, err := ix.termBucket(t)
		if err != nil {
			return 0, 0, fmt.Errorf("term %q: %w", t, err)
		}
		if err := b.Put(key, an.postings[i]); err != nil {
			return 0, 0, err
		}
		// The docnum is new to this bucket: removePostings has taken the
		// document's old postings out.
		if err := b.SetSequence(b.Sequence() + 1); err != nil {
			return 0, 0, err
		}
	}
	for _, v := range an.vocab {
		w, t := v[0], v[1]
		wb := ix.words.Bucket(wordBucketName(w))
		if wb == nil {
			var err error
			if wb, err = ix.words.CreateBucket(wordBucketName(w)); err != nil {
				return 0, 0, err
			}
		}
		if wb.Get([]byte(w)) != nil {
			continue
		}
		if err := wb.Put([]byte(w), []byte(t)); err != nil {
			return 0, 0, err
		}
	}
	rec := recordOf(a, an.titleLen, an.bodyLen, an.terms)
	if err := ix.docs.Put(key, rec.encode()); err != nil {
		return 0, 0, err
	}
	return an.titleLen, an.bodyLen, nil
}

// postingBatch holds the postings of the articles an op creates, so that
// they are written term by term rather than article by article: each term
// bucket is then looked up once per op and receives its new postings in a
// row, and the vocabulary of term buckets is walked once in key order,
// instead of once per article. With hundreds of distinct terms per article
// and tens of thousands in the index, that is most of the cost of
// indexing an import.
type postingBatch struct {
	docs []pendingDoc // in docnum order
}

// pendingDoc is a document whose postings a postingBatch has yet to write.
type pendingDoc struct {
	key []byte // docnum
	an  *analysis
}

// flush writes the pending postings and empties pb.
func (pb *postingBatch) flush(ix *searchIndex) error {
	if len(pb.docs) == 0 {
		return nil
	}
	// Number the distinct terms, then gather each term's (doc, posting)
	// pairs with a counting sort: docs stay in docnum order within a term.
	termIdx := map[string]int32{}
	var terms []string
	var counts []int32
	idx := make([][]int32, len(pb.docs))
	total := 0
	for d, pd := range pb.docs {
		idx[d] = make([]int32, len(pd.an.terms))
		for i, t := range pd.an.terms {
			ti, ok := termIdx[t]
			if !ok {
				ti = int32(len(terms))
				termIdx[t] = ti
				terms = append(terms, t)
				counts = append(counts, 0)
			}
			idx[d][i] = ti
			counts[ti]++
		}
		total += len(pd.an.terms)
	}
	type ref struct{ doc, term int32 }
	off := make([]int32, len(terms)+1)
	for t := range terms {
		off[t+1] = off[t] + counts[t]
	}
	next := slices.Clone(off[:len(terms)])
	refs := make([]ref, total)
	for d, pd := range pb.docs {
		for i := range pd.an.terms {
			ti := idx[d][i]
			refs[next[ti]] = ref{int32(d), int32(i)}
			next[ti]++
		}
	}
	order := make([]int32, len(terms))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(terms[x], terms[y]) })
	for _, ti := range order {
		t := terms[ti]
		b, err := ix.termBucket(t)
		if err != nil {
			return fmt.Errorf("term %q: %w", t, err)
		}
		for _, r := range refs[off[ti]:off[ti+1]] {
			pd := pb.docs[r.doc]
			if err := b.Put(pd.key, pd.an.postings[r.term]); err != nil {
				return err
			}
		}
		// The docnums are new to this bucket (see add).
		if err := b.SetSequence(b.Sequence() + uint64(counts[ti])); err != nil {
			return err
		}
	}
	pb.docs = pb.docs[:0]
	return nil
}

// termBucket returns the posting bucket of term t, creating it if needed.
// It looks the bucket up before creating it: bbolt caches the buckets a
// write transaction has opened, but CreateBucketIfNotExists copies its key
// on every call.
//
// Term buckets fill their pages to termFillPercent rather than bbolt's
// default half: new docnums are the largest, so postings are appended and
// a split page is never written to again but for an update or delete.
func (ix *searchIndex) termBucket(t string) (*bbolt.Bucket, error) {
	b := ix.post.Bucket([]byte(t))
	if b == nil {
		var err error
		if b, err = ix.post.CreateBucket([]byte(t)); err != nil {
			return nil, err
		}
	}
	b.FillPercent = termFillPercent
	return b, nil
}

// termFillPercent is how full term buckets fill their pages; see
// termBucket.
const termFillPercent = 0.9

// hit is one document matching one clause: how often in each field, and
// how long the fields are.
type hit struct {
	doc               uint32
	title, body       int
	titleLen, bodyLen int
}

// termHits returns every document containing term, in docnum order, with
// the raw postings when withValues is set (valid only in tx).
func termHits(ctx context.Context, post *bbolt.Bucket, term string, withValues bool) ([]hit, [][]byte, error) {
	tb := post.Bucket([]byte(term))
	if tb == nil {
		return nil, nil, nil
	}
	return bucketHits(ctx, tb, term, withValues)
}

// bucketHits returns the postings of term bucket tb, as termHits.
func bucketHits(ctx context.Context, tb *bbolt.Bucket, term string, withValues bool) ([]hit, [][]byte, error) {
	hits := make([]hit, 0, min(tb.Sequence(), 1<<20))
	var vals [][]byte
	if withValues {
		vals = make([][]byte, 0, cap(hits))
	}
	c := tb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 4 || v == nil {
			return nil, nil, fmt.Errorf("%w: term %q", errCorruptPost, term)
		}
		h, _, err := postingHeader(v)
		if err != nil {
			return nil, nil, err
		}
		h.doc = binary.BigEndian.Uint32(k)
		hits = append(hits, h)
		if withValues {
			vals = append(vals, v)
		}
		if len(hits)%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
	}
	return hits, vals, nil
}

// clauseHits returns the documents matching clause c, in docnum order, with
// its frequency in each field (for a phrase: occurrences of the whole
// phrase; for a prefix: of all the words it expands to).
func clauseHits(ctx context.Context, ix *searchIndex, c search.Clause) ([]hit, error) {
	post := ix.post
	switch {
	case c.Prefix:
		return prefixHits(ctx, ix, c.Terms[0])
	case c.IsPhrase():
		return phraseHits(ctx, post, c)
	case len(c.Terms) == 1:
		hits, _, err := termHits(ctx, post, c.Terms[0], false)
		return hits, err
	}
	return nil, nil
}

// prefixHits returns the documents with a word starting with prefix.
//
// The words stemming leaves unchanged are terms themselves, and are found
// among the term buckets; the others are in the vocabulary. A term that
// starts with prefix while none of its words does is matched too (rare:
// "happi*" finds "happy"), as stems are prefixes of their words but for
// their last letters.
func prefixHits(ctx context.Context, ix *searchIndex, prefix string) ([]hit, error) {
	terms := map[string]bool{}
	seek := []byte(prefix)
	c := ix.post.Cursor()
	for k, _ := c.Seek(seek); k != nil && bytes.HasPrefix(k, seek) && len(terms) < maxPrefixTerms; k, _ = c.Next() {
		terms[string(k)] = true
	}
	if ix.words != nil {
		if wb := ix.words.Bucket(wordBucketName(prefix)); wb != nil {
			c := wb.Cursor()
			for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, seek) && len(terms) < maxPrefixTerms; k, v = c.Next() {
				terms[string(v)] = true
			}
		}
	}
	post := ix.post
	sum := map[uint32]hit{}
	for t := range terms {
		hits, _, err := termHits(ctx, post, t, false)
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			s, ok := sum[h.doc]
			if !ok {
				s = h
			} else {
				s.title += h.title
				s.body += h.body
			}
			sum[h.doc] = s
		}
	}
	out := make([]hit, 0, len(sum))
	for _, h := range sum {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b hit) int { return cmp.Compare(a.doc, b.doc) })
	return out, nil
}

// phraseHits returns the documents where c's terms occur at c's relative
// positions, counting occurrences in each field. A phrase never spans the
// title and the body.
func phraseHits(ctx context.Context, post *bbolt.Bucket, c search.Clause) ([]hit, error) {
	type list struct {
		hits []hit
		vals [][]byte
	}
	lists := make([]list, len(c.Terms))
	for i, t := range c.Terms {
		hits, vals, err := termHits(ctx, post, t, true)
		if err != nil {
			return nil, err
		}
		if len(hits) == 0 {
			return nil, nil
		}
		lists[i] = list{hits, vals}
	}
	var out []hit
	idx := make([]int, len(lists))
	pos := make([][2][]int, len(lists)) // buffers, reused for every doc
	next := make([]int, len(lists))     // merge pointers into pos[k]
	// Walk the shortest list (the rarest word); find the same doc in the
	// others (all sorted, so each search starts where the last one ended).
	w := 0
	for k := range lists {
		if len(lists[k].hits) < len(lists[w].hits) {
			w = k
		}
	}
	for i0, h0 := range lists[w].hits {
		if i0%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		idx[w] = i0
		all := true
		for k := range lists {
			if k == w {
				continue
			}
			hs := lists[k].hits[idx[k]:]
			j := sort.Search(len(hs), func(j int) bool { return hs[j].doc >= h0.doc })
			idx[k] += j
			if j == len(hs) || hs[j].doc != h0.doc {
				all = false
				break
			}
		}
		if !all {
			continue
		}
		for k := range lists {
			t, b, err := postingPositions(lists[k].vals[idx[k]], pos[k][0], pos[k][1])
			if err != nil {
				return nil, err
			}
			pos[k] = [2][]int{t, b}
		}
		h := hit{doc: h0.doc, titleLen: h0.titleLen, bodyLen: h0.bodyLen}
		for field := range 2 {
			// Positions are ascending, so one pointer per list walks
			// forward with p: a merge, not a search per position.
			n := 0
			clear(next)
			for _, p := range pos[0][field] {
				ok := true
				for k := 1; k < len(lists) && ok; k++ {
					ps, want := pos[k][field], p+c.Pos[k]
					for next[k] < len(ps) && ps[next[k]] < want {
						next[k]++
					}
					ok = next[k] < len(ps) && ps[next[k]] == want
				}
				if ok {
					n++
				}
			}
			if field == 0 {
				h.title = n
			} else {
				h.body = n
			}
		}
		if h.title+h.body > 0 {
			out = append(out, h)
		}
	}
	return out, nil
}

// candidate is one document matching the whole query.
type candidate struct {
	doc     uint32
	score   float64
	publish time.Time // zero when the article has no publish time
	hasPub  bool
	id      []byte // valid in the search's transaction only
}

// Search returns the articles matching q and f, best first: those at
// positions [offset, offset+limit) of the ranking, with total_size (exact
// as of the index's revision) and that revision, all read in one read
// transaction. It first waits (bounded by ctx, whose error it returns)
// until the index reflects every write committed before the call; the
// articles returned are loaded from the store in the same transaction, so
// they are current. An article of the page deleted or rewritten since
// the index's revision (by a write during the call) makes it search again
// once the index has caught up, up to searchAttempts times, and is then
// left out of the page: a result is always the version the index matched.
// next_page_token is left empty. limit <= 0 returns no results, only the
// totals.
//
// Ranking is BM25 with title boosting (see package search), summed over
// the query's included clauses; ties go to the newest publish time (an
// article without one counts as oldest), then to the smaller id. Each
// result carries the full article and a snippet of its body (or, when the
// body is empty, its summary).
func (db *DB) Search(ctx context.Context, q *search.Query, f articles.Filter, offset, limit int) (*articlesv1.SearchArticlesResponse, error) {
	if q == nil || len(q.Clauses) == 0 {
		return nil, errors.New("store: search: empty query")
	}
	offset = max(offset, 0)
	resp := &articlesv1.SearchArticlesResponse{}
	var page []*articlesv1.Article
	var scores []float64
	for attempt := 1; ; attempt++ {
		// The index follows the store asynchronously: wait until it
		// reflects every write committed before this attempt began.
		if err := db.readable(ctx); err != nil {
			return nil, err
		}
		start := db.rev.value()
		if err := db.waitIndexed(ctx, start); err != nil {
			return nil, err
		}
		var changed bool
		err := db.view(ctx, func(tx *bbolt.Tx) error {
			page, scores, changed = nil, nil, false
			rev, err := metaUint(tx, metaIndexed)
			if err != nil {
				return err
			}
			resp.Revision = int64(rev)
			total, cands, err := rank(ctx, tx, q, f, offset+max(limit, 0))
			if err != nil {
				return err
			}
			resp.TotalSize = int32(min(total, math.MaxInt32))
			if limit <= 0 || offset >= len(cands) {
				return nil
			}
			for _, c := range cands[offset:min(len(cands), offset+limit)] {
				a, err := getArticle(tx, string(c.id))
				if err != nil {
					return err
				}
				if a == nil || a.GetRevision() > resp.Revision {
					// Deleted or rewritten since the index's revision
					// (after this call began): its indexed version is
					// gone and the current one may not match.
					changed = true
					continue
				}
				page = append(page, a)
				scores = append(scores, c.score)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: search: %w", err)
		}
		// Writes made during the search changed articles of the page:
		// search again once the index has caught up with them, a few
		// times, then settle for the page without them.
		if !changed || attempt == searchAttempts {
			break
		}
	}
	for i, a := range page {
		text := a.GetBody()
		if strings.TrimSpace(text) == "" {
			text = a.GetSummary()
		}
		resp.Results = append(resp.Results, &articlesv1.SearchResult{
			Article: a,
			Score:   scores[i],
			Snippet: search.Snippet(text, q, 0),
		})
	}
	return resp, nil
}

// rank returns how many documents match q and f, and the best top of them
// (at least top, if there are so many), best first.
//
// Scores come from the postings alone. Only a filtered search reads the
// doc record of every match; otherwise only the matches scoring at least
// the top-th best score are read, for the publish time and id that break
// ties, so a common term costs one pass over its postings.
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

	// Evaluate the clauses. A word clause of a version 2 index is only
	// opened: its bucket's sequence is its document frequency, so it is
	// read in full only if it is about as rare as the rarest included
	// clause, and otherwise probed for each candidate.
	type eval struct {
		hits    []hit         // every matching document, in docnum order
		next    int           // how far the walk through hits has got
		probe   *bbolt.Bucket // or, for a word clause not read: its bucket
		df      int
		negated bool
		idf     float64
		term    string // of a word clause, for errors
	}
	var evals []*eval
	for _, c := range q.Clauses {
		e := &eval{negated: c.Negated, term: c.Terms[0]}
		if !c.Prefix && !c.IsPhrase() && stats.version >= 2 {
			if b := ix.post.Bucket([]byte(c.Terms[0])); b != nil {
				e.probe, e.df = b, int(b.Sequence())
			}
		} else {
			hits, err := clauseHits(ctx, ix, c)
			if err != nil {
				return 0, nil, err
			}
			e.hits, e.df = hits, len(hits)
		}
		if e.df == 0 {
			if c.Negated {
				continue // excludes nothing
			}
			return 0, nil, nil // a required clause matches nothing
		}
		evals = append(evals, e)
	}
	var driver *eval // the rarest included clause: its matches are walked
	for _, e := range evals {
		if !e.negated && (driver == nil || e.df < driver.df) {
			driver = e
		}
	}
	if driver == nil {
		return 0, nil, nil
	}
	for _, e := range evals {
		if e.probe != nil && (e == driver || e.df <= 8*driver.df) {
			hits, _, err := bucketHits(ctx, e.probe, e.term, false)
			if err != nil {
				return 0, nil, err
			}
			e.hits, e.probe, e.df = hits, nil, len(hits)
		}
		e.idf = scorer.IDF(e.df)
	}
	// find reports whether doc matches e, with its frequencies.
	find := func(e *eval, doc uint32) (hit, bool, error) {
		if e.probe != nil {
			v := e.probe.Get(docKey(doc))
			if v == nil {
				return hit{}, false, nil
			}
			h, _, err := postingHeader(v)
			return h, true, err
		}
		// Walks go in docnum order: search only what is left.
		rest := e.hits[e.next:]
		j := sort.Search(len(rest), func(j int) bool { return rest[j].doc >= doc })
		e.next += j
		if j == len(rest) || rest[j].doc != doc {
			return hit{}, false, nil
		}
		return rest[j], true, nil
	}

	// At most every driver match is a candidate: one allocation, rather
	// than regrowing through a common term's hundred thousand matches.
	cands := make([]candidate, 0, len(driver.hits))
	for n, h := range driver.hits {
		if n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return 0, nil, err
			}
		}
		c := candidate{doc: h.doc}
		ok := true
		for _, e := range evals {
			fr := h
			if e != driver {
				var found bool
				var err error
				if fr, found, err = find(e, h.doc); err != nil {
					return 0, nil, err
				}
				if found == e.negated {
					ok = false
					break
				}
				if e.negated {
					continue
				}
			}
			c.score += scorer.Score(e.idf, fr.title, fr.body, h.titleLen, h.bodyLen)
		}
		if !ok {
			continue
		}
		if !f.IsZero() {
			rec, err := ix.record(h.doc, true)
			if err != nil {
				return 0, nil, err
			}
			if !f.Match(&articlesv1.Article{Authors: rec.authors, Tags: rec.tags, Source: rec.source, PublishTime: rec.publish}) {
				continue
			}
			c.setRecord(rec)
		}
		cands = append(cands, c)
	}
	total := len(cands)
	if top <= 0 {
		return total, nil, nil
	}

	// Keep the matches that can be in the top: those scoring at least the
	// top-th best score (all of them when there are ties at that score).
	if len(cands) > top {
		scores := make([]float64, len(cands))
		for i, c := range cands {
			scores[i] = c.score
		}
		kth := kthLargest(scores, top)
		keep := cands[:0]
		for _, c := range cands {
			if c.score >= kth {
				keep = append(keep, c)
			}
		}
		cands = keep
	}
	if f.IsZero() {
		for i := range cands {
			rec, err := ix.record(cands[i].doc, false)
			if err != nil {
				return 0, nil, err
			}
			cands[i].setRecord(rec)
		}
	}
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
	return total, cands, nil
}

// record returns the doc record of document num; full as for decodeDoc.
func (ix *searchIndex) record(num uint32, full bool) (docRecord, error) {
	v := ix.docs.Get(docKey(num))
	if v == nil {
		return docRecord{}, fmt.Errorf("search index has postings for unknown document %d: run reindex", num)
	}
	rec, err := decodeDoc(v, full)
	if err != nil {
		return docRecord{}, fmt.Errorf("%w: docnum %d", err, num)
	}
	return rec, nil
}

// setRecord copies the tie-breaking fields of rec into c.
func (c *candidate) setRecord(rec docRecord) {
	c.id = rec.idRaw
	if rec.publish != nil {
		c.publish, c.hasPub = rec.publish.AsTime(), true
	}
}

// kthLargest returns the k-th largest of xs (1 <= k <= len(xs)), reordering
// xs: quickselect, expected linear time.
func kthLargest(xs []float64, k int) float64 {
	lo, hi, want := 0, len(xs)-1, k-1
	for lo < hi {
		pivot := xs[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for xs[i] > pivot {
				i++
			}
			for xs[j] < pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			return xs[want]
		}
	}
	return xs[want]
}

// Reindex rebuilds the search index from the articles: it clears the
// search buckets in one write, which also sets the indexed revision to the
// store's, then indexes the articles (as they are when it reaches them) in
// id order, at most reindexBatch per write, checking ctx between writes.
// The indexer applies the writes made since the clear, so the index is
// complete and consistent once Reindex returns and the indexer has caught
// up (which Search waits for); until then, searches miss the articles it
// has not reached. An interrupted Reindex
// (error, cancelled ctx, crash) leaves a partial index: run it again.
func (db *DB) Reindex(ctx context.Context) error {
	var from int64
	err := db.submit(ctx, func(b *batch) error {
		// The rebuild below reads every article as it is at or after this
		// revision; the indexer applies the events after it.
		from = b.rev
		if err := b.tx.Bucket(bucketMeta).Put(metaIndexed, encodeUint(uint64(from))); err != nil {
			return mutated(err)
		}
		for _, name := range [][]byte{bucketSearchPostings, bucketSearchDocs} {
			if b.tx.Bucket(name) != nil {
				if err := b.tx.DeleteBucket(name); err != nil {
					return mutated(err)
				}
			}
			if _, err := b.tx.CreateBucket(name); err != nil {
				return mutated(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: reindex: clear: %w", err)
	}
	db.setIndexed(from)
	var after []byte // the last id indexed
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			last []byte
			done bool
		)
		err := db.submit(ctx, func(b *batch) error {
			last, done = nil, false
			c := b.tx.Bucket(bucketArticles).Cursor()
			k, _ := c.First()
			if after != nil {
				if k, _ = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, _ = c.Next()
				}
			}
			for n := 0; n < reindexBatch; n++ {
				if k == nil {
					done = true
					return nil
				}
				id := string(k)
				a, err := getArticle(b.tx, id)
				if err != nil {
					return err
				}
				// Indexing a as an update of itself: the indexer may have
				// indexed it already, from an event after the clear, which
				// it will apply again up to a's current version if a's
				// postings are older.
				if err := indexArticle(b.tx, a, a, nil, nil); err != nil {
					return mutated(fmt.Errorf("index %q: %w", id, err))
				}
				last = []byte(id)
				k, _ = c.Next()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: reindex: %w", err)
		}
		if last != nil {
			after = last
		}
		if done {
			return nil
		}
	}
}
