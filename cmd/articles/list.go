package main

import (
	"fmt"

	"github.com/spf13/cobra"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// orderHelp lists the orders the server accepts.
const orderHelp = `order: "publish_time desc" (default), "publish_time", "create_time", "create_time desc" or "title"`

func (a *app) listCommand() *cobra.Command {
	var (
		f        filterFlags
		orderBy  string
		pageSize int32
		token    string
		all      bool
		view     string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List a page of articles, or all of them",
		Long: `List one page of articles matching the filters, newest first by default.

Without --all one page is printed; the token for the next page goes to
stderr (table, text and jsonl output) or is the response's nextPageToken
(json output). With --all every page is fetched and printed in turn.`,
		Example: `  articles list --tag economy --page-size 20
  articles list --page-token CiQwMUpEM1pL... 
  articles list --all --author "Giancarlo Elia Valori" -o jsonl | jq -r .title
  articles list --published-after 2024-01-01 --order-by title`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			req := &articlesv1.ListArticlesRequest{
				PageSize: pageSize, PageToken: token,
				Author: f.author, Tag: f.tag, Source: f.source,
				PublishedAfter: after, PublishedBefore: before,
				OrderBy: orderBy, View: v,
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()

			if all {
				a.out.beginList()
				for art, err := range c.ListAll(cmd.Context(), req) {
					if err != nil {
						a.out.flush()
						return err
					}
					if err := a.out.article(art, true); err != nil {
						return err
					}
				}
				return a.finishTable()
			}

			resp, err := c.List(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.out.format == "json" || a.out.format == "yaml" {
				return a.out.message(resp)
			}
			for _, art := range resp.GetArticles() {
				if err := a.out.article(art, false); err != nil {
					return err
				}
			}
			if err := a.finishTable(); err != nil {
				return err
			}
			if next := resp.GetNextPageToken(); next != "" {
				fmt.Fprintf(a.stderr, "next page: --page-token %s\n", next)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	f.add(fs, true)
	fs.StringVar(&orderBy, "order-by", "", orderHelp)
	fs.Int32Var(&pageSize, "page-size", 0, "articles per page (server default 50, at most 1000)")
	fs.StringVar(&token, "page-token", "", "the next-page token a previous list printed")
	fs.BoolVar(&all, "all", false, "fetch and print every page")
	fs.StringVar(&view, "view", "", "basic (default: no body or author bio) or full")
	return cmd
}

func (a *app) streamCommand() *cobra.Command {
	var (
		f          filterFlags
		orderBy    string
		startAfter string
		view       string
	)
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Stream every matching article",
		Long: `Stream every article matching the filters, in list order, as the server
sends them. A broken connection is resumed from the last article printed,
so each article is printed exactly once.

--start-after takes an article id (or a cursor) and starts just after it.`,
		Example: `  articles stream -o jsonl > all.jsonl
  articles stream --source RIAC --order-by create_time
  articles stream --start-after 01JD3ZK6Q9W1T0M4B6N8P2R5S7`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := parseView(view)
			if err != nil {
				return err
			}
			after, before, err := f.times()
			if err != nil {
				return err
			}
			req := &articlesv1.StreamArticlesRequest{
				Author: f.author, Tag: f.tag, Source: f.source,
				PublishedAfter: after, PublishedBefore: before,
				OrderBy: orderBy, View: v, StartAfter: startAfter,
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			a.out.beginList()
			for art, err := range c.Stream(cmd.Context(), req) {
				if err != nil {
					a.out.flush()
					return err
				}
				if err := a.out.article(art, true); err != nil {
					return err
				}
			}
			return a.finishTable()
		},
	}
	fs := cmd.Flags()
	f.add(fs, true)
	fs.StringVar(&orderBy, "order-by", "", orderHelp)
	fs.StringVar(&startAfter, "start-after", "", "start just after this article id or stream cursor")
	fs.StringVar(&view, "view", "", "basic (default: no body or author bio) or full")
	return cmd
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), args[0])
	}
	return nil
}

// finishTable writes the buffered table rows, or closes the json or yaml
// array of a stream. An empty table would print
// nothing at all, so a person is told on stderr instead; machine formats
// stay empty.
func (a *app) finishTable() error {
	if err := a.out.flush(); err != nil {
		return err
	}
	if err := a.out.endList(); err != nil {
		return err
	}
	if a.out.format == "table" && a.out.rows == 0 {
		fmt.Fprintln(a.stderr, "no articles match")
	}
	return nil
}
