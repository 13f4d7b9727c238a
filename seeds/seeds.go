// Package seeds holds the articles a fresh Articles database starts with,
// and the parser that turns a scraped web page into articles.
//
// # Basics
//
// The seed pages are text files embedded from this directory (*.txt).
// Articles parses every one of them, in file-name order; Parse turns one
// page into articles; Files exposes the raw pages.
//
// A page is plain text as a scraper saved it: articles follow one another,
// separated by lines reading "Continue Reading". Within one article:
//
//   - page chrome is dropped: "Connect with us", "Avatar photo" and
//     "Image source:" with no caption after it;
//   - the first remaining line is the title;
//   - every other non-blank line is a paragraph; the body is the paragraphs
//     joined with exactly one blank line, so runs of blank lines collapse;
//   - a closing line "from our partner X" sets Source to X and is removed
//     from the body;
//   - a closing author note ("Advisory Board Co-chair Professor Giancarlo
//     Elia Valori is an eminent Italian economist ...": titles and
//     honorifics, a name, then "is a" or "is an") moves to AuthorBio, and
//     the name without the honorifics ("Giancarlo Elia Valori") becomes the
//     only entry of Authors.
//
// Text is kept exactly as written (typographic quotes, dashes, accented and
// other non-ASCII letters), except that whitespace at either end of a line
// is trimmed (scraped pages end lines with stray no-break spaces) and that
// "\r\n" and a lone "\r" end lines just as "\n" does.
//
// Parse only fills Title, Body, Authors, AuthorBio and Source. Slug, Summary,
// ids and times are left empty on purpose: the server derives the slug from
// the title and the summary from the first paragraph, so the seeds go
// through exactly the same rules as any other import, and importing them
// twice upserts by the same derived slug instead of duplicating them.
//
// # Caveats
//
// Author-note detection is a heuristic. It recognises a closing paragraph
// whose words before " is a"/" is an" are all capitalised, of which the
// leading ones are known titles or honorifics (Professor, Dr., Advisory
// Board, Co-chair, Honoris Causa, ...) and the last two to five form a
// name. A closing paragraph that does not fit stays in the body, and an
// article with no recognised note has no authors. A part of the page with
// nothing but chrome yields no article; a part with only a title yields an
// article with an empty body.
package seeds

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"unicode"
	"unicode/utf8"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

//go:embed *.txt
var files embed.FS

// Files returns the embedded seed pages: a read-only file system whose
// top-level *.txt files are the pages Articles parses.
func Files() fs.FS { return files }

// Articles parses every embedded seed page, in file-name order, and returns
// their articles in page order. The result is freshly allocated on every
// call, so callers may modify it.
func Articles() ([]*articlesv1.Article, error) {
	// fs.Glob returns names sorted, which makes the order deterministic.
	names, err := fs.Glob(files, "*.txt")
	if err != nil {
		return nil, fmt.Errorf("seeds: %w", err)
	}
	var all []*articlesv1.Article
	for _, name := range names {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("seeds: %w", err)
		}
		as, err := Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("seeds: %s: %w", name, err)
		}
		all = append(all, as...)
	}
	return all, nil
}

// Parse turns one scraped page into its articles, in the order they appear.
// It never panics; it returns an error only if text is not valid UTF-8,
// since protobuf strings must be, and silently repairing text would change
// it.
func Parse(text string) ([]*articlesv1.Article, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("page is not valid UTF-8 (at byte %d)", invalidAt(text))
	}
	var (
		out  []*articlesv1.Article
		part []string // the current article's non-blank, non-chrome lines
	)
	flush := func() {
		if a := parsePart(part); a != nil {
			out = append(out, a)
		}
		part = part[:0]
	}
	// Old Mac line ends (a lone "\r") end lines too, so no title or
	// paragraph ever holds a line break.
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line) // also drops no-break spaces
		switch {
		case strings.EqualFold(line, "Continue Reading"):
			flush()
		case line == "" || isChrome(line):
			// Blank runs collapse: paragraphs are rejoined with one blank line.
		default:
			part = append(part, line)
		}
	}
	flush()
	return out, nil
}

// parsePart builds the article from one part's lines, or returns nil when
// there is no line left to be its title.
func parsePart(lines []string) *articlesv1.Article {
	if len(lines) == 0 {
		return nil
	}
	a := &articlesv1.Article{Title: lines[0]}
	paras := lines[1:]
	// A closing partner line and a closing author note may come in either
	// order; each is taken at most once, so this loop runs at most twice.
	for {
		n := len(paras)
		if n == 0 {
			break
		}
		last := paras[n-1]
		if a.Source == "" {
			if src, ok := partner(last); ok {
				a.Source = src
				paras = paras[:n-1]
				continue
			}
		}
		// An author note must leave a body behind: a one-paragraph article
		// whose only paragraph looks like a note is just a short article.
		if a.AuthorBio == "" && n >= 2 {
			if name, ok := authorNote(last); ok {
				a.AuthorBio = last
				a.Authors = []string{name}
				paras = paras[:n-1]
				continue
			}
		}
		break
	}
	a.Body = strings.Join(paras, "\n\n")
	return a
}

// isChrome reports whether a trimmed line is page furniture rather than text.
func isChrome(line string) bool {
	switch strings.ToLower(line) {
	case "connect with us", "avatar photo", "image source:", "image source":
		return true
	}
	return false
}

const partnerPrefix = "from our partner "

// partner reports whether line is a "from our partner X" credit, and X.
func partner(line string) (string, bool) {
	// ASCII-only prefix, so comparing the same number of bytes is safe.
	if len(line) <= len(partnerPrefix) || !strings.EqualFold(line[:len(partnerPrefix)], partnerPrefix) {
		return "", false
	}
	src := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line[len(partnerPrefix):]), "."))
	return src, src != ""
}

// honorifics are the lowercase words (without a trailing period) that may
// precede a name in an author note: titles, positions and the bodies that
// confer them. Anything else before the name disqualifies the note, because
// then the name's start cannot be told.
var honorifics = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		mr mrs ms miss mx dr prof professor sir dame lord lady rev reverend
		hon honorable honourable honoris causa emeritus emerita
		advisory board co-chair chair chairman chairwoman chairperson
		president vice vice-president director co-director deputy executive
		senior junior principal chief fellow research associate assistant
		visiting adjunct distinguished editor editor-in-chief ambassador
		general colonel major captain lieutenant admiral commander
		ceo founder co-founder member head secretary minister judge justice
		dean lecturer analyst journalist writer author expert scholar
		researcher consultant adviser advisor partner phd
		institute university centre center council school academy foundation
	`) {
		honorifics[w] = true
	}
}

// nameParticles may appear inside a name in lower case (Ludwig van Beethoven).
var nameParticles = map[string]bool{
	"van": true, "von": true, "der": true, "den": true, "de": true, "del": true,
	"della": true, "di": true, "da": true, "du": true, "la": true, "le": true,
	"bin": true, "ibn": true, "al": true, "el": true,
}

// authorNote reports whether para is a closing author note and returns the
// author's name without honorifics.
func authorNote(para string) (string, bool) {
	i := strings.Index(para, " is a ")
	if j := strings.Index(para, " is an "); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i <= 0 {
		return "", false
	}
	words := strings.Fields(para[:i])
	if len(words) > 16 {
		return "", false
	}
	// Leading honorifics and connectors ("of the") go; the rest is the name.
	k := 0
	for k < len(words) {
		w := strings.ToLower(strings.TrimSuffix(words[k], "."))
		if !honorifics[w] && !(k > 0 && (w == "of" || w == "the" || w == "and")) {
			break
		}
		k++
	}
	name := words[k:]
	if len(name) < 2 || len(name) > 5 {
		return "", false
	}
	for j, w := range name {
		inner := j > 0 && j < len(name)-1
		if !(isNameWord(w) || inner && nameParticles[w]) {
			return "", false
		}
	}
	return strings.Join(name, " "), true
}

// isNameWord reports whether w looks like one word of a personal name: a
// capital letter, then letters, hyphens, apostrophes, or a period closing an
// initial ("W.").
func isNameWord(w string) bool {
	r, size := utf8.DecodeRuneInString(w)
	if !unicode.IsUpper(r) {
		return false
	}
	rest := w[size:]
	if rest == "." { // an initial
		return true
	}
	for _, r := range rest {
		if !unicode.IsLetter(r) && r != '-' && r != '\'' && r != '’' {
			return false
		}
	}
	return true
}

// invalidAt returns the byte offset of the first invalid UTF-8 sequence in s.
func invalidAt(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return len(s)
}
