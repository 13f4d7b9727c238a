package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

var searchHeader = []string{"SCORE", "ID", "TITLE", "SNIPPET"}

func (a *app) searchCommand() *cobra.Command {
	var (
		f        filterFlags
		pageSize int32
		token    string
		view     string
	)
	cmd := &cobra.Command{
		Use:   "search QUERY...",
		Short: "Find articles by their words, best match first",
		Long: `Search articles by full text; the arguments are joined into one query.

Query syntax: words (all must match), "quoted phrases", -word (must not
match), word* (prefix). Matching ignores case and accents and stems
English words. Results are ranked by relevance; the snippet marks matched
terms with **. The token for the next page goes to stderr (table, text and
jsonl output) or is the response's nextPageToken (json output).`,
		Example: `  articles search silk road
  articles search '"belt and road"' -china --source RIAC
  articles search econom* -o jsonl | jq -r '.article.title'`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 || strings.TrimSpace(strings.Join(args, "")) == "" {
				return usagef("search needs a QUERY")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := parseView(view)
			if err != nil {
				return err
			}
			after, before, err := f.times()
			if err != nil {
				return err
			}
			if pageSize < 0 {
				return usagef("--page-size must not be negative")
			}
			req := &articlesv1.SearchArticlesRequest{
				Query:    strings.Join(args, " "),
				PageSize: pageSize, PageToken: token,
				Author: f.author, Tag: f.tag, Source: f.source,
				PublishedAfter: after, PublishedBefore: before,
				View: v,
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.Search(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.out.format == "json" || a.out.format == "yaml" {
				return a.out.message(resp)
			}
			for _, r := range resp.GetResults() {
				if err := a.searchResult(r); err != nil {
					return err
				}
			}
			if err := a.out.flush(); err != nil {
				return err
			}
			if a.out.format == "table" || a.out.format == "text" {
				fmt.Fprintf(a.stderr, "%d of %d matching articles\n", len(resp.GetResults()), resp.GetTotalSize())
			}
			if next := resp.GetNextPageToken(); next != "" {
				fmt.Fprintf(a.stderr, "next page: --page-token %s\n", next)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	f.add(fs, true)
	fs.Int32Var(&pageSize, "page-size", 0, "results per page (server default 20, at most 100)")
	fs.StringVar(&token, "page-token", "", "the next-page token a previous search printed")
	fs.StringVar(&view, "view", "", "basic (default: no body or author bio) or full")
	return cmd
}

// searchResult prints one ranked match.
func (a *app) searchResult(r *articlesv1.SearchResult) error {
	switch a.out.format {
	case "jsonl":
		return a.out.message(r)
	case "text":
		if err := a.out.articleText(r.GetArticle()); err != nil {
			return err
		}
		_, err := fmt.Fprintf(a.stdout, "Score: %.3f\nSnippet: %s\n", r.GetScore(), oneLine(r.GetSnippet()))
		return err
	default:
		return a.out.row(false, searchHeader,
			fmt.Sprintf("%.3f", r.GetScore()),
			r.GetArticle().GetId(),
			truncate(r.GetArticle().GetTitle(), titleWidth),
			truncate(r.GetSnippet(), snippetWidth),
		)
	}
}
