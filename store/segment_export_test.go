package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// Tests make merges take several transactions.
func init() { mergeStepBytes = 2048 }

// SegmentStats returns the number of live segments of the search index
// and of dead documents they still hold postings of.
func (db *DB) SegmentStats() (segments, dead int, err error) {
	err = db.bolt.View(func(tx *bbolt.Tx) error {
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
func (db *DB) MergeStep() (bool, error) {
	worked, _, err := db.mergeStep(true, false)
	return worked, err
}

// MergeAll merges every segment into one, step by step.
func (db *DB) MergeAll(ctx context.Context) error {
	for range 100_000 {
		if err := ctx.Err(); err != nil {
			return err
		}
		worked, err := db.MergeStep()
		if err != nil || !worked {
			return err
		}
	}
	return errors.New("merge did not end")
}

// RebuildPending reports whether the rebuild after an upgrade is still due.
func (db *DB) RebuildPending() (bool, error) {
	var due bool
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		due = tx.Bucket(bucketSearchIndex).Get(searchIndexRebuild) != nil
		return nil
	})
	return due, err
}

// MergesPending reports whether the indexer has a merge in progress or
// due.
func (db *DB) MergesPending() (bool, error) {
	var due bool
	err := db.bolt.View(func(tx *bbolt.Tx) error {
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
func (db *DB) DocLens() (map[string][2]int, error) {
	lens := map[string][2]int{}
	err := db.viewSegments(func(ix *searchIndex) error {
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
func (db *DB) viewSegments(fn func(ix *searchIndex) error) error {
	return db.bolt.View(func(tx *bbolt.Tx) error {
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
func (db *DB) SegmentChunks() ([][]SegmentChunk, error) {
	var out [][]SegmentChunk
	err := db.viewSegments(func(ix *searchIndex) error {
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
func (db *DB) SegmentList(i int, term string) ([]byte, error) {
	var list []byte
	err := db.viewSegments(func(ix *searchIndex) error {
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
func (db *DB) SegmentTerms(i int, from string, after bool, n int) (terms []string, lists [][]byte, err error) {
	err = db.viewSegments(func(ix *searchIndex) error {
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
