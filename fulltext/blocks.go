package fulltext

import (
	"encoding/binary"
)

// Posting list blocks. A posting list is its number of documents n, its
// number of blocks m, a block table of m entries, then the n entries
// (docnum delta from the previous entry, the first from 0; posting
// length; posting). A block is a run of at most blockSize consecutive
// entries; its table entry holds the docnum of its last entry (as a
// delta from the previous block's last docnum, the first from 0), the
// byte length of its entries, and the largest weighted frequency and the
// smallest weighted document length among them (weighted as BM25 reads
// them here: TitleWeight*title + body), all uvarints.
//
// The table is what lets a search skip a block: no document in it can
// score more than BM25 of its largest frequency at its smallest length,
// and its entries can be stepped over whole, the next entry's delta
// counting from the block's last docnum.

// blockSize is the most entries a block holds.
const blockSize = 128

// block is one entry of a block table.
type block struct {
	last  uint32 // docnum of the block's last entry
	bytes int    // length of its entries
	maxTF uint32 // largest weighted frequency
	minDL uint32 // smallest weighted document length
}

// blockBuilder accumulates the block table of a list written entry by
// entry.
type blockBuilder struct {
	blocks []block
	n      int // entries in the last block
}

// add records an entry of size bytes for docnum doc, of weighted
// frequency tf in a document of weighted length dl.
func (b *blockBuilder) add(doc uint32, size int, tf, dl uint32) {
	if len(b.blocks) == 0 || b.n == blockSize {
		b.blocks = append(b.blocks, block{maxTF: tf, minDL: dl})
		b.n = 0
	}
	k := &b.blocks[len(b.blocks)-1]
	k.last = doc
	k.bytes += size
	k.maxTF = max(k.maxTF, tf)
	k.minDL = min(k.minDL, dl)
	b.n++
}

// appendListHeader appends the start of a list of count entries with the
// given blocks: the count, the number of blocks and the block table.
func appendListHeader(b []byte, count int, blocks []block) []byte {
	b = binary.AppendUvarint(b, uint64(count))
	b = binary.AppendUvarint(b, uint64(len(blocks)))
	prev := uint32(0)
	for _, k := range blocks {
		b = binary.AppendUvarint(b, uint64(k.last-prev))
		b = binary.AppendUvarint(b, uint64(k.bytes))
		b = binary.AppendUvarint(b, uint64(k.maxTF))
		b = binary.AppendUvarint(b, uint64(k.minDL))
		prev = k.last
	}
	return b
}

// listHeaderLen returns the length appendListHeader appends.
func listHeaderLen(count int, blocks []block) int {
	n := uvarintLen(uint64(count)) + uvarintLen(uint64(len(blocks)))
	prev := uint32(0)
	for _, k := range blocks {
		n += uvarintLen(uint64(k.last-prev)) + uvarintLen(uint64(k.bytes)) +
			uvarintLen(uint64(k.maxTF)) + uvarintLen(uint64(k.minDL))
		prev = k.last
	}
	return n
}

// parseListHeader decodes the start of list v: its number of entries,
// its blocks (appended to buf[:0], if buf is not nil; otherwise the table
// is only checked and skipped) and its entries.
func parseListHeader(v []byte, buf []block) (count int, blocks []block, entries []byte, err error) {
	n, k := uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return 0, nil, nil, errCorruptPost
	}
	v = v[k:]
	m, k := uvarint(v)
	if k <= 0 || m > n || m > uint64(len(v)) {
		return 0, nil, nil, errCorruptPost
	}
	v = v[k:]
	if buf != nil {
		blocks = buf[:0]
	}
	prev := uint32(0)
	total := 0
	for range m {
		var f [4]uint64
		for i := range f {
			x, k := uvarint(v)
			if k <= 0 {
				return 0, nil, nil, errCorruptPost
			}
			f[i], v = x, v[k:]
		}
		if f[0] > 1<<32 || uint64(prev)+f[0] > 1<<32-1 || f[1] > uint64(len(v)) || f[2] > 1<<32-1 || f[3] > 1<<32-1 {
			return 0, nil, nil, errCorruptPost
		}
		prev += uint32(f[0])
		total += int(f[1])
		if buf != nil {
			blocks = append(blocks, block{last: prev, bytes: int(f[1]), maxTF: uint32(f[2]), minDL: uint32(f[3])})
		}
	}
	if total != len(v) {
		return 0, nil, nil, errCorruptPost
	}
	return int(n), blocks, v, nil
}
