package fulltext

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The index's layout. Each indexing batch (indexer.go) or rebuild batch
// writes one transaction of the engine's file.
//
// The postings are kept in segments, as in an LSM tree: each batch writes
// one new, immutable segment holding the posting lists of the documents
// it indexed, and a background merge (segment.go, run by the indexer
// between batches in transactions of at most mergeStepBytes) combines
// segments and drops the postings of documents deleted or replaced since.
// Merges are tiered (mergeFactor segments of one tier make one of the
// next), so there are a few segments per tier; they wait while the
// indexer is behind unless maxSegmentsBehind segments pile up, and past
// maxSegments batches wait for them. A segment a third of whose documents
// are dead is rewritten alone.
//
// Analysis (analyze) runs on worker goroutines before the transaction;
// a process-wide dictionary (dict.go) stems each distinct word once and
// numbers terms, so that building a segment gathers postings by term
// number.
//
// Why segments: a layout in term order makes every batch touch thousands
// of terms spread over the whole vocabulary, and bbolt rewrites every
// page it touches on commit, so indexing cost would grow with the index.
// A segment is written in key order into a new bucket at the end of
// search_segments: a commit appends pages and rewrites almost nothing.
// Merges rewrite each posting a logarithmic number of times (tiers grow
// by mergeFactor), in big sequential writes. A segment's terms are stored
// in chunks of about chunkTargetBytes of postings, each one bbolt value,
// rather than under a key each: putting a batch's tens of thousands of
// keys into bbolt (sorted inserts, then splitting them into pages on
// commit) is costly.
//
// Invariants:
//   - Search ranks in one read transaction; the response's revision is
//     the applied revision stored in it.
//   - The applied revision is stored in the same transaction as the
//     segment of its batch, so a crash between a write and its indexing
//     loses nothing: the next Open continues from the stored revision. A
//     merge keeps its progress in the index (the "merge" key) and its
//     output out of the segment table until its last step, which swaps
//     them in one transaction, so a crash mid-merge only delays it.
//
// Each indexed version of an article has its own document number
// (docnum): a uint32 taken from the sequence of the docs bucket. An update
// or delete kills the old docnum: its doc record goes, and it is added to
// "dead" (with a kill sequence number), so that searches skip its
// postings in the segments until a merge drops them. Nested buckets are
// named in quotes; docnums are 4 big-endian bytes, segment ids 8.
//
//	search_segments  segment id -> bucket: 0x00 -> document length table
//	                                       0x01 + last term -> chunk of terms and posting lists
//	search_index     "docs"     -> bucket: docnum -> doc record (live documents only)
//	                 "ids"      -> bucket: id -> docnum of its indexed version
//	                 "segments" -> bucket: segment id -> segment entry (the live segments)
//	                 "dead"     -> bucket: docnum -> kill sequence (8 bytes), killed
//	                               documents whose postings a live segment holds
//	                 "words"    -> bucket: word[:2] -> bucket: word -> term
//	                 "stats"    -> corpus stats
//	                 "merge"    -> the merge in progress, if any
//	                 "rebuild"  -> id after which the upgrade's rebuild resumes, if one is due
//
// Terms are the Token.Term values of search.Analyze over the title and the
// body: folded words, never empty and without 0x00 or 0x01 bytes, so the
// length table's key 0x00 sorts before every chunk key (0x01 and the
// chunk's last term), and seeking 0x01 and a term finds the only chunk
// that can hold it. All integers in the values below are uvarints, but for
// the length table's and the chunks' headers.
//
//   - chunk: a run of consecutive terms, in key order, and their posting
//     lists: the number of terms n, then 2n+1 offsets into the data area
//     (each a little-endian uint32), then the data area: the terms' bytes,
//     then the lists. A term or list is the bytes between two consecutive
//     offsets (terms first), so a lookup binary searches the terms without
//     decoding the chunk (segment.go, which also says how chunks are cut).
//
//   - posting list: the number of documents, the block table (blocks.go:
//     for each run of up to 128 entries, its last docnum, byte length,
//     largest frequency and smallest document length), then for each
//     document in docnum order the docnum's difference from the previous
//     one, the length of its posting, and the posting. Queries read a term's list
//     from every live segment, in docnum order, skipping dead docnums; a
//     term's document frequency is the number of live documents found.
//     Document frequencies and corpus stats are therefore exact however
//     the segments lie, and scores are those a fresh rebuild gives.
//   - posting: the term's title and body counts, then its title positions
//     and body positions, each delta-encoded. The document's field lengths
//     are in its segment's length table, not repeated in each posting.
//   - document length table: for each docnum of the segment's range, from
//     its first to its last, an 8-byte entry (docLensSize) at offset
//     8*(docnum-first): the document's title length then its body length
//     in tokens, each a big-endian uint32, so that scoring reads them in
//     O(1) and needs no doc record. Docnums of the range without postings
//     in the segment (an article without terms) have zero entries; a
//     merge's output concatenates its sources' tables, zeros between, and
//     keeps the entries of the dead documents it leaves out.
//   - segment entry: its first and last docnum (live segments' ranges are
//     disjoint, as a merge combines segments adjacent in docnum order) and
//     its number of documents when written, which picks merges.
//   - doc record: a format byte (2), title and body lengths in tokens, the
//     publish time (0, or 1 then seconds as a zigzag varint and nanos), the
//     id, source, authors and tags (length-prefixed strings, counts first;
//     enough to apply an articles.Filter without loading the article).
//   - "words" is the vocabulary of the folded, unstemmed words that
//     stemming changes, which prefix queries (word*) expand; the words it
//     leaves unchanged are terms, found in the segments. Words are only
//     added: one that no longer occurs anywhere stays until a rebuild, and
//     expands to a term without postings, which is harmless.
//   - corpus stats: number of live documents, their total title length and
//     total body length (for BM25's average document length), index
//     version.
//
// Caveats: a filter is applied to the doc records as of the applied
// revision, so an article whose tags (say) changed during the search may
// be judged on its old ones. A search right after a large import waits
// for the indexer to catch up (see BENCHMARKS.md); if the indexer cannot
// write (a full disk), searches wait until their deadline. Many updates
// or deletes leave
// dead postings that searches read and skip until the merges reach them.
// A prefix expands to at most maxPrefixTerms distinct terms (the
// alphabetically first ones).

const (
	// maxPrefixTerms bounds the terms one prefix clause expands to.
	maxPrefixTerms = 256
	// reindexBatch bounds the articles one rebuild
	// transaction indexes, and reindexBatchBytes their text.
	reindexBatch, reindexBatchBytes = 2000, 16 << 20
	// docFormat is the format byte of doc records.
	docFormat = 2
	// searchAttempts bounds how often Search starts over because
	// concurrent writes changed articles of its page.
	searchAttempts = 3
	// ctxCheckEvery is how many postings a search reads between checks of
	// its context.
	ctxCheckEvery = 4096
)

var (
	searchIndexDocs     = []byte("docs")
	searchIndexIDs      = []byte("ids")
	searchIndexSegments = []byte("segments")
	searchIndexDead     = []byte("dead")
	searchIndexWords    = []byte("words")
	searchIndexStats    = []byte("stats")
	searchIndexMerge    = []byte("merge")
	searchIndexRebuild  = []byte("rebuild")
	errCorruptDoc       = errors.New("corrupt search doc record")
	errCorruptPost      = errors.New("corrupt search posting")
)

// docKey returns the key of docnum n.
func docKey(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// searchIndex is the index's buckets in one transaction. In a read
// transaction of a database whose index was never written, the nested
// buckets are nil.
type searchIndex struct {
	segs, root                        *bbolt.Bucket // search_segments, search_index
	docs, ids, segTable, deadB, words *bbolt.Bucket
	live                              []segment // by loadSegments
	dead                              deadSet   // by loadDead
}

// openIndex returns the index's buckets, creating the nested ones when tx
// is writable.
func openIndex(tx *bbolt.Tx) (*searchIndex, error) {
	ix := &searchIndex{segs: tx.Bucket(bucketSearchSegments), root: tx.Bucket(bucketSearchIndex)}
	if ix.segs == nil || ix.root == nil {
		return nil, errors.New("search buckets are missing")
	}
	for _, nb := range []struct {
		name []byte
		b    **bbolt.Bucket
	}{
		{searchIndexDocs, &ix.docs}, {searchIndexIDs, &ix.ids}, {searchIndexSegments, &ix.segTable},
		{searchIndexDead, &ix.deadB}, {searchIndexWords, &ix.words},
	} {
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
}

func (r *docRecord) encode() []byte {
	b := make([]byte, 0, 64+len(r.id)+len(r.source))
	b = append(b, docFormat)
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
	return appendStrings(b, r.tags)
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
	return r, d.err
}

// indexVersion is the version of the index layout this package writes:
// segments with a document length table whose terms are stored in chunks,
// posting lists with block tables (blocks.go).
// Open rebuilds an index of another version.
const indexVersion = 6

// corpusStats are the totals BM25 needs, and the index version.
type corpusStats struct {
	docs, titleLen, bodyLen int64
	version                 uint64
}

func readStats(root *bbolt.Bucket) (corpusStats, error) {
	s := corpusStats{version: indexVersion}
	v := root.Get(searchIndexStats)
	if v == nil {
		return s, nil // an empty index
	}
	d := decoder{b: v}
	s.docs = int64(d.uvarint())
	s.titleLen = int64(d.uvarint())
	s.bodyLen = int64(d.uvarint())
	s.version = d.uvarint()
	if d.err != nil || s.version != indexVersion {
		return s, errors.New("corrupt search stats")
	}
	return s, nil
}

func writeStats(root *bbolt.Bucket, s corpusStats) error {
	b := binary.AppendUvarint(nil, uint64(max(s.docs, 0)))
	b = binary.AppendUvarint(b, uint64(max(s.titleLen, 0)))
	b = binary.AppendUvarint(b, uint64(max(s.bodyLen, 0)))
	b = binary.AppendUvarint(b, indexVersion)
	return root.Put(searchIndexStats, b)
}

// analysis is what indexing needs from an article's text, computed from the
// title and body alone: no transaction, no id, so that the indexer computes
// it on worker goroutines before its write transaction.
type analysis struct {
	// title and body are the analysed texts: an analysis applies to an
	// article only if they are still its texts.
	title, body       string
	titleLen, bodyLen int
	// ids are the numbers in dict of the article's distinct terms, in no
	// particular order (see termList for the terms); the largest is maxID.
	// posting(i) is the encoded posting of term ids[i]: buf[ends[i-1]:
	// ends[i]]. (Slices rather than a slice per term: fewer, smaller
	// allocations.)
	ids   []int32
	dict  *termDict
	maxID int32
	buf   []byte
	ends  []uint32
	// vocab holds the words that stemming changes, with their terms.
	vocab []vocabWord
}

// matches reports whether an is the analysis of a's current text.
func (an *analysis) matches(a *articlesv1.Article) bool {
	return an != nil && an.title == a.GetTitle() && an.body == a.GetBody()
}

// occurrence is one indexed word of an article: its term's index, and its
// position in its field.
type occurrence struct {
	term  int32
	pos   int32
	title bool
}

// analyzer holds the scratch space of one analysing goroutine, reused
// from article to article (through analyzers): after the first few
// articles, analysing one allocates little more than its result.
//
// Its tables are sized to an article, not to the dictionary, so that
// they stay in a processor's nearest caches: an article's distinct words
// are looked up in the shared dictionary (whose table is far bigger than
// those caches) once each, and everything else is local.
type analyzer struct {
	// words is a hash table of the current article's distinct words
	// (entries of other articles have another serial), so that only a
	// word's first occurrence in an article looks it up in the shared
	// dictionary.
	words     []localWord
	wordCount int
	// firsts are the current article's distinct words in the order met
	// (localWord.local indexes them), and wordTerms[i] is the article's
	// index of the term of firsts[i] (-1: a stop word).
	firsts    []firstWord
	wordTerms []int32
	// terms is a hash table from the numbers of the current article's
	// terms to their indexes in the article (entries of other articles
	// have another serial); it has 1<<termBits slots, at most half used.
	terms    []termSlot
	termBits int
	// newTerms maps the current article's terms that the dictionary lacks
	// to its term indexes.
	newTerms map[string]int32
	// ids are the dictionary numbers of the article's terms, by index (-1
	// for a term the dictionary lacks, until it is added).
	ids     []int32
	serial  uint32
	vocab   []vocabWord
	pending []pendingWord
	sink    uint32 // keeps the loads that warm the dictionary's slots
	occs    []occurrence
	nTitle  []int32
	nBody   []int32
	off     []int32
	next    []int32
	pos     []int32
}

// localWord is a word of an analyzer's current article (if serial is the
// analyzer's), and its index in the analyzer's firsts.
type localWord struct {
	serial uint32
	local  int32
	hash   uint64
	w      string
}

// firstWord is a distinct word of an article, with its hash in the
// dictionary.
type firstWord struct {
	w    string
	hash uint64
}

// termSlot maps term number id to the article's index of that term, if
// serial is the analyzer's.
type termSlot struct {
	serial    uint32
	id, local int32
}

// wordSlot returns the slot of word w (hash h) in z.words: the word's own,
// or the free one where it belongs. z.words is at most half full.
func (z *analyzer) wordSlot(w string, h uint64) *localWord {
	mask := len(z.words) - 1
	i := int(h) & mask
	for range len(z.words) {
		s := &z.words[i]
		if s.serial != z.serial || s.hash == h && s.w == w {
			return s
		}
		i = (i + 1) & mask
	}
	panic("fulltext: analyzer word table is full") // it is kept half empty
}

// addWord records word w (hash h) of the current article in slot s (from
// wordSlot), as the article's distinct word local, growing the table when
// it is half full.
func (z *analyzer) addWord(s *localWord, w string, h uint64, local int32) {
	*s = localWord{serial: z.serial, local: local, hash: h, w: w}
	z.wordCount++
	if 2*z.wordCount <= len(z.words) {
		return
	}
	old := z.words
	z.words = make([]localWord, 2*len(old))
	for i := range old {
		if o := &old[i]; o.serial == z.serial {
			*z.wordSlot(o.w, o.hash) = *o
		}
	}
}

// sizeTerms makes z.terms hold at least n terms at most half full.
func (z *analyzer) sizeTerms(n int) {
	if 2*n <= len(z.terms) {
		return
	}
	z.termBits = max(10, bits.Len(uint(2*n-1)))
	z.terms = make([]termSlot, 1<<z.termBits) // serial 0: all free
}

// termIndex returns the article's index of the term numbered id, giving
// it the next index if the article had not met it. z.terms must have
// room for it (sizeTerms).
func (z *analyzer) termIndex(id int32) int32 {
	mask := uint32(len(z.terms) - 1)
	for i := (uint32(id) * 0x9e3779b9) >> (32 - z.termBits); ; i = (i + 1) & mask {
		s := &z.terms[i]
		if s.serial != z.serial {
			ti := int32(len(z.ids))
			*s = termSlot{serial: z.serial, id: id, local: ti}
			z.ids = append(z.ids, id)
			return ti
		}
		if s.id == id {
			return s.local
		}
	}
}

// firstTerm returns the article's index of the term of word w (hash h in
// d), met for the first time in the article, or -1 for a stop word. A
// word d lacks is stemmed, and kept in z.pending to be added to d. The
// caller holds d.mu for reading.
func (z *analyzer) firstTerm(d *termDict, w string, h uint64) int32 {
	if e, ok := d.lookupHash(w, h); ok {
		if e.stop {
			return -1
		}
		if e.changed {
			z.vocab = append(z.vocab, vocabWord{word: w, id: e.term})
		}
		return z.termIndex(e.term)
	}
	if len(w) <= 5 && search.IsStopWord(w) { // stop words are short
		z.pending = append(z.pending, pendingWord{w, "", -1})
		return -1
	}
	t := search.Stem(w)
	var ti int32
	if id, known := d.ids[t]; known {
		ti = z.termIndex(id)
	} else if ti, known = z.newTerms[t]; !known {
		ti = int32(len(z.ids))
		z.newTerms[t] = ti
		z.ids = append(z.ids, -1) // numbered when added to d
	}
	z.pending = append(z.pending, pendingWord{w, t, ti})
	if t != w {
		z.vocab = append(z.vocab, vocabWord{word: w, term: t})
	}
	return ti
}

// vocabWord is a word that stemming changes, and its term: term, or if
// that is empty, the term numbered id in the analysis's dictionary
// (looking up its text then would cost a cache miss per word, for words
// that most batches already know).
type vocabWord struct {
	word, term string
	id         int32
}

// pendingWord is a word of an article that the dictionary lacks: its term
// ("" for a stop word) and the article's index of that term.
type pendingWord struct {
	word, term string
	local      int32
}

// analyzers keeps idle analyzers. Not a sync.Pool: that empties at every
// garbage collection, and the scratch space is worth keeping.
var analyzers = make(chan *analyzer, 8)

// getAnalyzer returns an idle analyzer, or a new one.
func getAnalyzer() *analyzer {
	select {
	case z := <-analyzers:
		return z
	default:
		return &analyzer{
			words:    make([]localWord, 1024),
			newTerms: make(map[string]int32),
		}
	}
}

// putAnalyzer keeps z for reuse, or drops it when enough are kept.
func putAnalyzer(z *analyzer) {
	// They point into the texts.
	clear(z.words)
	clear(z.firsts)
	clear(z.vocab)
	clear(z.pending)
	select {
	case analyzers <- z:
	default:
	}
}

// analyze analyses the title and body of a.
func analyze(a *articlesv1.Article) *analysis {
	z := getAnalyzer()
	an := z.analyze(a)
	putAnalyzer(z)
	return an
}

// analyze analyses the title and body of a. It scans the words,
// numbering the distinct ones; looks each distinct word up in the
// dictionary once, which stems it the first time the process meets it;
// and gathers the positions of every term with a counting sort into one
// array, rather than one growing slice per term.
func (z *analyzer) analyze(a *articlesv1.Article) *analysis {
	d := dictNow()
	an := &analysis{title: a.GetTitle(), body: a.GetBody(), dict: d}
	if z.serial++; z.serial == 0 {
		clear(z.words)
		clear(z.terms)
		z.serial = 1
	}
	z.wordCount = 0
	clear(z.newTerms)
	z.ids, z.vocab, z.pending = z.ids[:0], z.vocab[:0], z.pending[:0]

	// Scan: each occurrence is recorded with its word's index in firsts
	// (in occurrence.term, for now).
	occs, firsts := z.occs[:0], z.firsts[:0]
	for _, f := range [2]struct {
		text  string
		title bool
	}{{an.title, true}, {an.body, false}} {
		scanWords(f.text, func(w string, pos int) {
			h := d.hash(w)
			s := z.wordSlot(w, h)
			local := s.local
			if s.serial != z.serial {
				local = int32(len(firsts))
				firsts = append(firsts, firstWord{w, h})
				z.addWord(s, w, h, local)
			}
			occs = append(occs, occurrence{term: local, pos: int32(pos), title: f.title})
		})
	}
	z.firsts = firsts

	// Look the distinct words up. Their slots in the dictionary are rarely
	// in a processor's caches, and loading them all first, in one loop of
	// independent loads, overlaps their cache misses, which looking up
	// word after word (each lookup's result steering what follows) does
	// not.
	z.sizeTerms(len(firsts))
	wordTerms := resize(&z.wordTerms, len(firsts))
	d.mu.RLock()
	var sink uint32
	mask := uint64(len(d.slots) - 1)
	for i := range firsts {
		sink += d.slots[firsts[i].hash&mask].hash
	}
	z.sink = sink
	for i := range firsts {
		wordTerms[i] = z.firstTerm(d, firsts[i].w, firsts[i].hash)
	}
	d.mu.RUnlock()
	if len(z.pending) > 0 {
		d.mu.Lock()
		for _, p := range z.pending {
			id := d.add(p.word, p.term)
			if p.term != "" && z.ids[p.local] < 0 {
				z.ids[p.local] = id
			}
		}
		full := d.words() > maxDictWords
		d.mu.Unlock()
		if full {
			currentDict.CompareAndSwap(d, newTermDict())
		}
	}

	// Give each occurrence its term's index, dropping stop words: they
	// count in positions, but are not indexed.
	n := 0
	for _, o := range occs {
		if o.term = wordTerms[o.term]; o.term < 0 {
			continue
		}
		occs[n] = o
		n++
		if o.title {
			an.titleLen++
		} else {
			an.bodyLen++
		}
	}
	occs = occs[:n]
	z.occs = occs
	ids := z.ids
	an.ids = slices.Clone(ids)
	if len(z.vocab) > 0 {
		an.vocab = slices.Clone(z.vocab)
	}
	for _, id := range ids {
		an.maxID = max(an.maxID, id)
	}
	// Count each term's occurrences per field, then place positions: the
	// title ones of a term before its body ones, each in text order.
	nt := len(ids)
	nTitle := resize(&z.nTitle, nt)
	nBody := resize(&z.nBody, nt)
	for _, o := range occs {
		if o.title {
			nTitle[o.term]++
		} else {
			nBody[o.term]++
		}
	}
	off := resize(&z.off, nt+1)
	for t := range nt {
		off[t+1] = off[t] + nTitle[t] + nBody[t]
	}
	next := resize(&z.next, nt)
	copy(next, off[:nt])
	positions := resize(&z.pos, len(occs))
	for _, o := range occs { // title occurrences come first in occs
		positions[next[o.term]] = o.pos
		next[o.term]++
	}
	an.ends = make([]uint32, nt)
	buf := make([]byte, 0, 2*len(occs)+3*nt)
	for t := range nt {
		ps := positions[off[t]:off[t+1]]
		buf = appendPosting(buf, ps[:nTitle[t]], ps[nTitle[t]:])
		an.ends[t] = uint32(len(buf))
	}
	an.buf = buf
	return an
}

// posting returns the encoded posting of an's term ids[i].
func (an *analysis) posting(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = an.ends[i-1]
	}
	return an.buf[start:an.ends[i]:an.ends[i]]
}

// termList returns an's terms, in the order of ids.
func (an *analysis) termList() []string {
	terms := make([]string, len(an.ids))
	an.dict.mu.RLock()
	for i, id := range an.ids {
		terms[i] = an.dict.terms[id]
	}
	an.dict.mu.RUnlock()
	return terms
}

// resize returns (*s)[:n] zeroed, growing *s if needed.
func resize(s *[]int32, n int) []int32 {
	if cap(*s) < n {
		*s = make([]int32, n, n+n/2)
	}
	*s = (*s)[:n]
	clear(*s)
	return *s
}

// appendPosting appends the posting of a term with the given title and
// body positions. (The document's field lengths are not in it: they are in
// its segment's length table.)
func appendPosting(b []byte, title, body []int32) []byte {
	b = appendUvarint32(b, uint32(len(title)))
	b = appendUvarint32(b, uint32(len(body)))
	for _, ps := range [2][]int32{title, body} {
		prev := int32(0)
		for _, x := range ps {
			b = appendUvarint32(b, uint32(x-prev))
			prev = x
		}
	}
	return b
}

// appendUvarint32 is binary.AppendUvarint, with a fast path for the
// one-byte values that most counts and position gaps are.
func appendUvarint32(b []byte, x uint32) []byte {
	if x < 0x80 {
		return append(b, byte(x))
	}
	return binary.AppendUvarint(b, uint64(x))
}

// analyzeAll analyses n articles on up to workers goroutines (at least
// one): article(i) returns the i-th, or nil (a delete, which has no
// analysis). The returned wait blocks until article i is done and returns
// it, its analysis and article's error; done blocks until every worker has
// finished.
func analyzeAll(n int, article func(i int) (*articlesv1.Article, error), workers int) (wait func(i int) (*articlesv1.Article, *analysis, error), done func()) {
	type result struct {
		a     *articlesv1.Article
		an    *analysis
		err   error
		ready chan struct{}
	}
	res := make([]result, n)
	for i := range res {
		res[i].ready = make(chan struct{})
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			z := getAnalyzer()
			defer putAnalyzer(z)
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				r := &res[i]
				if r.a, r.err = article(i); r.a != nil && r.err == nil {
					r.an = z.analyze(r.a)
				}
				close(r.ready)
			}
		})
	}
	wait = func(i int) (*articlesv1.Article, *analysis, error) {
		r := &res[i]
		<-r.ready
		return r.a, r.an, r.err
	}
	return wait, wg.Wait
}

// postingHeader decodes the start of a posting: the term's count in each
// field, and returns the positions that follow.
func postingHeader(v []byte) (title, body int, rest []byte, err error) {
	var f [2]uint64
	for i := range f {
		x, n := uvarint(v)
		if n <= 0 {
			return 0, 0, nil, errCorruptPost
		}
		f[i], v = x, v[n:]
	}
	if f[0] > uint64(len(v)) || f[1] > uint64(len(v))-f[0] {
		return 0, 0, nil, errCorruptPost
	}
	return int(f[0]), int(f[1]), v, nil
}

// postingPositions returns the title and body positions of a posting.
// They are appended to title[:0] and body[:0], so that a caller decoding
// many postings can reuse its buffers.
func postingPositions(v []byte, title, body []int) ([]int, []int, error) {
	nt, nb, rest, err := postingHeader(v)
	if err != nil {
		return nil, nil, err
	}
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

// indexItem is one article's last event in a batch: a is nil for a
// delete; an, if it is the analysis of a's text, saves analysing it in
// the transaction.
type indexItem struct {
	id string
	a  *articlesv1.Article
	an *analysis
}

// indexItems brings the index up to items in tx: it kills the indexed
// version of each item's article, if any, and indexes the new one (if not
// deleted) under a new docnum, writing the postings of all of them as one
// new segment. pre, if not nil, is that segment, built in advance: it is
// used if the docnums turn out as it expected and every item's analysis
// was of its text.
func indexItems(tx *bbolt.Tx, items []indexItem, pre *prebuiltSegment) error {
	ix, err := openIndex(tx)
	if err != nil {
		return err
	}
	if pre != nil && ix.docs.Sequence() != pre.seq {
		pre = nil
	}
	stats, err := readStats(ix.root)
	if err != nil {
		return err
	}
	var docs []segmentDoc
	for _, it := range items {
		if err := ix.kill(it.id, &stats); err != nil {
			return fmt.Errorf("index %q: %w", it.id, err)
		}
		if it.a == nil {
			continue
		}
		an := it.an
		if !an.matches(it.a) {
			an, pre = analyze(it.a), nil
		}
		seq, err := ix.docs.NextSequence()
		if err != nil {
			return err
		}
		if seq > math.MaxUint32 {
			return errors.New("search document numbers are exhausted")
		}
		num := uint32(seq)
		if err := ix.ids.Put([]byte(it.id), docKey(num)); err != nil {
			return err
		}
		rec := recordOf(it.a, an.titleLen, an.bodyLen)
		if err := ix.docs.Put(docKey(num), rec.encode()); err != nil {
			return err
		}
		stats.docs++
		stats.titleLen += int64(an.titleLen)
		stats.bodyLen += int64(an.bodyLen)
		if len(an.ids) > 0 {
			docs = append(docs, segmentDoc{num, an})
		}
	}
	var vocab []wordTerm
	if pre != nil {
		vocab = pre.vocab
	} else {
		vocab = batchVocab(docs)
	}
	if err := ix.addWords(vocab); err != nil {
		return err
	}
	if err := ix.writeSegment(docs, pre); err != nil {
		return err
	}
	return writeStats(ix.root, stats)
}

// kill removes the indexed version of article id, if any: its doc record
// and id entry go, and its docnum is marked dead if a segment holds
// postings of it.
func (ix *searchIndex) kill(id string, stats *corpusStats) error {
	v := ix.ids.Get([]byte(id))
	if v == nil {
		return nil
	}
	if len(v) != 4 {
		return fmt.Errorf("%w: docnum of %q", errCorruptDoc, id)
	}
	key := bytes.Clone(v)
	if err := ix.ids.Delete([]byte(id)); err != nil {
		return err
	}
	dv := ix.docs.Get(key)
	if dv == nil {
		return nil
	}
	rec, err := decodeDoc(dv, false)
	if err != nil {
		return fmt.Errorf("%w: docnum %x", err, key)
	}
	stats.docs--
	stats.titleLen -= int64(rec.titleLen)
	stats.bodyLen -= int64(rec.bodyLen)
	if err := ix.docs.Delete(key); err != nil {
		return err
	}
	if rec.titleLen+rec.bodyLen == 0 {
		return nil // no terms, no postings
	}
	seq, err := ix.deadB.NextSequence()
	if err != nil {
		return err
	}
	return ix.deadB.Put(key, encodeUint(seq))
}

// addWords adds the words of vocab (in key order) that the vocabulary
// lacks.
func (ix *searchIndex) addWords(vocab []wordTerm) error {
	var (
		wb   *bbolt.Bucket
		name []byte
	)
	for _, wt := range vocab {
		if n := wordBucketName(wt.word); wb == nil || !bytes.Equal(n, name) {
			name = n
			if wb = ix.words.Bucket(name); wb == nil {
				var err error
				if wb, err = ix.words.CreateBucket(name); err != nil {
					return err
				}
			}
		}
		if wb.Get([]byte(wt.word)) != nil {
			continue
		}
		if err := wb.Put([]byte(wt.word), []byte(wt.term)); err != nil {
			return err
		}
	}
	return nil
}

// wordTerm is a word that stemming changes, and its term.
type wordTerm struct{ word, term string }

// batchVocab returns the words of docs that stemming changes, with their
// terms, once each and in key order.
func batchVocab(docs []segmentDoc) []wordTerm {
	seen := map[string]bool{}
	var out []wordTerm
	for _, d := range docs {
		locked := false
		for _, v := range d.an.vocab {
			if seen[v.word] {
				continue
			}
			seen[v.word] = true
			if v.term == "" {
				if !locked {
					d.an.dict.mu.RLock()
					locked = true
				}
				v.term = d.an.dict.terms[v.id]
			}
			out = append(out, wordTerm{v.word, v.term})
		}
		if locked {
			d.an.dict.mu.RUnlock()
		}
	}
	slices.SortFunc(out, func(a, b wordTerm) int { return strings.Compare(a.word, b.word) })
	return out
}

// recordOf returns the doc record of a with the given lengths.
func recordOf(a *articlesv1.Article, titleLen, bodyLen int) *docRecord {
	return &docRecord{
		titleLen: titleLen,
		bodyLen:  bodyLen,
		publish:  a.GetPublishTime(),
		id:       a.GetId(),
		source:   a.GetSource(),
		authors:  a.GetAuthors(),
		tags:     a.GetTags(),
	}
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
// positions [offset, offset+limit) of the ranking, with the number of
// matches (exact as of the index's revision) and that revision, all read
// in one read transaction. It first reads the feed's revision and waits
// (bounded by ctx, whose error it returns) until the index reflects it,
// so it sees every write acknowledged before the call. limit <= 0
// returns no hits, only the total.
//
// Ranking is BM25 with title boosting (see package search), summed over
// the query's included clauses; ties go to the newest publish time (an
// article without one counts as oldest), then to the smaller id.
//
// A failed read of the index (a damaged file) makes the engine rebuild
// it; the error is returned.
func (e *Engine) Search(ctx context.Context, q *search.Query, f articles.Filter, offset, limit int) (*search.Results, error) {
	if q == nil || len(q.Clauses) == 0 {
		return nil, errors.New("fulltext: search: empty query")
	}
	if e.closed.Load() {
		return nil, ErrClosed
	}
	offset = max(offset, 0)
	start, err := e.feed.Revision(ctx)
	if err != nil {
		return nil, err
	}
	for {
		if err := e.WaitApplied(ctx, start); err != nil {
			return nil, err
		}
		res := &search.Results{}
		rebuilding := false
		err := e.view(func(tx *bbolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			rev, _ := decodeUint(meta.Get(metaApplied))
			if meta.Get(metaRebuild) != nil || int64(rev) < start {
				rebuilding = true // started after the wait: wait again
				return nil
			}
			res.Revision = int64(rev)
			total, cands, err := rank(ctx, tx, q, f, offset+max(limit, 0))
			if err != nil {
				return err
			}
			res.Total = total
			if limit <= 0 || offset >= len(cands) {
				return nil
			}
			for _, c := range cands[offset:min(len(cands), offset+limit)] {
				res.Hits = append(res.Hits, search.Hit{ID: string(c.id), Score: c.score})
			}
			return nil
		})
		if err != nil {
			if ctx.Err() == nil && !e.closed.Load() {
				e.log.Error("fulltext: reading the index failed; rebuilding it", "err", err)
				e.requestRebuild.Store(true)
				e.wake()
			}
			return nil, fmt.Errorf("fulltext: search: %w", err)
		}
		if !rebuilding {
			return res, nil
		}
	}
}

// view runs fn in a read transaction of the engine's file, turning a
// panic (bbolt's, on a damaged page) into an error.
func (e *Engine) view(fn func(tx *bbolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("index read panicked: %v", r)
		}
	}()
	err = e.bolt.View(fn)
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// record returns the doc record of document num; full as for decodeDoc.
func (ix *searchIndex) record(num uint32, full bool) (docRecord, error) {
	v := ix.docs.Get(docKey(num))
	if v == nil {
		return docRecord{}, fmt.Errorf("search index has postings for unknown document %d", num)
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

// clearSearchIndex empties the search buckets.
func clearSearchIndex(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketSearchSegments, bucketSearchIndex} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}
