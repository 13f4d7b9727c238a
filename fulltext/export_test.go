package fulltext

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"go.etcd.io/bbolt"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
)

// Tests make merges take several transactions.
func init() { mergeStepBytes = 2048 }

// SegmentStats returns the number of live segments of the search index
// and of dead documents they still hold postings of.
func (e *Engine) SegmentStats() (segments, dead int, err error) {
	err = e.bolt.View(func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx)
		if err != nil {
			return err
		}
		if ix.segTable != nil {
			segments = ix.segTable.Stats().KeyN
		}
		if ix.deadB != nil {
			dead = ix.deadB.Stats().KeyN
		}
		return nil
	})
	return segments, dead, err
}

// MergeStep does one step of a merge of every segment, as the indexer
// does for the merges it picks, and reports whether there was one to do.
func (e *Engine) MergeStep() (bool, error) {
	worked, _, err := e.mergeStep(true, false)
	return worked, err
}

// MergeAll merges every segment into one, step by step.
func (e *Engine) MergeAll(ctx context.Context) error {
	for range 100_000 {
		if err := ctx.Err(); err != nil {
			return err
		}
		worked, err := e.MergeStep()
		if err != nil || !worked {
			return err
		}
	}
	return errors.New("merge did not end")
}

// RebuildPending reports whether a rebuild is due or running.
func (e *Engine) RebuildPending() (bool, error) {
	if e.requestRebuild.Load() {
		return true, nil
	}
	var due bool
	err := e.bolt.View(func(tx *bbolt.Tx) error {
		due = tx.Bucket(bucketMeta).Get(metaRebuild) != nil
		return nil
	})
	return due, err
}

// PauseIndexer stops the indexer after its current batch until the
// returned resume is called, so that tests can hold the index behind the
// store.
func (e *Engine) PauseIndexer() (resume func()) {
	e.paused.Store(true)
	return func() {
		e.paused.Store(false)
		e.wake()
	}
}

// AnalyzeSize analyses a as the indexer does and returns the size of its
// encoded postings, for BenchmarkAnalyze.
func AnalyzeSize(a *articlesv1.Article) int { return len(analyze(a).buf) }

// SegmentBuilder analyses arts and returns a function that builds their
// segment (as docnums 1 to len(arts)), in chunks of the size the indexer
// makes, and returns its number of terms, for BenchmarkBuildSegment.
func SegmentBuilder(arts []*articlesv1.Article) func() int {
	docs := make([]segmentDoc, len(arts))
	for i, a := range arts {
		docs[i] = segmentDoc{uint32(i + 1), analyze(a)}
	}
	return func() int {
		_, _, n := buildSegment(docs, chunkTargetBytes)
		return n
	}
}

// The engine's own bounds, which the init functions of the tests shrink
// (package variables are set before any init function runs).
var prodMergeStepBytes, prodChunkTarget = mergeStepBytes, chunkTarget

// ProductionBounds gives the bounds the tests shrink (merge steps,
// chunks) the engine's own values until b ends: benchmark figures are
// about those. Benchmarks run one at a time after every test, so this
// races with nothing.
func ProductionBounds(b *testing.B) {
	ms, ct := mergeStepBytes, chunkTarget
	mergeStepBytes, chunkTarget = prodMergeStepBytes, prodChunkTarget
	b.Cleanup(func() { mergeStepBytes, chunkTarget = ms, ct })
}

// IndexPath returns the path of the engine's file.
func (e *Engine) IndexPath() string { return e.path }

// MergesPending reports whether the indexer has a merge in progress or
// due.
func (e *Engine) MergesPending() (bool, error) {
	var due bool
	err := e.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		due, _, err = mergeDue(tx, false, false)
		return err
	})
	return due, err
}

// DocLens returns, for every live article whose docnum a live segment's
// range covers, the title and body lengths the segment's length table
// holds for it, by article id. It fails if a segment's table is missing or
// of the wrong size (loadSegments checks).
func (e *Engine) DocLens() (map[string][2]int, error) {
	lens := map[string][2]int{}
	err := e.viewSegments(func(ix *searchIndex) error {
		if ix.ids == nil {
			return nil
		}
		return ix.ids.ForEach(func(id, v []byte) error {
			num := binary.BigEndian.Uint32(v)
			for i := range ix.live {
				if t, b, ok := ix.live[i].docLens(num); ok {
					lens[string(id)] = [2]int{t, b}
				}
			}
			return nil
		})
	})
	return lens, err
}

// viewSegments calls fn in a read transaction with the search index, its
// live segments loaded.
func (e *Engine) viewSegments(fn func(ix *searchIndex) error) error {
	return e.bolt.View(func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx)
		if err != nil {
			return err
		}
		if err := ix.loadSegments(); err != nil {
			return err
		}
		return fn(ix)
	})
}

// ChunkTarget is the posting bytes at which tests close a chunk: small,
// so that small segments have several chunks.
const ChunkTarget = 512

func init() { chunkTarget = ChunkTarget }

// SegmentChunk is a chunk of a segment: its key and the terms it holds.
type SegmentChunk struct {
	Key   []byte
	Terms []string
}

// SegmentChunks returns the chunks of each live segment, in docnum order.
func (e *Engine) SegmentChunks() ([][]SegmentChunk, error) {
	var out [][]SegmentChunk
	err := e.viewSegments(func(ix *searchIndex) error {
		for _, s := range ix.live {
			var chunks []SegmentChunk
			c := s.b.Cursor()
			for k, v := c.Seek(chunkFirstKey); k != nil; k, v = c.Next() {
				terms, _, err := ChunkEntries(v)
				if err != nil {
					return err
				}
				chunks = append(chunks, SegmentChunk{bytes.Clone(k), terms})
			}
			out = append(out, chunks)
		}
		return nil
	})
	return out, err
}

// SegmentList returns the posting list of term in live segment i (in
// docnum order), as searches look it up, or nil.
func (e *Engine) SegmentList(i int, term string) ([]byte, error) {
	var list []byte
	err := e.viewSegments(func(ix *searchIndex) error {
		if i >= len(ix.live) {
			return fmt.Errorf("no segment %d", i)
		}
		v, err := ix.live[i].list([]byte(term))
		list = bytes.Clone(v)
		return err
	})
	return list, err
}

// SegmentTerms returns the terms of live segment i from the first one at
// least from (after: greater than from), at most n of them, and their
// posting lists, as prefix searches and merges walk them.
func (e *Engine) SegmentTerms(i int, from string, after bool, n int) (terms []string, lists [][]byte, err error) {
	err = e.viewSegments(func(ix *searchIndex) error {
		if i >= len(ix.live) {
			return fmt.Errorf("no segment %d", i)
		}
		it := segmentTerms(ix.live[i].b, []byte(from), after)
		for len(terms) < n {
			t, l, ok := it.next()
			if !ok {
				break
			}
			terms = append(terms, string(t))
			lists = append(lists, bytes.Clone(l))
		}
		return it.err
	})
	return terms, lists, err
}

// DecodePostingList returns the docnums and postings of posting list v.
func DecodePostingList(v []byte) (docs []uint32, postings []string, err error) {
	it := newPostingIter(v)
	for {
		e, ok := it.next()
		if !ok {
			return docs, postings, it.err
		}
		docs = append(docs, e.doc)
		postings = append(postings, string(e.posting))
	}
}

// CursorDocs walks posting list v entry by entry with the cursor the
// ranking of several words and of phrases uses, and returns its docnums
// and postings.
func CursorDocs(v []byte) (docs []uint32, postings []string, err error) {
	_, blocks, entries, err := parseListHeader(v, []block{})
	if err != nil {
		return nil, nil, err
	}
	c := termCursor{blocks: blocks, entries: entries}
	for c.next() {
		docs = append(docs, c.doc)
		postings = append(postings, string(c.posting))
	}
	return docs, postings, c.err
}

// BuildChunk returns the key and value of the chunk of terms (in key
// order) and their lists.
func BuildChunk(terms []string, lists [][]byte) (key, val []byte) {
	var b chunkBuilder
	for i, t := range terms {
		b.add([]byte(t), lists[i])
	}
	return b.take()
}

// ChunkLookup returns the list of term in chunk value v, or nil.
func ChunkLookup(v []byte, term string) ([]byte, error) { return chunkLookup(v, []byte(term)) }

// ChunkEntries decodes every term and list of chunk value v.
func ChunkEntries(v []byte) (terms []string, lists [][]byte, err error) {
	c, err := parseChunk(v)
	if err != nil {
		return nil, nil, err
	}
	for i := range c.n {
		t, err := c.term(i)
		if err != nil {
			return nil, nil, err
		}
		l, err := c.list(i)
		if err != nil {
			return nil, nil, err
		}
		terms = append(terms, string(t))
		lists = append(lists, l)
	}
	return terms, lists, nil
}

// ChunkSearch returns the index of the first term of chunk value v at
// least term, and whether it is term.
func ChunkSearch(v []byte, term string) (int, bool, error) {
	c, err := parseChunk(v)
	if err != nil {
		return 0, false, err
	}
	return c.search([]byte(term))
}

// BucketSizes returns the bytes allocated to each top-level bucket of the
// engine's file, nested buckets included.
func (e *Engine) BucketSizes() (map[string]int64, error) {
	sizes := map[string]int64{}
	err := e.bolt.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			s := b.Stats()
			sizes[string(name)] = int64(s.LeafAlloc + s.BranchAlloc)
			return nil
		})
	})
	return sizes, err
}

// TermBlocksSkipped ranks the one-word query term for a page of top
// results as Search does, and returns how many posting list blocks it
// skipped.
func (e *Engine) TermBlocksSkipped(term string, top int) (int, error) {
	var skipped int
	err := e.bolt.View(func(tx *bbolt.Tx) error {
		ix, err := openIndex(tx)
		if err != nil {
			return err
		}
		stats, err := readStats(ix.root)
		if err != nil {
			return err
		}
		if err := ix.loadSegments(); err != nil {
			return err
		}
		if _, err := ix.loadDead(0, ^uint32(0)); err != nil {
			return err
		}
		scorer := search.NewScorer(int(stats.docs), stats.titleLen, stats.bodyLen)
		_, _, skipped, err = ix.rankTerm(context.Background(), term, scorer, top)
		return err
	})
	return skipped, err
}

// CheckListsCanonical checks that every posting list of every live
// segment is encoded as encoding its entries afresh would: the docnum
// deltas and posting lengths, and the block table from the postings and
// the segment's length table, byte for byte. It returns the number of
// lists checked.
func (e *Engine) CheckListsCanonical() (int, error) {
	lists := 0
	err := e.viewSegments(func(ix *searchIndex) error {
		for i := range ix.live {
			s := &ix.live[i]
			it := segmentTerms(s.b, nil, false)
			for {
				term, list, ok := it.next()
				if !ok {
					break
				}
				lists++
				var (
					entries []byte
					blocks  blockBuilder
					prev    uint32
					count   int
				)
				pi := newPostingIter(list)
				for {
					pe, ok := pi.next()
					if !ok {
						break
					}
					title, body, _, err := postingHeader(pe.posting)
					if err != nil {
						return err
					}
					dl, ok := s.docLen(pe.doc)
					if !ok {
						return fmt.Errorf("segment %d, term %q: docnum %d outside the segment", s.id, term, pe.doc)
					}
					n := len(entries)
					entries = binary.AppendUvarint(entries, uint64(pe.doc-prev))
					entries = binary.AppendUvarint(entries, uint64(len(pe.posting)))
					entries = append(entries, pe.posting...)
					blocks.add(pe.doc, len(entries)-n, weighted(uint32(title), uint32(body)), dl)
					prev = pe.doc
					count++
				}
				if pi.err != nil {
					return fmt.Errorf("segment %d, term %q: %w", s.id, term, pi.err)
				}
				want := append(appendListHeader(nil, count, blocks.blocks), entries...)
				if !bytes.Equal(list, want) {
					return fmt.Errorf("segment %d, term %q: list %x, encoded afresh %x", s.id, term, list, want)
				}
			}
			if it.err != nil {
				return it.err
			}
		}
		return nil
	})
	return lists, err
}

// postingIter decodes lists for the tests, independently of listReader,
// which the ranking and the merges use.

// postingEntry is one document of a posting list.
type postingEntry struct {
	doc     uint32
	posting []byte
	raw     []byte // the whole entry as stored, delta included
}

// postingIter walks an encoded posting list.
type postingIter struct {
	v    []byte
	left int
	doc  uint32
	err  error
}

func newPostingIter(v []byte) postingIter {
	n, _, entries, err := parseListHeader(v, nil)
	if err != nil {
		return postingIter{err: err}
	}
	return postingIter{v: entries, left: n}
}

// next returns the next entry; ok is false at the end or on error (in
// it.err).
func (it *postingIter) next() (e postingEntry, ok bool) {
	if it.left == 0 || it.err != nil {
		return e, false
	}
	start := it.v
	delta, k := binary.Uvarint(it.v)
	if k <= 0 || uint64(it.doc)+delta > math.MaxUint32 {
		it.err = errCorruptPost
		return e, false
	}
	it.v = it.v[k:]
	n, k := binary.Uvarint(it.v)
	if k <= 0 || n > uint64(len(it.v)-k) {
		it.err = errCorruptPost
		return e, false
	}
	it.v = it.v[k:]
	it.doc += uint32(delta)
	e = postingEntry{doc: it.doc, posting: it.v[:n:n]}
	it.v = it.v[n:]
	e.raw = start[:len(start)-len(it.v)]
	it.left--
	return e, true
}
