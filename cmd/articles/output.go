package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Column widths of the table format, in characters. Long values are cut
// with an ellipsis so that one article is always one line.
const (
	titleWidth   = 50
	authorsWidth = 24
	snippetWidth = 70
	slugWidth    = 30
)

// streamFlushEvery is how many rows a streamed table buffers before it is
// written: enough to align columns, few enough to show progress.
const streamFlushEvery = 100

// printer writes results in one output format. Table rows are buffered in
// a tabwriter until flush.
//
// In json and yaml a command's output is one document. A command that
// prints many results (stream, list --all, watch) calls beginList first:
// the results then become the elements of one array, written as they come
// and closed by endList.
type printer struct {
	w      io.Writer
	format string

	tw   *tabwriter.Writer
	rows int

	// list is set by beginList; items counts the elements written.
	list  bool
	items int
}

// machine reports whether the format is for programs (json, jsonl,
// yaml): such output holds the results and nothing else.
func (p *printer) machine() bool {
	return p.format == "json" || p.format == "jsonl" || p.format == "yaml"
}

// beginList makes the following messages the elements of one array.
func (p *printer) beginList() { p.list = true }

// endList closes the array that beginList opened; an empty one is
// written as [] so that the output is still a document.
func (p *printer) endList() error {
	if !p.list {
		return nil
	}
	p.list = false
	var err error
	switch {
	case p.format == "json" && p.items == 0:
		_, err = io.WriteString(p.w, "[]\n")
	case p.format == "json":
		_, err = io.WriteString(p.w, "\n]\n")
	case p.format == "yaml" && p.items == 0:
		_, err = io.WriteString(p.w, "[]\n")
	}
	return err
}

// message writes one protobuf message as json, jsonl or yaml. protojson's
// own spacing is deliberately unstable, so the output is re-indented
// (json) or compacted (jsonl) with encoding/json, which is deterministic,
// or converted to YAML from that JSON.
func (p *printer) message(m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch p.format {
	case "json":
		switch {
		case !p.list:
			err = json.Indent(&buf, b, "", "  ")
			buf.WriteByte('\n')
		case p.items == 0:
			buf.WriteString("[\n  ")
			err = json.Indent(&buf, b, "  ", "  ")
		default:
			buf.WriteString(",\n  ")
			err = json.Indent(&buf, b, "  ", "  ")
		}
	case "yaml":
		var y []byte
		if y, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
		if !p.list {
			buf.Write(y)
			break
		}
		// One sequence item: "- " before the first line, its
		// continuation indented to match.
		for i, line := range bytes.SplitAfter(bytes.TrimSuffix(y, []byte("\n")), []byte("\n")) {
			if i == 0 {
				buf.WriteString("- ")
			} else {
				buf.WriteString("  ")
			}
			buf.Write(line)
		}
		buf.WriteByte('\n')
	default:
		err = json.Compact(&buf, b)
		buf.WriteByte('\n')
	}
	if err != nil {
		return err
	}
	p.items++
	_, err = p.w.Write(buf.Bytes())
	return err
}

// table returns the tabwriter of a table, writing header first if the
// table is new.
func (p *printer) table(header ...string) *tabwriter.Writer {
	if p.tw == nil {
		p.tw = tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(p.tw, strings.Join(header, "\t"))
	}
	return p.tw
}

// row adds one table row; streamed tables are flushed every
// streamFlushEvery rows.
func (p *printer) row(streamed bool, header []string, cells ...string) error {
	tw := p.table(header...)
	for i, c := range cells {
		// Tabs and newlines in a value would break the columns.
		cells[i] = strings.Join(strings.Fields(c), " ")
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
	p.rows++
	if streamed && p.rows%streamFlushEvery == 0 {
		return tw.Flush()
	}
	return nil
}

// flush writes buffered table rows.
func (p *printer) flush() error {
	if p.tw == nil {
		return nil
	}
	return p.tw.Flush()
}

var articleHeader = []string{"ID", "SLUG", "TITLE", "AUTHORS", "PUBLISHED"}

// article prints one article. streamed says whether more may follow for a
// long time (stream, list --all), so table rows are flushed as they go.
func (p *printer) article(a *articlesv1.Article, streamed bool) error {
	switch p.format {
	case "json", "jsonl", "yaml":
		return p.message(a)
	case "text":
		return p.articleText(a)
	default:
		return p.row(streamed, articleHeader,
			a.GetId(),
			truncate(a.GetSlug(), slugWidth),
			truncate(a.GetTitle(), titleWidth),
			truncate(strings.Join(a.GetAuthors(), ", "), authorsWidth),
			date(a.GetPublishTime()),
		)
	}
}

// articleText prints every field set on a, one per line, then the body
// after a blank line; records are separated by a blank line.
func (p *printer) articleText(a *articlesv1.Article) error {
	var b strings.Builder
	if p.rows > 0 {
		b.WriteString("\n")
	}
	p.rows++
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, value)
		}
	}
	field("ID", a.GetId())
	field("Slug", a.GetSlug())
	field("Title", a.GetTitle())
	field("Authors", strings.Join(a.GetAuthors(), ", "))
	field("Source", a.GetSource())
	field("Tags", strings.Join(a.GetTags(), ", "))
	for _, k := range slices.Sorted(maps.Keys(a.GetLabels())) {
		field("Label", k+"="+a.GetLabels()[k])
	}
	field("Published", timestamp(a.GetPublishTime()))
	field("Created", timestamp(a.GetCreateTime()))
	field("Updated", timestamp(a.GetUpdateTime()))
	if a.GetRevision() != 0 {
		field("Revision", fmt.Sprint(a.GetRevision()))
	}
	field("Etag", a.GetEtag())
	if a.GetWordCount() != 0 {
		field("Words", fmt.Sprint(a.GetWordCount()))
	}
	field("Summary", oneLine(a.GetSummary()))
	if a.GetBody() != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(a.GetBody(), "\n"))
	}
	if a.GetAuthorBio() != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(a.GetAuthorBio(), "\n"))
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

// truncate shortens s to at most n characters, ending in "…" when cut.
func truncate(s string, n int) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// date formats a publish time as a UTC day, "-" when unset.
func date(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(time.DateOnly)
}

// timestamp formats a time as UTC RFC 3339, "" when unset.
func timestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}
