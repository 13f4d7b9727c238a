package search

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// MaxWordLen is the length in bytes at which a folded word is cut. It bounds
// the size of index keys whatever the input.
const MaxWordLen = 64

// Token is one indexed word of a text.
type Token struct {
	// Term is the word as the index stores it: folded and stemmed.
	Term string
	// Word is the word folded (case, diacritics, apostrophes) but not
	// stemmed; prefix queries match against it.
	Word string
	// Pos is the position of the word in the text, counting from 0. Stop
	// words are not returned but are counted, so adjacent tokens may have
	// positions more than one apart.
	Pos int
	// Start and End are the byte offsets of the word in the analysed text:
	// text[Start:End] is the word as written.
	Start, End int
}

// Analyze splits text into words and returns those that are indexed, in
// order. See the package documentation for what analysis does. It never
// fails: invalid UTF-8 and punctuation separate words.
func Analyze(text string) []Token {
	// About one indexed word per seven bytes of English prose: one
	// allocation for most texts rather than a dozen regrowths.
	toks := make([]Token, 0, len(text)/7+1)
	scan(text, true, func(w word) {
		if !w.stop {
			toks = append(toks, Token{Term: w.term, Word: w.folded, Pos: w.pos, Start: w.start, End: w.end})
		}
	})
	return toks
}

// ScanWords calls fn with each indexed word of text, in order: the Word and
// Pos of each Token that Analyze returns, without stemming it. Stem(word)
// is the Token's Term. An indexer that stems each distinct word of a text
// once, rather than every occurrence, does less work than with Analyze.
func ScanWords(text string, fn func(word string, pos int)) {
	scan(text, false, func(w word) {
		if !w.stop {
			fn(w.folded, w.pos)
		}
	})
}

// Stem returns the index term of a folded word (a Token's Word, or a word
// from ScanWords): its Snowball English stem, or the word itself when
// stemming leaves nothing.
func Stem(word string) string { return stem(word) }

// word is one word of a text, stop words included.
type word struct {
	folded, term string
	pos          int
	start, end   int
	stop         bool
}

// asciiWord reports which ASCII bytes are word characters (letters and
// digits), so that the scanner decodes and classifies runes only outside
// ASCII.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = isWordRune(rune(c))
	}
	return t
}()

// scan calls fn for every word of text, stop words included, in order.
// Without withTerms, it leaves word.term empty: stemming is the costly part
// of analysis, and a snippet needs it for few words.
//
// ASCII is handled byte by byte: a word of lower-case ASCII letters and
// digits is folded by slicing text, without copying or decoding it.
func scan(text string, withTerms bool, fn func(word)) {
	pos := 0
	for i := 0; i < len(text); {
		var (
			start    = i
			j        int
			r        rune
			size     int
			plain    = true // only lower-case ASCII letters and digits so far
			ideogram bool
		)
		if c := text[i]; c < utf8.RuneSelf {
			if !asciiWord[c] {
				i++
				continue
			}
			j = i + 1
			plain = c < 'A' || c > 'Z'
		} else {
			r, size = utf8.DecodeRuneInString(text[i:])
			if !isWordRune(r) {
				i += size
				continue
			}
			j, plain, ideogram = i+size, false, isIdeograph(r)
		}
		for !ideogram && j < len(text) {
			if c := text[j]; c < utf8.RuneSelf {
				if asciiWord[c] {
					if c >= 'A' && c <= 'Z' {
						plain = false
					}
					j++
					continue
				}
				if c != '\'' {
					break
				}
				size = 1
			} else {
				r, size = utf8.DecodeRuneInString(text[j:])
				if isWordRune(r) && !isIdeograph(r) {
					plain = false
					j += size
					continue
				}
				if !isApostrophe(r) {
					break
				}
			}
			// An apostrophe joins the word when a word character follows.
			if j+size >= len(text) {
				break
			}
			r2, size2 := utf8.DecodeRuneInString(text[j+size:])
			if !isWordRune(r2) || isIdeograph(r2) {
				break
			}
			plain = false
			j += size + size2
		}
		i = j
		var folded string
		if plain {
			folded = text[start:min(j, start+MaxWordLen)]
		} else if folded = foldWord(text[start:j]); folded == "" {
			continue // only combining marks: nothing left to index
		}
		w := word{folded: folded, pos: pos, start: start, end: j, stop: isStop(folded)}
		if !w.stop && withTerms {
			w.term = stem(folded)
		}
		fn(w)
		pos++
	}
}

// isStop reports whether the folded word w is a stop word. Stop words are
// short, so longer words skip the map.
func isStop(w string) bool { return len(w) <= 5 && stopWords[w] }

func isWordRune(r rune) bool {
	return !isApostrophe(r) && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))
}

func isIdeograph(r rune) bool {
	return r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r))
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '\u2018', '\u2019', '\u201B', '\u02BC', '\uFF07':
		return true
	}
	return false
}

// stopWords are not indexed; see the package documentation.
var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true,
	"be": true, "but": true, "by": true, "for": true, "if": true, "in": true,
	"into": true, "is": true, "it": true, "of": true, "on": true, "or": true,
	"such": true, "that": true, "the": true, "their": true, "then": true,
	"there": true, "these": true, "they": true, "this": true, "to": true,
	"was": true, "were": true, "will": true, "with": true,
}

// IsStopWord reports whether the folded word w is a stop word, one that is
// not indexed.
func IsStopWord(w string) bool { return stopWords[w] }

// letterMap folds letters that have no canonical decomposition, so that
// dropping combining marks alone would leave them unchanged.
var letterMap = map[rune]string{
	'đ': "d", 'ð': "d", 'ø': "o", 'ł': "l", 'ħ': "h", 'ı': "i", 'ŧ': "t",
	'æ': "ae", 'œ': "oe", 'þ': "th", 'ŀ': "l", 'ƒ': "f",
}

// folders hold the transformer chain that folds non-ASCII words: a
// transform.Transformer is stateful, so each goroutine takes its own.
var folders = sync.Pool{New: func() any {
	return transform.Chain(
		cases.Fold(),
		norm.NFD,
		runes.Remove(runes.In(unicode.Mn)),
		norm.NFC,
	)
}}

// foldWord folds case, diacritics and apostrophes of one word and cuts it
// to MaxWordLen bytes.
func foldWord(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		s = strings.ToLower(s)
	} else {
		t := folders.Get().(transform.Transformer)
		out, _, err := transform.String(t, s)
		folders.Put(t)
		if err != nil {
			out = strings.ToLower(s)
		}
		s = mapLetters(strings.Map(foldCherokee, out))
	}
	s = stripApostrophes(s)
	if len(s) > MaxWordLen {
		cut := MaxWordLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// foldCherokee maps Cherokee small letters to the capital ones. Unicode
// case folding folds Cherokee to its capitals (they were encoded first),
// but cases.Fold maps each case to the other, so folding a folded word
// again would change it; this keeps folding stable.
func foldCherokee(r rune) rune {
	switch {
	case r >= 0xAB70 && r <= 0xABBF: // ꭰ..ꮿ -> Ꭰ..Ꮿ
		return r - 0xAB70 + 0x13A0
	case r >= 0x13F8 && r <= 0x13FD: // ᏸ..ᏽ -> Ᏸ..Ᏽ
		return r - 8
	}
	return r
}

func mapLetters(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { _, ok := letterMap[r]; return ok }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if m, ok := letterMap[r]; ok {
			b.WriteString(m)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripApostrophes drops a possessive "'s" and then every other apostrophe,
// whichever apostrophe character was used.
func stripApostrophes(s string) string {
	if !strings.ContainsFunc(s, isApostrophe) {
		return s
	}
	if r, size := utf8.DecodeLastRuneInString(s); r == 's' {
		if a, asize := utf8.DecodeLastRuneInString(s[:len(s)-size]); isApostrophe(a) {
			s = s[:len(s)-size-asize]
		}
	}
	return strings.Map(func(r rune) rune {
		if isApostrophe(r) {
			return -1
		}
		return r
	}, s)
}

// stemCache remembers the stems of up to maxStemCache words: stemming
// dominates the cost of analysis, and the words of a corpus repeat (by
// Zipf's law, a few thousand words make most of any text).
var (
	stemCache     sync.Map // folded word -> term
	stemCacheSize atomic.Int64
)

const maxStemCache = 1 << 16

// stem returns the index term of a folded word.
func stem(w string) string {
	if t, ok := stemCache.Load(w); ok {
		return t.(string)
	}
	t := english.Stem(w, true)
	if t == "" {
		t = w
	}
	if stemCacheSize.Load() < maxStemCache {
		// Clone: w may be a slice of a large text the cache must not pin.
		if _, loaded := stemCache.LoadOrStore(strings.Clone(w), strings.Clone(t)); !loaded {
			stemCacheSize.Add(1)
		}
	}
	return t
}
