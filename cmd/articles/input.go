package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/seeds"
)

// settable are the article fields a client may set, by proto name; the
// others are output only, and an update mask must not name them.
var settable = map[string]bool{
	"title": true, "slug": true, "summary": true, "body": true,
	"authors": true, "author_bio": true, "source": true, "tags": true,
	"labels": true, "publish_time": true,
}

// decodeArticleJSON decodes one protojson article (unknown fields are an
// error, so a typo is not silently dropped) and returns the settable
// fields the object names, as update-mask paths in the order given.
func decodeArticleJSON(b []byte) (*articlesv1.Article, []string, error) {
	a := &articlesv1.Article{}
	if err := protojson.Unmarshal(b, a); err != nil {
		return nil, nil, err
	}
	// protojson has checked the keys; this only recovers which were given.
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	fields := a.ProtoReflect().Descriptor().Fields()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByName(protoreflect.Name(k))
		}
		if fd != nil && settable[string(fd.Name())] {
			keys = appendOnce(keys, string(fd.Name()))
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, nil, err
		}
	}
	return a, keys, nil
}

// importItem is one article to import and where it came from, for
// reporting failures against the input rather than the stream index.
type importItem struct {
	article *articlesv1.Article
	where   string
}

// parseImport turns one input into articles. The format comes from the
// extension (.txt: seed-format text pages; .json, .jsonl, .ndjson: JSON),
// or else from the content: JSON starts with '{' or '['.
func parseImport(name string, data []byte) ([]importItem, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	isJSON := false
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".jsonl", ".ndjson":
		isJSON = true
	case ".txt":
	default:
		t := bytes.TrimSpace(data)
		isJSON = len(t) > 0 && (t[0] == '{' || t[0] == '[')
	}
	if isJSON {
		return parseJSONArticles(name, data)
	}
	as, err := seeds.Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	items := make([]importItem, len(as))
	for i, a := range as {
		items[i] = importItem{a, fmt.Sprintf("%s: article %d", name, i+1)}
	}
	return items, nil
}

// parseJSONArticles decodes a sequence of JSON values, each an article
// object or an array of them. That one rule reads a JSON array, a single
// object, JSON Lines and concatenated pretty-printed objects alike.
//
// JSON Lines, where every line that is not blank is one object, take a
// fast path that hands each line to protojson directly. Anything else, and
// any error, goes through encoding/json's decoder to find the values, which
// costs about as much again as decoding them and reports errors with their
// line.
func parseJSONArticles(name string, data []byte) ([]importItem, error) {
	if items, ok := parseJSONLines(name, data); ok {
		return items, nil
	}
	return parseJSONCounted(name, data, &lineCounter{data: data})
}

// parseJSONLines decodes data as JSON Lines, the lines split among up to
// GOMAXPROCS goroutines, since decoding costs far more than reading. It
// reports false when data is not JSON Lines of valid articles, leaving
// the error to the general path.
func parseJSONLines(name string, data []byte) ([]importItem, bool) {
	type numbered struct {
		n    int
		text []byte
	}
	var lines []numbered
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		line = bytes.Trim(line, " \t\r") // JSON's whitespace
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' || line[len(line)-1] != '}' {
			return nil, false
		}
		lines = append(lines, numbered{n, line})
	}
	items := make([]importItem, len(lines))
	workers := min(runtime.GOMAXPROCS(0), 1+len(lines)/1000)
	per := (len(lines) + workers - 1) / max(workers, 1)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for lo := 0; lo < len(lines); lo += per {
		hi := min(lo+per, len(lines))
		wg.Go(func() {
			for i := lo; i < hi && !failed.Load(); i++ {
				a, err := unmarshalArticle(lines[i].text)
				if err != nil {
					failed.Store(true)
					return
				}
				items[i] = importItem{a, name + ":" + strconv.Itoa(lines[i].n)}
			}
		})
	}
	wg.Wait()
	return items, !failed.Load()
}

// parseJSONCounted is parseJSONArticles with the line counter passed in,
// so that a test can see how much of data it scanned.
func parseJSONCounted(name string, data []byte, lines *lineCounter) ([]importItem, error) {
	var items []importItem
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		start := int(dec.InputOffset())
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		line := lines.at(start)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if raw[0] == '[' {
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line, err)
			}
			for i, e := range elems {
				a, err := unmarshalArticle(e)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: element %d: %w", name, line, i, err)
				}
				items = append(items, importItem{a, fmt.Sprintf("%s:%d: element %d", name, line, i)})
			}
			continue
		}
		a, err := unmarshalArticle(raw)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		items = append(items, importItem{a, fmt.Sprintf("%s:%d", name, line)})
	}
}

// unmarshalArticle decodes one protojson article object; unknown fields
// are an error. Unlike decodeArticleJSON it does not collect the keys,
// which an import does not need.
func unmarshalArticle(b []byte) (*articlesv1.Article, error) {
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	a := &articlesv1.Article{}
	if err := protojson.Unmarshal(b, a); err != nil {
		return nil, err
	}
	return a, nil
}

// lineCounter maps byte offsets of data to line numbers. Offsets asked for
// in increasing order cost one pass over data in all: each call counts
// only the newlines since the previous one.
type lineCounter struct {
	data []byte
	// off is the offset line was counted up to; line is the 1-based line
	// of the byte at off.
	off, line int
	// scanned counts the bytes examined, so that a test can check the
	// pass stays linear.
	scanned int
}

// at is the 1-based line of the first non-space byte at or after off.
func (c *lineCounter) at(off int) int {
	for off < len(c.data) && strings.ContainsRune(" \t\r\n", rune(c.data[off])) {
		off++
		c.scanned++
	}
	if c.line == 0 || off < c.off {
		c.off, c.line = 0, 1 // first call, or out of order: count from the start
	}
	c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
	c.scanned += off - c.off
	c.off = off
	return c.line
}
