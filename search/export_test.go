package search

import (
	"unicode/utf8"
)

// ReferenceAnalyze is the straightforward rune-by-rune analyser that the
// ASCII fast path of scan replaced. Tests compare the two, so that the fast
// path provably changes nothing an index holds.
func ReferenceAnalyze(text string) []Token {
	var toks []Token
	pos := 0
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			i += size
			continue
		}
		start, j := i, i+size
		if !isIdeograph(r) {
			for j < len(text) {
				r, size := utf8.DecodeRuneInString(text[j:])
				if isWordRune(r) && !isIdeograph(r) {
					j += size
					continue
				}
				if isApostrophe(r) && j+size < len(text) {
					r2, size2 := utf8.DecodeRuneInString(text[j+size:])
					if isWordRune(r2) && !isIdeograph(r2) {
						j += size + size2
						continue
					}
				}
				break
			}
		}
		i = j
		folded := foldWord(text[start:j])
		if folded == "" {
			continue
		}
		if !stopWords[folded] {
			toks = append(toks, Token{Term: stem(folded), Word: folded, Pos: pos, Start: start, End: j})
		}
		pos++
	}
	return toks
}
