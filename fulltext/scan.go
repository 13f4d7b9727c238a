package fulltext

import (
	"strings"

	"github.com/seed9c1868aa/articles/search"
)

// scanWords calls fn with each indexed word of text and its position,
// exactly as search.ScanWords does (FuzzScanWords checks it), except that
// it may also call fn with stop words, which the caller drops
// (search.IsStopWord): the analyzer knows them from its dictionary, which
// is cheaper than the stop word map. It is faster than search.ScanWords
// on texts that are all ASCII, which most articles are (scanning was a
// third of the indexer's analysis); other texts go to search.ScanWords.
func scanWords(text string, fn func(word string, pos int)) {
	if !isASCII(text) {
		search.ScanWords(text, fn)
		return
	}
	pos := 0
	for i := 0; i < len(text); {
		c := text[i]
		if !asciiWordByte[c] {
			i++
			continue
		}
		start, plain := i, c < 'A' || c > 'Z'
		j := i + 1
		for j < len(text) {
			c := text[j]
			if asciiWordByte[c] {
				if c >= 'A' && c <= 'Z' {
					plain = false
				}
				j++
				continue
			}
			// An apostrophe joins the word when a word character follows.
			if c != '\'' || j+1 >= len(text) || !asciiWordByte[text[j+1]] {
				break
			}
			plain = false
			j += 2
		}
		i = j
		var w string
		if plain {
			w = text[start:min(j, start+search.MaxWordLen)]
		} else if w = foldASCII(text[start:j]); w == "" {
			continue
		}
		fn(w, pos)
		pos++
	}
}

// asciiWordByte reports which ASCII bytes are word characters: letters and
// digits.
var asciiWordByte = func() (t [256]bool) {
	for c := range 128 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	return t
}()

// foldASCII folds an ASCII word as search does: lower case, a possessive
// "'s" and then every apostrophe dropped, cut to search.MaxWordLen bytes.
func foldASCII(s string) string {
	s = strings.ToLower(s)
	if strings.IndexByte(s, '\'') >= 0 {
		s = strings.TrimSuffix(s, "'s")
		s = strings.ReplaceAll(s, "'", "")
	}
	return s[:min(len(s), search.MaxWordLen)]
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		b := s[i : i+8]
		if (b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7])&0x80 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
