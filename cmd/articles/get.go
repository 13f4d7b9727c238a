package main

import (
	"github.com/spf13/cobra"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func (a *app) getCommand() *cobra.Command {
	var slug, view string
	cmd := &cobra.Command{
		Use:   "get ID | --slug SLUG",
		Short: "Print one article, by id or by slug",
		Long: `Print one article, found by its id or by its slug.

The view is full (every field, body included) unless --view basic.`,
		Example: `  articles get 01JD3ZK6Q9W1T0M4B6N8P2R5S7
  articles get --slug the-new-silk-road -o text
  articles get --slug the-new-silk-road --view basic -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usagef("get takes one ID, got %d arguments", len(args))
			case len(args) == 1 && slug != "":
				return usagef("give an ID or --slug, not both")
			case len(args) == 0 && slug == "":
				return usagef("give an ID or --slug")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := parseView(view)
			if err != nil {
				return err
			}
			if v == articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED {
				v = articlesv1.ArticleView_ARTICLE_VIEW_FULL
			}
			req := &articlesv1.GetArticleRequest{View: v}
			if slug != "" {
				req.Key = &articlesv1.GetArticleRequest_Slug{Slug: slug}
			} else {
				req.Key = &articlesv1.GetArticleRequest_Id{Id: args[0]}
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			art, err := c.Service().GetArticle(cmd.Context(), req)
			if err != nil {
				return err
			}
			if err := a.out.article(art, false); err != nil {
				return err
			}
			return a.out.flush()
		},
	}
	cmd.Flags().StringVar(&slug, "slug", "", "find the article by slug instead of id")
	cmd.Flags().StringVar(&view, "view", "", "basic (no body or author bio) or full (default)")
	return cmd
}
