// Package search is the text analysis, query language and scoring behind
// SearchArticles. It knows nothing of storage: the store indexes the Tokens
// that Analyze returns and walks the Clauses of a parsed Query.
//
// # Basics
//
// Analyze turns text into Tokens. A word is a run of letters, digits and
// combining marks; an apostrophe (ASCII ' or a typographic one such as ’)
// between two word characters belongs to the word, so "ICC's" and "ICC’s"
// are one word each and analyse identically. Han, Hiragana and Katakana
// characters are one word each, since those scripts do not separate words
// with spaces. Each word is then
//
//   - case folded (Unicode simple and full folding: "Straße" becomes "strasse"),
//   - stripped of diacritics (NFD, then combining marks dropped, so "Milošević"
//     becomes "milosevic"; a few letters without a decomposition, such as
//     "đ", "ø" and "ł", are mapped to their base letter),
//   - stripped of a possessive "'s" and of its other apostrophes ("ICC's"
//     becomes "icc", "O'Neill" becomes "oneill"),
//   - dropped if it is a stop word (see below), and
//   - stemmed with the Snowball English stemmer ("sanctions" becomes
//     "sanction").
//
// Words longer than MaxWordLen bytes are cut to that length, so a pathological
// input can never produce an oversized index key.
//
// Parse reads the query language: plain words (every one must match),
// "quoted phrases" (words adjacent and in order), -word and -"phrase" (must
// not match), and word* (prefix). The result is a Query whose Clauses a
// storage backend evaluates, and whose String is its canonical form.
//
// Scorer implements BM25 (k1 = 1.2, b = 0.75) over two fields, title and
// body, with title occurrences weighing TitleWeight times body ones.
// Snippet cuts a passage of a body around its best match and marks the
// matched words with "**".
//
// # Stop words
//
// A short list of very common English words (a, an, and, are, as, at, be,
// but, by, for, if, in, into, is, it, of, on, or, such, that, the, their,
// then, there, these, they, this, to, was, were, will, with) is not
// indexed: they would make the largest posting lists while telling
// documents apart least. Positions still count them, so the phrase
// "war of the worlds" matches "war" and "world" exactly three words apart.
// A query made only of stop words has nothing to search for and is a
// syntax error. Negation words such as "no" and "not" are deliberately not
// on the list.
//
// # Caveats
//
// Folding and stemming are designed for English and other Latin-script
// text. Other scripts are segmented and case folded but not stemmed, and
// dropping combining marks can merge distinct words in scripts that write
// vowels as marks.
//
// A prefix (word*) is matched against the folded but unstemmed words of the
// index, so "sanct*" finds "sanctions" and "sanctioned"; it must be at least
// MinPrefixLen characters long. Inside quotes, '*' is ignored: phrases
// match whole words only.
//
// Stemming is the costly part of analysis, so the stems of up to 65,536
// distinct words are cached for the life of the process (a few megabytes).
package search
