package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

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
func parseJSONArticles(name string, data []byte) ([]importItem, error) {
	var items []importItem
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		start := int(dec.InputOffset())
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		line := lineAt(data, start)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if raw[0] == '[' {
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line, err)
			}
			for i, e := range elems {
				a, _, err := decodeArticleJSON(e)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: element %d: %w", name, line, i, err)
				}
				items = append(items, importItem{a, fmt.Sprintf("%s:%d: element %d", name, line, i)})
			}
			continue
		}
		a, _, err := decodeArticleJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		items = append(items, importItem{a, fmt.Sprintf("%s:%d", name, line)})
	}
}

// lineAt is the 1-based line of the first non-space byte at or after off.
func lineAt(data []byte, off int) int {
	for off < len(data) && strings.ContainsRune(" \t\r\n", rune(data[off])) {
		off++
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
