package main

import (
	"strings"

	"github.com/oklog/ulid/v2"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func (a *app) getCommand() *cobra.Command {
	var slug, view string
	var minRev int64
	cmd := &cobra.Command{
		Use:   "get ID|SLUG",
		Short: "Print one article, by id or by slug",
		Long: `Print one article, found by its id or by its slug; which one the argument
is comes from its form. An id is a ULID: 26 characters of Crockford's
base32, such as 01JD3ZK6Q9W1T0M4B6N8P2R5S7. Anything else is a slug. A
slug that happens to have the form of an id is found too: when no
article has it as id, it is looked up as a slug. --slug SLUG asks by slug
only.

The view is full (every field, body included) unless --view basic.

A read is linearizable: it sees every write acknowledged before it.
--min-revision N asks only for every write up to store revision N (the
revision a write of yours printed, say): on etcd the server then answers
from what it has already seen, without asking the cluster.`,
		Example: `  articles get 01JD3ZK6Q9W1T0M4B6N8P2R5S7
  articles get the-new-silk-road -o text
  articles get --slug the-new-silk-road --view basic -o json
  articles get the-new-silk-road --min-revision 41984`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usagef("get takes one ID or SLUG, got %d arguments", len(args))
			case len(args) == 1 && slug != "":
				return usagef("give an ID or SLUG argument or --slug, not both")
			case len(args) == 0 && slug == "":
				return usagef("give an ID or a SLUG")
			case len(args) == 1 && strings.TrimSpace(args[0]) == "":
				return usagef("the ID or SLUG must not be empty")
			case minRev < 0:
				return usagef("--min-revision must not be negative, got %d", minRev)
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
			key := slug
			if key == "" {
				key = args[0]
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			bySlug := &articlesv1.GetArticleRequest{View: v, Key: &articlesv1.GetArticleRequest_Slug{Slug: key}, MinRevision: minRev}
			req := bySlug
			if slug == "" && looksLikeID(key) {
				// Ids are stored in upper case; ULIDs are read in either.
				req = &articlesv1.GetArticleRequest{View: v, Key: &articlesv1.GetArticleRequest_Id{Id: strings.ToUpper(key)}, MinRevision: minRev}
			}
			art, err := c.Service().GetArticle(cmd.Context(), req)
			if req != bySlug && status.Code(err) == codes.NotFound && looksLikeSlug(key) {
				// A slug may have the form of an id.
				if bs, serr := c.Service().GetArticle(cmd.Context(), bySlug); serr == nil {
					art, err = bs, nil
				}
			}
			if err != nil {
				return err
			}
			if err := a.out.article(art, false); err != nil {
				return err
			}
			return a.out.flush()
		},
	}
	cmd.Flags().StringVar(&slug, "slug", "", "find the article by this slug only")
	cmd.Flags().StringVar(&view, "view", "", "basic (no body or author bio) or full (default)")
	cmd.Flags().Int64Var(&minRev, "min-revision", 0, "read your writes up to this store `revision` instead of linearizably")
	return cmd
}

// looksLikeID reports whether s has the form of an article id, a ULID
// (either case, as ULIDs are case-insensitive).
func looksLikeID(s string) bool {
	_, err := ulid.ParseStrict(s)
	return err == nil
}

// looksLikeSlug reports whether s could be a slug: lowercase ASCII
// letters, digits and hyphens.
func looksLikeSlug(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return s != ""
}
