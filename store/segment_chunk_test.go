package store_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/seed9c1868aa/articles/store"
)

// TestSegmentChunkCorrupt reads corrupt chunk values: each read fails
// with an error, none panics.
func TestSegmentChunkCorrupt(t *testing.T) {
	t.Parallel()
	_, good := store.BuildChunk([]string{"alpha", "beta", "gamma"}, [][]byte{{1, 1, 0}, {1, 2, 0}, {1, 3, 0}})
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
			if _, _, err := store.ChunkEntries(tc.v); err == nil {
				t.Error("ChunkEntries succeeded")
			}
			for _, term := range []string{"alpha", "beta", "gamma", "delta", ""} {
				store.ChunkLookup(tc.v, term) // may fail, must not panic
			}
		})
	}
}

// FuzzSegmentChunk reads arbitrary bytes as a chunk, which may fail but
// must not panic, and builds a chunk of the term/list pairs the bytes
// split into (at 0x00 bytes), which must read back the same.
func FuzzSegmentChunk(f *testing.F) {
	_, good := store.BuildChunk([]string{"alpha", "beta", "gamma"}, [][]byte{{1, 1, 0}, {1, 2, 0}, {1, 3, 0}})
	f.Add(good, "beta")
	f.Add(good[:len(good)-1], "gamma")
	f.Add([]byte{}, "")
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f}, "a")
	f.Add([]byte("term\x00list\x00other\x00\x01\x02\x03\x00term\x00dup"), "other")
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0}, "x")
	f.Fuzz(func(t *testing.T, raw []byte, probe string) {
		store.ChunkEntries(raw)
		store.ChunkLookup(raw, probe)
		store.ChunkSearch(raw, probe)

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
		key, v := store.BuildChunk(terms, vals)
		if want := append([]byte{1}, terms[len(terms)-1]...); !bytes.Equal(key, want) {
			t.Fatalf("key %q, want %q", key, want)
		}
		gotTerms, gotLists, err := store.ChunkEntries(v)
		if err != nil || !slices.Equal(gotTerms, terms) || !slices.EqualFunc(gotLists, vals, bytes.Equal) {
			t.Fatalf("ChunkEntries = %q, %q, %v; want %q, %q", gotTerms, gotLists, err, terms, vals)
		}
		for _, term := range append(terms, probe) {
			got, err := store.ChunkLookup(v, term)
			want, ok := lists[term]
			if err != nil || !bytes.Equal(got, want) || (got != nil) != ok {
				t.Fatalf("ChunkLookup(%q) = %q, %v; want %q (present %v)", term, got, err, want, ok)
			}
		}
	})
}
