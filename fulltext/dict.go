package fulltext

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
)

// termDict numbers the folded words and the terms that analysis meets, for
// every Engine of the process. Analysis looks up each word of an article, which
// both stems it (a word seen before is never stemmed again) and gives its
// term's number; building a segment then gathers a batch's postings in
// arrays indexed by term number, rather than hashing the term of each of
// its millions of postings.
//
// Words are kept in an open-addressing table with the word inline in its
// slot, so that a lookup costs one cache miss at most: with Go's map it
// costs about three (control word, slot, key bytes), and lookups were the
// largest cost of analysis.
type termDict struct {
	// mu protects the fields below. Analyzers hold it for reading while
	// they scan an article, and take it for writing only to add the words
	// the article brought.
	mu    sync.RWMutex
	seed  [2]uint64            // of wordHash
	slots []wordSlot           // a power of two of them, at most half used
	used  int                  // slots used
	long  map[string]wordEntry // words longer than maxSlotWord
	ids   map[string]int32     // term -> term number
	terms []string             // term number -> term
}

// maxSlotWord is the longest word kept in a slot.
const maxSlotWord = 18

// wordEntry is what the dictionary knows of a word: its number, its term's
// number, and whether stemming changes it (so that it belongs in the
// vocabulary for prefixes), or that it is a stop word (and has no term).
type wordEntry struct {
	word, term int32
	changed    bool
	stop       bool
}

// wordSlot is a slot of the word table; n == 0 marks a free one. It takes
// 32 bytes, so that no slot straddles two cache lines.
type wordSlot struct {
	hash       uint32 // the high half of the word's hash
	word, term int32
	n          uint8
	flags      uint8 // slotChanged, slotStop
	key        [maxSlotWord]byte
}

// Flags of a wordSlot.
const (
	slotChanged = 1 << iota
	slotStop
)

func (s *wordSlot) entry() wordEntry {
	return wordEntry{word: s.word, term: s.term, changed: s.flags&slotChanged != 0, stop: s.flags&slotStop != 0}
}

// maxDictWords bounds the words of a dictionary: past it, analysis starts
// a new one (see currentDict), so that a stream of distinct words (numbers,
// typos, ids) cannot grow it without end. At the bound a dictionary takes
// some 30 MB (slots, terms and the term map).
const maxDictWords = 1 << 18

// currentDict is the dictionary new analyses use. A replaced one stays in
// use by the analyses made with it; a segment built from analyses of
// different dictionaries numbers their terms itself (buildSegment).
var currentDict atomic.Pointer[termDict]

func newTermDict() *termDict {
	return &termDict{
		seed:  [2]uint64{rand.Uint64(), rand.Uint64()},
		slots: make([]wordSlot, 1<<12),
		long:  map[string]wordEntry{},
		ids:   map[string]int32{},
	}
}

// dictNow returns the current dictionary.
func dictNow() *termDict {
	if d := currentDict.Load(); d != nil {
		return d
	}
	currentDict.CompareAndSwap(nil, newTermDict())
	return currentDict.Load()
}

// words returns the number of words in d. Callers hold d.mu.
func (d *termDict) words() int { return d.used + len(d.long) }

// hash returns the hash of word w, which lookupHash takes.
func (d *termDict) hash(w string) uint64 { return wordHash(d.seed, w) }

// wordHash returns the hash of w with seed. Most words are at most 16
// bytes long, and it hashes those (loaded as two integers, without a
// loop) in a few nanoseconds, several times faster than hash/maphash on
// such short strings: analysis hashes every word of every article it
// indexes. Longer words go to maphash. It mixes as wyhash does (the two
// halves of a 128-bit product), with a random seed per dictionary, so
// that texts cannot be made to collide without knowing it.
func wordHash(seed [2]uint64, w string) uint64 {
	var a, b uint64
	switch n := len(w); {
	case n > 16:
		return maphash.String(longWordSeed, w)
	case n > 8:
		a, b = le64(w), le64(w[n-8:])
	case n >= 4:
		a, b = uint64(le32(w)), uint64(le32(w[n-4:]))
	case n > 0:
		a = uint64(w[0])<<16 | uint64(w[n/2])<<8 | uint64(w[n-1])
	}
	hi, lo := bits.Mul64(a^seed[0], b^seed[1]^uint64(len(w)))
	return hi ^ lo
}

// longWordSeed seeds the hash of words longer than 16 bytes.
var longWordSeed = maphash.MakeSeed()

// le64 and le32 read the first 8 and 4 bytes of s as a little-endian
// integer (the compiler makes each one load).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// lookup returns the entry of word w. Callers hold d.mu.
func (d *termDict) lookup(w string) (wordEntry, bool) { return d.lookupHash(w, d.hash(w)) }

// lookupHash returns the entry of word w, whose hash is h. Callers hold
// d.mu.
func (d *termDict) lookupHash(w string, h uint64) (wordEntry, bool) {
	if len(w) > maxSlotWord || len(w) == 0 {
		e, ok := d.long[w]
		return e, ok
	}
	tag, mask := uint32(h>>32), len(d.slots)-1
	for i, probes := int(h)&mask, 0; probes < len(d.slots); i, probes = (i+1)&mask, probes+1 {
		s := &d.slots[i]
		if s.n == 0 {
			break
		}
		if s.hash == tag && int(s.n) == len(w) && string(s.key[:s.n]) == w {
			return s.entry(), true
		}
	}
	return wordEntry{}, false
}

// add adds word w with term t (a stop word when t is empty), unless w is
// known, and returns the number of w's term (-1 for a stop word). Callers
// hold d.mu for writing. w and t are copied: they may be slices of texts
// the dictionary must not pin.
func (d *termDict) add(w, t string) int32 {
	if e, ok := d.lookup(w); ok {
		return e.term
	}
	e := wordEntry{word: int32(d.words()), term: -1, stop: t == ""}
	if !e.stop {
		id, ok := d.ids[t]
		if !ok {
			id = int32(len(d.terms))
			t = strings.Clone(t)
			d.ids[t] = id
			d.terms = append(d.terms, t)
		}
		e.term, e.changed = id, t != w
	}
	id := e.term
	if len(w) > maxSlotWord || len(w) == 0 {
		d.long[strings.Clone(w)] = e
		return id
	}
	if 2*(d.used+1) > len(d.slots) {
		old := d.slots
		d.slots = make([]wordSlot, 2*len(old))
		for i := range old {
			if old[i].n > 0 {
				d.place(old[i])
			}
		}
	}
	s := wordSlot{hash: uint32(d.hash(w) >> 32), word: e.word, term: e.term, n: uint8(len(w))}
	if e.changed {
		s.flags |= slotChanged
	}
	if e.stop {
		s.flags |= slotStop
	}
	copy(s.key[:], w)
	d.place(s)
	d.used++
	return id
}

// place puts s in the first free slot from its hash's.
func (d *termDict) place(s wordSlot) {
	h := d.hash(string(s.key[:s.n]))
	mask := len(d.slots) - 1
	for i, probes := int(h)&mask, 0; probes < len(d.slots); i, probes = (i+1)&mask, probes+1 {
		if d.slots[i].n == 0 {
			d.slots[i] = s
			return
		}
	}
}
