package fulltext

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestBuildSegmentLikeTermByTerm checks buildSegment, which works
// document by document, against the segment written the plain way: each
// term's list gathered from the analyses, its entries and block table
// encoded as a merge encodes them, and the lists cut into chunks by a
// chunkBuilder. The keys and values must be the same bytes, for lists of
// one block and of several, and with docnums missing from the range.
func TestBuildSegmentLikeTermByTerm(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	zipf := rand.NewZipf(r, 1.2, 1, 2000)
	var docs []segmentDoc
	num := uint32(10)
	for range 400 {
		var b strings.Builder
		for range 20 + r.IntN(300) {
			fmt.Fprintf(&b, "w%d ", zipf.Uint64())
		}
		if r.IntN(3) == 0 {
			b.WriteString("Everywhere EVERYWHERE everywhere")
		}
		num += 1 + uint32(r.IntN(3))
		a := &articlesv1.Article{Title: fmt.Sprintf("title w%d", r.IntN(50)), Body: b.String()}
		docs = append(docs, segmentDoc{num, analyze(a)})
	}
	for _, target := range []int{1, 300, 4096, chunkTargetBytes} {
		t.Run(fmt.Sprint(target), func(t *testing.T) {
			keys, vals, n := buildSegment(docs, target)
			wantKeys, wantVals, wantN := segmentTermByTerm(docs, target)
			if n != wantN || len(keys) != len(wantKeys) {
				t.Fatalf("buildSegment: %d terms in %d keys, want %d in %d", n, len(keys), wantN, len(wantKeys))
			}
			for i := range keys {
				if !bytes.Equal(keys[i], wantKeys[i]) || !bytes.Equal(vals[i], wantVals[i]) {
					t.Fatalf("key %d: %q (%d bytes), want %q (%d bytes)", i, keys[i], len(vals[i]), wantKeys[i], len(wantVals[i]))
				}
			}
		})
	}
}

// segmentTermByTerm builds the segment of docs term by term.
func segmentTermByTerm(docs []segmentDoc, target int) (keys, vals [][]byte, nterms int) {
	type entry struct {
		num     uint32
		posting []byte
		dl      uint32
	}
	lists := map[string][]entry{}
	lo, hi := docs[0].num, docs[len(docs)-1].num
	table := make([]byte, (int(hi-lo)+1)*docLensSize)
	for _, sd := range docs {
		putDocLens(table, lo, sd.num, sd.an.titleLen, sd.an.bodyLen)
		dl := weighted(uint32(sd.an.titleLen), uint32(sd.an.bodyLen))
		for i, term := range sd.an.termList() {
			lists[term] = append(lists[term], entry{sd.num, sd.an.posting(i), dl})
		}
	}
	terms := slices.Sorted(func(yield func(string) bool) {
		for term := range lists {
			if !yield(term) {
				return
			}
		}
	})
	keys, vals = [][]byte{docLensKey}, [][]byte{table}
	var cb chunkBuilder
	for _, term := range terms {
		var (
			entries []byte
			blocks  blockBuilder
			prev    uint32
		)
		for _, e := range lists[term] {
			n := len(entries)
			entries = appendUvarint32(entries, e.num-prev)
			entries = appendUvarint32(entries, uint32(len(e.posting)))
			entries = append(entries, e.posting...)
			title, body, _, _ := postingHeader(e.posting)
			blocks.add(e.num, len(entries)-n, weighted(uint32(title), uint32(body)), e.dl)
			prev = e.num
		}
		cb.addParts([]byte(term), appendListHeader(nil, len(lists[term]), blocks.blocks), entries)
		if cb.size() >= target {
			k, v := cb.take()
			keys, vals = append(keys, k), append(vals, v)
		}
	}
	if cb.len() > 0 {
		k, v := cb.take()
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, len(terms)
}
