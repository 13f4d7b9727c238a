package fulltext_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/fulltext"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// chunkWord returns the n-th of the made-up words the chunk tests index:
// "z" and four letters, so that consecutive words share long prefixes.
func chunkWord(n int) string {
	b := []byte("zaaaa")
	for i := 4; i > 0; i-- {
		b[i] = byte('a' + n%26)
		n /= 26
	}
	return string(b)
}

// chunkCorpus returns n articles, article d holding the word "common"
// (whose posting list is bigger than a chunk) and words chunkWord(d*8) to
// chunkWord(d*8+7).
func chunkCorpus(prefix string, n int) []*articlesv1.Article {
	var arts []*articlesv1.Article
	for d := range n {
		words := []string{"common"}
		for k := range 8 {
			words = append(words, chunkWord(d*8+k))
		}
		arts = append(arts, searchArt(fmt.Sprintf("%s-%d", prefix, d), "Chunk", strings.Join(words, " ")))
	}
	return arts
}

// segmentContents returns every term of live segment i and its posting
// list, walked from the first term.
func segmentContents(t *testing.T, db *testDB, i int) ([]string, [][]byte) {
	t.Helper()
	terms, lists, err := db.SegmentTerms(i, "", false, 1<<30)
	if err != nil {
		t.Fatalf("SegmentTerms(%d): %v", i, err)
	}
	return terms, lists
}

// checkChunks checks the chunks of every live segment: their keys are 0x01
// and their last term, their terms are those a walk of the segment gives,
// in strictly increasing order, and a lookup finds each term's list. It
// returns the chunks.
func checkChunks(t *testing.T, db *testDB) [][]fulltext.SegmentChunk {
	t.Helper()
	segs, err := db.SegmentChunks()
	if err != nil {
		t.Fatalf("SegmentChunks: %v", err)
	}
	for i, chunks := range segs {
		terms, lists := segmentContents(t, db, i)
		var inChunks []string
		for j, c := range chunks {
			if len(c.Terms) == 0 {
				t.Fatalf("segment %d chunk %d is empty", i, j)
			}
			if want := append([]byte{1}, c.Terms[len(c.Terms)-1]...); !bytes.Equal(c.Key, want) {
				t.Errorf("segment %d chunk %d key %q, want %q", i, j, c.Key, want)
			}
			inChunks = append(inChunks, c.Terms...)
		}
		if !slices.Equal(inChunks, terms) {
			t.Fatalf("segment %d: chunks hold %d terms, a walk gives %d", i, len(inChunks), len(terms))
		}
		for k, term := range terms {
			if k > 0 && terms[k-1] >= term {
				t.Fatalf("segment %d: term %q after %q", i, term, terms[k-1])
			}
			got, err := db.SegmentList(i, term)
			if err != nil || !bytes.Equal(got, lists[k]) {
				t.Fatalf("segment %d: lookup of %q = %x, %v; the walk gives %x", i, term, got, err, lists[k])
			}
		}
	}
	return segs
}

// TestSegmentChunkBoundaries indexes a segment of many chunks, one of
// them holding a list bigger than a chunk, and looks up and walks terms
// at, between and past their boundaries.
func TestSegmentChunkBoundaries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	arts := chunkCorpus("chunk", 120)
	importAll(t, db, arts)
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.MergeAll(ctx); err != nil {
		t.Fatal(err)
	}
	segs := checkChunks(t, db)
	if len(segs) != 1 {
		t.Fatalf("%d segments after MergeAll, want 1", len(segs))
	}
	chunks := segs[0]
	if len(chunks) < 4 {
		t.Fatalf("%d chunks, want several", len(chunks))
	}
	terms, lists := segmentContents(t, db, 0)
	if k := slices.Index(terms, "common"); k < 0 || len(lists[k]) <= fulltext.ChunkTarget {
		t.Fatalf("no list bigger than a chunk (%d bytes): common at %d", fulltext.ChunkTarget, k)
	}
	listOf := func(term string) []byte {
		if k := slices.Index(terms, term); k >= 0 {
			return lists[k]
		}
		return nil
	}

	// Lookups: each chunk's first and last terms; probes sorting just
	// after a chunk's last term (between chunks, or past the last one) or
	// before the first term. Terms hold no byte below '0', so a term
	// followed by 0x02 sorts before every term that follows it.
	type lookup struct {
		term string
		want []byte
	}
	lookups := []lookup{{"", nil}, {"\x02", nil}, {"\xff\xff", nil}, {"zzzzzz", nil}}
	for _, c := range chunks {
		first, last := c.Terms[0], c.Terms[len(c.Terms)-1]
		lookups = append(lookups, lookup{first, listOf(first)}, lookup{last, listOf(last)},
			lookup{last + "\x02", nil}, lookup{first[:len(first)-1] + "\x02", nil})
	}
	for _, l := range lookups {
		got, err := db.SegmentList(0, l.term)
		if err != nil || !bytes.Equal(got, l.want) || (got == nil) != (l.want == nil) {
			t.Errorf("lookup of %q = %x, %v; want %x", l.term, got, err, l.want)
		}
	}

	// Walks from each chunk boundary, from a term, after it, and from a
	// probe between two terms.
	for j := range len(chunks) - 1 {
		last := chunks[j].Terms[len(chunks[j].Terms)-1]
		k := slices.Index(terms, last)
		for _, w := range []struct {
			from  string
			after bool
			want  []string
		}{
			{last, false, terms[k:min(k+3, len(terms))]},
			{last, true, terms[k+1 : min(k+4, len(terms))]},
			{last + "\x02", false, terms[k+1 : min(k+4, len(terms))]},
			{last + "\x02", true, terms[k+1 : min(k+4, len(terms))]},
			{chunks[j+1].Terms[0], true, terms[k+2 : min(k+5, len(terms))]},
		} {
			got, gotLists, err := db.SegmentTerms(0, w.from, w.after, 3)
			if err != nil || !slices.Equal(got, w.want) {
				t.Errorf("walk from %q (after %v) = %q, %v; want %q", w.from, w.after, got, err, w.want)
				continue
			}
			for i, term := range got {
				if !bytes.Equal(gotLists[i], listOf(term)) {
					t.Errorf("walk from %q: list of %q differs from the full walk's", w.from, term)
				}
			}
		}
	}
	if got, _, err := db.SegmentTerms(0, terms[len(terms)-1], true, 3); err != nil || len(got) != 0 {
		t.Errorf("walk after the last term = %q, %v; want nothing", got, err)
	}

	// Prefix searches whose terms span a chunk boundary find every
	// article with a word of the prefix.
	searched := 0
	for j := range len(chunks) - 1 {
		last, next := chunks[j].Terms[len(chunks[j].Terms)-1], chunks[j+1].Terms[0]
		if len(last) < 4 || len(next) < 4 || last[:4] != next[:4] || !strings.HasPrefix(last, "z") {
			continue
		}
		prefix := last[:4]
		var want []string
		for _, a := range arts {
			for _, w := range strings.Fields(a.GetBody()) {
				if strings.HasPrefix(w, prefix) {
					want = append(want, a.GetSlug())
					break
				}
			}
		}
		var got []string
		for _, r := range doSearch(t, db, prefix+"*", articles.Filter{}, 0, 1000).GetResults() {
			got = append(got, r.GetArticle().GetSlug())
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s* found %q, want %q", prefix, got, want)
		}
		searched++
	}
	t.Logf("%d terms in %d chunks; %d prefix searches across a boundary", len(terms), len(chunks), searched)
	if searched == 0 {
		t.Error("no chunk boundary between terms of a common 4-letter prefix")
	}
}

// TestSegmentMergeChunks merges three segments in many steps and checks
// that the output's chunks give each term the sources' postings, in
// docnum order.
func TestSegmentMergeChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	for b := range 3 {
		importAll(t, db, chunkCorpus(fmt.Sprintf("merge%d", b), 40+10*b))
		if err := db.WaitIndexed(ctx); err != nil {
			t.Fatal(err)
		}
	}
	srcs := checkChunks(t, db)
	if len(srcs) < 2 {
		t.Fatalf("%d segments, want several", len(srcs))
	}
	type entries struct {
		docs     []uint32
		postings []string
	}
	want := map[string]*entries{}
	for i := range srcs {
		terms, lists := segmentContents(t, db, i)
		for k, term := range terms {
			docs, postings, err := fulltext.DecodePostingList(lists[k])
			if err != nil {
				t.Fatalf("segment %d term %q: %v", i, term, err)
			}
			e := want[term]
			if e == nil {
				e = &entries{}
				want[term] = e
			}
			e.docs = append(e.docs, docs...)
			e.postings = append(e.postings, postings...)
		}
	}

	steps := 0
	for ; ; steps++ {
		worked, err := db.MergeStep()
		if err != nil {
			t.Fatal(err)
		}
		if !worked {
			break
		}
	}
	t.Logf("%d source segments, merged in %d steps", len(srcs), steps)
	if steps < 3 {
		t.Errorf("the merge took %d steps, want several", steps)
	}
	out := checkChunks(t, db)
	// Steps end with a partial chunk, but chunks also close within a step
	// once they reach the target.
	if len(out) != 1 || len(out[0]) <= steps {
		t.Fatalf("after the merge: %d segments, the first of %d chunks; want 1 of more than the %d steps", len(out), len(out[0]), steps)
	}
	t.Logf("%d chunks after the merge", len(out[0]))
	terms, _ := segmentContents(t, db, 0)
	if wantTerms := slices.Sorted(func(yield func(string) bool) {
		for term := range want {
			if !yield(term) {
				return
			}
		}
	}); !slices.Equal(terms, wantTerms) {
		t.Fatalf("merged segment has %d terms, the sources %d", len(terms), len(wantTerms))
	}
	for _, term := range terms {
		list, err := db.SegmentList(0, term)
		if err != nil {
			t.Fatal(err)
		}
		docs, postings, err := fulltext.DecodePostingList(list)
		if err != nil || !slices.Equal(docs, want[term].docs) || !slices.Equal(postings, want[term].postings) {
			t.Errorf("merged %q: docs %v (%v), want %v", term, docs, err, want[term].docs)
		}
	}
}

// TestSegmentChunkCorrupt reads corrupt chunk values: each read fails
// with an error, none panics.
func TestSegmentChunkCorrupt(t *testing.T) {
	t.Parallel()
	_, good := fulltext.BuildChunk([]string{"alpha", "beta", "gamma"}, [][]byte{{1, 1, 0}, {1, 2, 0}, {1, 3, 0}})
	patch := func(off int, b ...byte) []byte {
		v := bytes.Clone(good)
		copy(v[off:], b)
		return v
	}
	for _, tc := range []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"short count", []byte{1, 0}},
		{"huge count", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}},
		{"truncated offsets", good[:10]},
		{"truncated data", good[:len(good)-2]},
		{"offset past the end", patch(8, 0xff, 0xff, 0, 0)},
		{"offsets decreasing", patch(8, 12, 0, 0, 0)},
		{"last offset past the end", patch(4+4*6, 0, 1, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := fulltext.ChunkEntries(tc.v); err == nil {
				t.Error("ChunkEntries succeeded")
			}
			for _, term := range []string{"alpha", "beta", "gamma", "delta", ""} {
				fulltext.ChunkLookup(tc.v, term) // may fail, must not panic
			}
		})
	}
}

// FuzzSegmentChunk reads arbitrary bytes as a chunk, which may fail but
// must not panic, and builds a chunk of the term/list pairs the bytes
// split into (at 0x00 bytes), which must read back the same.
func FuzzSegmentChunk(f *testing.F) {
	_, good := fulltext.BuildChunk([]string{"alpha", "beta", "gamma"}, [][]byte{{1, 1, 0}, {1, 2, 0}, {1, 3, 0}})
	f.Add(good, "beta")
	f.Add(good[:len(good)-1], "gamma")
	f.Add([]byte{}, "")
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f}, "a")
	f.Add([]byte("term\x00list\x00other\x00\x01\x02\x03\x00term\x00dup"), "other")
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0}, "x")
	f.Fuzz(func(t *testing.T, raw []byte, probe string) {
		fulltext.ChunkEntries(raw)
		fulltext.ChunkLookup(raw, probe)
		fulltext.ChunkSearch(raw, probe)

		parts := bytes.Split(raw, []byte{0})
		lists := map[string][]byte{}
		for i := 0; i+1 < len(parts); i += 2 {
			if _, ok := lists[string(parts[i])]; !ok {
				lists[string(parts[i])] = parts[i+1]
			}
		}
		if len(lists) == 0 {
			return
		}
		var terms []string
		var vals [][]byte
		for term := range lists {
			terms = append(terms, term)
		}
		slices.Sort(terms)
		for _, term := range terms {
			vals = append(vals, lists[term])
		}
		key, v := fulltext.BuildChunk(terms, vals)
		if want := append([]byte{1}, terms[len(terms)-1]...); !bytes.Equal(key, want) {
			t.Fatalf("key %q, want %q", key, want)
		}
		gotTerms, gotLists, err := fulltext.ChunkEntries(v)
		if err != nil || !slices.Equal(gotTerms, terms) || !slices.EqualFunc(gotLists, vals, bytes.Equal) {
			t.Fatalf("ChunkEntries = %q, %q, %v; want %q, %q", gotTerms, gotLists, err, terms, vals)
		}
		for _, term := range append(terms, probe) {
			got, err := fulltext.ChunkLookup(v, term)
			want, ok := lists[term]
			if err != nil || !bytes.Equal(got, want) || (got != nil) != ok {
				t.Fatalf("ChunkLookup(%q) = %q, %v; want %q (present %v)", term, got, err, want, ok)
			}
		}
	})
}

// FuzzPostingList decodes arbitrary bytes as a posting list (count, block
// table, entries), as a damaged index file would hand them to a search:
// an error, never a panic, and never more documents than the list claims.
func FuzzPostingList(f *testing.F) {
	f.Add([]byte{1, 1, 1, 4, 1, 1, 1, 2, 1, 0})
	f.Add([]byte{2, 1, 5, 8, 3, 3, 2, 3, 1, 0, 3, 3, 0, 0})
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, raw []byte) {
		docs, postings, err := fulltext.DecodePostingList(raw)
		if err == nil && len(raw) > 0 && uint64(len(docs)) > uint64(raw[0]&0x7f)+uint64(len(raw))*128 {
			t.Fatalf("%d documents from %d bytes", len(docs), len(raw))
		}
		for i := 1; err == nil && i < len(docs); i++ {
			if docs[i] < docs[i-1] {
				t.Fatalf("docnums out of order: %v", docs)
			}
		}
		// The ranking's cursor reads the same entries. It goes by the
		// block table, not the count (which only gives the document
		// frequency), so where a damaged count is short it reads on.
		cdocs, cpostings, cerr := fulltext.CursorDocs(raw)
		for i := 1; i < len(cdocs); i++ {
			if cdocs[i] < cdocs[i-1] {
				t.Fatalf("cursor: docnums out of order: %v", cdocs)
			}
		}
		if err == nil && cerr == nil && (len(cdocs) < len(docs) ||
			!slices.Equal(docs, cdocs[:len(docs)]) || !slices.Equal(postings, cpostings[:len(docs)])) {
			t.Fatalf("cursor read %v %q, the list is %v %q", cdocs, cpostings, docs, postings)
		}
	})
}
