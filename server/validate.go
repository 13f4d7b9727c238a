package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Limits on article fields beyond those the API names (title and slug
// length, body size). They exist so that one article cannot grow an index
// entry or a list page without bound.
const (
	maxTitleChars     = 500
	maxSlugLen        = 200
	maxSummaryChars   = 5000
	maxAuthorBioChars = 10000
	maxSourceChars    = 200
	maxAuthors        = 100
	maxAuthorChars    = 200
	maxTags           = 100
	maxTagChars       = 100
	maxLabels         = 64
	maxLabelKeyChars  = 63
	maxLabelValChars  = 1024
	maxRequestIDChars = 100

	// summaryChars is about how long a derived summary may be, before the
	// ellipsis.
	summaryChars = 300
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// foldSpecial transliterates letters that Unicode does not decompose into
// an ASCII letter plus marks.
var foldSpecial = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe",
	'ø': "o", 'Ø': "o", 'đ': "d", 'Đ': "d", 'ł': "l", 'Ł': "l",
	'þ': "th", 'Þ': "th", 'ð': "d", 'Ð': "d", 'ı': "i", 'ħ': "h", 'Ħ': "h",
}

// Slugify derives a slug from a title: lowercase ASCII letters and digits
// in runs joined by single '-'. Diacritics are folded ("Milošević" becomes
// "milosevic"), apostrophes vanish ("ICC’s" becomes "iccs"), other
// non-ASCII letters are dropped, and runs of spaces, punctuation and dashes
// become one '-'. The result is at most 200 bytes, cut at a '-' where
// possible. It is never empty: a title with no usable letters gives
// "article-" and a short hash of the title. Slugify is deterministic, and
// its result always satisfies the slug pattern.
func Slugify(title string) string {
	var b strings.Builder
	dash := false // a separator is pending
	emit := func(s string) {
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteString(s)
	}
	for _, r := range norm.NFD.String(strings.ToValidUTF8(title, " ")) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			emit(string(r))
		case r >= 'A' && r <= 'Z':
			emit(string(r + ('a' - 'A')))
		case r == '\'' || r == '’' || r == 'ʼ' || r == '‘':
			// Dropped, so that "ICC's" and "ICC’s" agree.
		case r < utf8.RuneSelf || unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
			dash = true
		case unicode.Is(unicode.Mn, r):
			// A combining mark NFD split off a letter: fold it away.
		default:
			if s, ok := foldSpecial[r]; ok {
				emit(s)
			}
		}
	}
	s := b.String()
	if len(s) > maxSlugLen {
		s = s[:maxSlugLen]
		if i := strings.LastIndexByte(s, '-'); i >= maxSlugLen/2 {
			s = s[:i]
		}
		s = strings.TrimRight(s, "-")
	}
	if s == "" {
		sum := sha256.Sum256([]byte(title))
		s = "article-" + hex.EncodeToString(sum[:4])
	}
	return s
}

// validator checks and normalises articles coming from clients.
type validator struct {
	maxBodyBytes int
}

// normalize checks every settable field of a, which the caller owns, and
// normalises it in place: text trimmed, tags lowercased and deduplicated,
// slug and summary derived when empty, word_count computed. Violations
// name fields under prefix (e.g. "article"). Output-only fields are left
// alone.
func (v validator) normalize(a *articlesv1.Article, prefix string) []*errdetails.BadRequest_FieldViolation {
	var vs []*errdetails.BadRequest_FieldViolation
	bad := func(field, format string, args ...any) {
		vs = append(vs, violation(prefix+"."+field, format, args...))
	}
	text := func(field string, s *string, maxChars int) bool {
		if !utf8.ValidString(*s) {
			bad(field, "must be valid UTF-8")
			return false
		}
		*s = strings.TrimSpace(*s)
		if n := utf8.RuneCountInString(*s); n > maxChars {
			bad(field, "must be at most %d characters, not %d", maxChars, n)
			return false
		}
		return true
	}

	if text("title", &a.Title, maxTitleChars) && a.Title == "" {
		bad("title", "is required")
	}
	titleOK := len(vs) == 0

	if !utf8.ValidString(a.Body) {
		bad("body", "must be valid UTF-8")
	} else {
		a.Body = strings.TrimSpace(strings.ReplaceAll(a.Body, "\r\n", "\n"))
		if len(a.Body) > v.maxBodyBytes {
			bad("body", "must be at most %d bytes, not %d", v.maxBodyBytes, len(a.Body))
		}
	}

	if !utf8.ValidString(a.Slug) {
		bad("slug", "must be valid UTF-8")
	} else {
		a.Slug = strings.TrimSpace(a.Slug)
		switch {
		case a.Slug == "" && titleOK:
			a.Slug = Slugify(a.Title)
		case a.Slug == "":
		case len(a.Slug) > maxSlugLen:
			bad("slug", "must be at most %d characters, not %d", maxSlugLen, len(a.Slug))
		case !slugPattern.MatchString(a.Slug):
			bad("slug", "must be lowercase letters a-z, digits and single '-' between them, not %q", a.Slug)
		}
	}

	if text("summary", &a.Summary, maxSummaryChars) && a.Summary == "" {
		a.Summary = deriveSummary(a.Body)
	}
	text("author_bio", &a.AuthorBio, maxAuthorBioChars)
	text("source", &a.Source, maxSourceChars)

	if len(a.Authors) > maxAuthors {
		bad("authors", "must have at most %d entries, not %d", maxAuthors, len(a.Authors))
	} else {
		authors := a.Authors[:0:0]
		for i := range a.Authors {
			s := a.Authors[i]
			if text("authors["+itoa(i)+"]", &s, maxAuthorChars) && s != "" {
				authors = append(authors, s)
			}
		}
		a.Authors = authors
	}

	if len(a.Tags) > maxTags {
		bad("tags", "must have at most %d entries, not %d", maxTags, len(a.Tags))
	} else {
		tags := a.Tags[:0:0]
		seen := make(map[string]bool, len(a.Tags))
		for i := range a.Tags {
			s := a.Tags[i]
			if text("tags["+itoa(i)+"]", &s, maxTagChars) {
				s = strings.ToLower(s)
				if s != "" && !seen[s] {
					seen[s] = true
					tags = append(tags, s)
				}
			}
		}
		a.Tags = tags
	}

	if len(a.Labels) > maxLabels {
		bad("labels", "must have at most %d entries, not %d", maxLabels, len(a.Labels))
	} else {
		for k, val := range a.Labels {
			switch {
			case !utf8.ValidString(k) || !utf8.ValidString(val):
				bad("labels", "keys and values must be valid UTF-8")
			case k == "" || utf8.RuneCountInString(k) > maxLabelKeyChars:
				bad("labels", "keys must have 1 to %d characters", maxLabelKeyChars)
			case utf8.RuneCountInString(val) > maxLabelValChars:
				bad("labels["+k+"]", "must be at most %d characters", maxLabelValChars)
			default:
				continue
			}
			break // one violation for the map is enough
		}
	}

	if a.PublishTime != nil {
		if err := a.PublishTime.CheckValid(); err != nil {
			bad("publish_time", "is not a valid timestamp")
		}
	}

	a.WordCount = wordCount(a.Body)
	return vs
}

// deriveSummary returns the first paragraph of body, with its whitespace
// folded, trimmed to about summaryChars characters on a word boundary.
// The first paragraph is the lines up to the first blank (or
// whitespace-only) line after some text. Only its first summaryChars+1
// characters are folded: a body's first paragraph may be all of it.
func deriveSummary(body string) string {
	// para is the folded paragraph (words joined by one space), cut once it
	// has more than summaryChars characters; runes counts them.
	para := make([]byte, 0, 2*summaryChars)
	runes := 0
	started := false
lines:
	for line := range strings.SplitSeq(body, "\n") {
		blank := true
		for w := range strings.FieldsSeq(line) {
			blank = false
			if len(para) > 0 {
				para = append(para, ' ')
				runes++
			}
			para = append(para, w...)
			runes += utf8.RuneCountInString(w)
			if runes > summaryChars {
				break lines
			}
		}
		if blank && started {
			break
		}
		started = started || !blank
	}
	if runes <= summaryChars {
		return string(para)
	}
	cut := 0 // byte offset of the summaryChars-th rune
	for i := range string(para) {
		if cut == summaryChars {
			cut = i
			break
		}
		cut++
	}
	s := para[:cut]
	if i := bytes.LastIndexByte(s, ' '); i > summaryChars/2 {
		s = s[:i]
	}
	s = bytes.TrimRightFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—", r)
	})
	return string(s) + "…"
}

// asciiSpace marks the bytes that unicode.IsSpace (and so strings.Fields)
// takes for space among the ASCII ones.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// asciiWord marks the ASCII letters and digits.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	return t
}()

// wordCount counts the runs of non-space text in body that contain a
// letter or a digit, so that a lone dash is not a word. Runs and spaces
// are those of strings.Fields. An ASCII body, most of them, takes a
// branch-light pass: a run starting with a letter or digit counts at its
// first byte, and only runs starting otherwise are read to their end.
func wordCount(body string) int32 {
	if !isASCII(body) {
		return wordCountUTF8(body)
	}
	n := 0
	prevSpace := true // the byte before i is a space, or i is 0
	for i := 0; i < len(body); i++ {
		c := body[i] & 0x7f // ASCII: no-op, lets the compiler drop bounds checks
		space, word := asciiSpace[c], asciiWord[c]
		if prevSpace && !space {
			if word {
				n++
			} else if runHasWord(body[i:]) {
				n++
			}
		}
		prevSpace = space
	}
	return int32(min(n, math.MaxInt32))
}

// runHasWord reports whether the run of non-space ASCII at the start of s
// holds a letter or a digit.
func runHasWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] & 0x7f
		switch {
		case asciiSpace[c]:
			return false
		case asciiWord[c]:
			return true
		}
	}
	return false
}

// wordCountUTF8 is wordCount for any text, rune by rune.
func wordCountUTF8(body string) int32 {
	n := 0
	inRun, counted := false, false // in a run of non-space; it has been counted
	for i := 0; i < len(body); {
		var word bool // the rune at i is a letter or a digit
		if c := body[i]; c < utf8.RuneSelf {
			i++
			if asciiSpace[c] {
				inRun = false
				continue
			}
			word = asciiWord[c]
		} else {
			r, size := utf8.DecodeRuneInString(body[i:])
			i += size
			if unicode.IsSpace(r) {
				inRun = false
				continue
			}
			word = unicode.IsLetter(r) || unicode.IsDigit(r)
		}
		if !inRun {
			inRun, counted = true, false
		}
		if word && !counted {
			counted = true
			n++
		}
	}
	return int32(min(n, math.MaxInt32))
}

// isASCII reports whether s is all ASCII, reading 8 bytes at a time.
func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if binary.LittleEndian.Uint64([]byte(s[i:i+8]))&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// settableFields are the update_mask paths a client may name, with how to
// copy each from the request into the stored article.
var settableFields = map[string]func(dst, src *articlesv1.Article){
	"slug":         func(d, s *articlesv1.Article) { d.Slug = s.Slug },
	"title":        func(d, s *articlesv1.Article) { d.Title = s.Title },
	"summary":      func(d, s *articlesv1.Article) { d.Summary = s.Summary },
	"body":         func(d, s *articlesv1.Article) { d.Body = s.Body },
	"authors":      func(d, s *articlesv1.Article) { d.Authors = append([]string(nil), s.Authors...) },
	"author_bio":   func(d, s *articlesv1.Article) { d.AuthorBio = s.AuthorBio },
	"source":       func(d, s *articlesv1.Article) { d.Source = s.Source },
	"tags":         func(d, s *articlesv1.Article) { d.Tags = append([]string(nil), s.Tags...) },
	"labels":       func(d, s *articlesv1.Article) { d.Labels = cloneLabels(s.Labels) },
	"publish_time": func(d, s *articlesv1.Article) { d.PublishTime = clonePublishTime(s) },
}

// outputOnlyFields are the Article fields an update_mask may not name.
var outputOnlyFields = map[string]bool{
	"id": true, "create_time": true, "update_time": true,
	"revision": true, "etag": true, "word_count": true,
}

// allSettable is the field list an empty update_mask stands for.
var allSettable = []string{"slug", "title", "summary", "body", "authors", "author_bio", "source", "tags", "labels", "publish_time"}

// checkMask validates update_mask paths and returns the fields to copy.
// An empty mask, or "*", means every settable field.
func checkMask(paths []string) ([]string, []*errdetails.BadRequest_FieldViolation) {
	if len(paths) == 0 || (len(paths) == 1 && paths[0] == "*") {
		return allSettable, nil
	}
	var vs []*errdetails.BadRequest_FieldViolation
	for i, p := range paths {
		field := "update_mask.paths[" + itoa(i) + "]"
		switch {
		case settableFields[p] != nil:
		case outputOnlyFields[p]:
			vs = append(vs, violation(field, "%q is output only and cannot be updated", p))
		default:
			vs = append(vs, violation(field, "%q is not a settable field of Article", clip(strings.ToValidUTF8(p, "?"), maxEcho)))
		}
	}
	return paths, vs
}

// maxEcho bounds the client text an error quotes back, in bytes.
const maxEcho = 100

// clip shortens s, client text quoted in an error, to at most n bytes, cut
// at a rune boundary and marked with "…", so that an error never carries a
// request's megabytes back (twice: in the message and in its details).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func clonePublishTime(a *articlesv1.Article) *timestamppb.Timestamp {
	if a.PublishTime == nil {
		return nil
	}
	return proto.Clone(a.PublishTime).(*timestamppb.Timestamp)
}

// applyView trims a to what view shows. Lists default to BASIC, gets to
// FULL; the caller resolves the default.
func applyView(a *articlesv1.Article, view articlesv1.ArticleView) *articlesv1.Article {
	if view == articlesv1.ArticleView_ARTICLE_VIEW_BASIC {
		a.Body = ""
		a.AuthorBio = ""
	}
	return a
}

// resolveView checks view and replaces UNSPECIFIED with def.
func resolveView(field string, view, def articlesv1.ArticleView) (articlesv1.ArticleView, error) {
	switch view {
	case articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED:
		return def, nil
	case articlesv1.ArticleView_ARTICLE_VIEW_BASIC, articlesv1.ArticleView_ARTICLE_VIEW_FULL:
		return view, nil
	}
	return 0, invalidArgument(violation(field, "unknown view %d", int32(view)))
}

func itoa(i int) string { return strconv.Itoa(i) }
