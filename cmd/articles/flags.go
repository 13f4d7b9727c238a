package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/timestamppb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// filterFlags are the filters list, stream, search and watch share.
type filterFlags struct {
	author, tag, source string
	after, before       string
}

// add registers the filter flags; withTimes adds the publish-time bounds,
// which the change feed does not have.
func (f *filterFlags) add(fs *pflag.FlagSet, withTimes bool) {
	fs.StringVar(&f.author, "author", "", "only articles by this author (exact display name)")
	fs.StringVar(&f.tag, "tag", "", "only articles with this tag")
	fs.StringVar(&f.source, "source", "", "only articles from this source (exact)")
	if withTimes {
		fs.StringVar(&f.after, "published-after", "", "only articles published at or after this time (RFC 3339 or YYYY-MM-DD)")
		fs.StringVar(&f.before, "published-before", "", "only articles published before this time (RFC 3339 or YYYY-MM-DD)")
	}
}

// times parses the publish-time bounds; unset ones are nil.
func (f *filterFlags) times() (after, before *timestamppb.Timestamp, err error) {
	if after, err = parseTimeFlag("published-after", f.after); err != nil {
		return nil, nil, err
	}
	if before, err = parseTimeFlag("published-before", f.before); err != nil {
		return nil, nil, err
	}
	return after, before, nil
}

// parseTimeFlag parses an RFC 3339 time or a bare date (midnight UTC); the
// empty string is no time.
func parseTimeFlag(name, s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return timestamppb.New(t), nil
		}
	}
	return nil, usagef("--%s: %q is not an RFC 3339 time (2024-05-01T12:00:00Z) or a date (2024-05-01)", name, s)
}

// parseView maps --view to an ArticleView; "" is the method's default.
func parseView(s string) (articlesv1.ArticleView, error) {
	switch strings.ToLower(s) {
	case "":
		return articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED, nil
	case "basic":
		return articlesv1.ArticleView_ARTICLE_VIEW_BASIC, nil
	case "full":
		return articlesv1.ArticleView_ARTICLE_VIEW_FULL, nil
	}
	return 0, usagef("--view: %q is not basic or full", s)
}

// articleFlags are the settable fields of an article, for create and
// update. For update, the flags given are exactly the update mask.
type articleFlags struct {
	title, slug, summary, body, bodyFile, authorBio, source, publishTime string
	authors, tags, labels                                                []string
	from                                                                 string
}

// add registers the article flags.
func (f *articleFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.title, "title", "", "title (required on create, at most 500 characters)")
	fs.StringVar(&f.slug, "slug", "", "slug: lowercase a-z, 0-9 and '-' (default: derived from the title)")
	fs.StringVar(&f.summary, "summary", "", "summary (default: the first paragraph of the body)")
	fs.StringVar(&f.body, "body", "", "body text; paragraphs separated by a blank line")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the body from this file (- for stdin)")
	fs.StringVar(&f.authorBio, "author-bio", "", "closing note about the author")
	fs.StringArrayVar(&f.authors, "author", nil, "author display name (repeatable; --author= clears on update)")
	fs.StringArrayVar(&f.tags, "tag", nil, "tag (repeatable; --tag= clears on update)")
	fs.StringVar(&f.source, "source", "", "publication or partner the article comes from")
	fs.StringArrayVar(&f.labels, "label", nil, "label key=value (repeatable; --label= clears on update)")
	fs.StringVar(&f.publishTime, "publish-time", "", "publish time, RFC 3339 or YYYY-MM-DD (--publish-time= clears on update)")
	fs.StringVar(&f.from, "from", "", "read the article from this protojson file (- for stdin); flags given override its fields")
}

// build makes the article the flags describe, on top of the --from file
// if one was given, and returns the update-mask paths: the fields the
// flags set and, for --from, the fields present in the file.
func (f *articleFlags) build(cmd *cobra.Command, stdin io.Reader) (*articlesv1.Article, []string, error) {
	fs := cmd.Flags()
	a := &articlesv1.Article{}
	var paths []string
	if f.from != "" && f.bodyFile == "-" && f.from == "-" {
		return nil, nil, usagef("--from - and --body-file - cannot both read stdin")
	}
	if f.from != "" {
		b, err := readFileArg(f.from, stdin)
		if err != nil {
			return nil, nil, err
		}
		if a, paths, err = decodeArticleJSON(b); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.from, err)
		}
	}
	if fs.Changed("body") && fs.Changed("body-file") {
		return nil, nil, usagef("--body and --body-file are mutually exclusive")
	}
	set := func(flag, path string, apply func() error) error {
		if !fs.Changed(flag) {
			return nil
		}
		if err := apply(); err != nil {
			return err
		}
		paths = appendOnce(paths, path)
		return nil
	}
	steps := []struct {
		flag, path string
		apply      func() error
	}{
		{"title", "title", func() error { a.Title = f.title; return nil }},
		{"slug", "slug", func() error { a.Slug = f.slug; return nil }},
		{"summary", "summary", func() error { a.Summary = f.summary; return nil }},
		{"body", "body", func() error { a.Body = f.body; return nil }},
		{"body-file", "body", func() error {
			b, err := readFileArg(f.bodyFile, stdin)
			a.Body = string(b)
			return err
		}},
		{"author-bio", "author_bio", func() error { a.AuthorBio = f.authorBio; return nil }},
		{"author", "authors", func() error { a.Authors = nonEmpty(f.authors); return nil }},
		{"tag", "tags", func() error { a.Tags = nonEmpty(f.tags); return nil }},
		{"source", "source", func() error { a.Source = f.source; return nil }},
		{"label", "labels", func() error {
			labels, err := parseLabels(f.labels)
			a.Labels = labels
			return err
		}},
		{"publish-time", "publish_time", func() error {
			t, err := parseTimeFlag("publish-time", f.publishTime)
			a.PublishTime = t
			return err
		}},
	}
	for _, s := range steps {
		if err := set(s.flag, s.path, s.apply); err != nil {
			return nil, nil, err
		}
	}
	return a, paths, nil
}

// readFileArg reads a file named by a flag, "-" being stdin.
func readFileArg(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// parseLabels parses key=value pairs; empty entries are skipped, so that
// --label= alone clears the labels.
func parseLabels(kvs []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, kv := range kvs {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--label: %q is not key=value", kv)
		}
		labels[k] = v
	}
	if len(labels) == 0 {
		return nil, nil
	}
	return labels, nil
}

// nonEmpty drops empty strings, so that --tag= alone means no tags.
func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func appendOnce(ss []string, s string) []string {
	for _, x := range ss {
		if x == s {
			return ss
		}
	}
	return append(ss, s)
}
