package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func (a *app) watchCommand() *cobra.Command {
	var (
		f    filterFlags
		from int64
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print changes to articles as they happen",
		Long: `Follow the change feed: print one line per created, updated or deleted
article, in revision order, until interrupted (Ctrl-C, which exits 0).

--from REV starts at revision REV, replaying every retained change since;
the default (0) starts from now. A revision older than the server keeps
fails with OUT_OF_RANGE, naming the oldest one available. A broken
connection is resumed without losing or repeating a change.

In jsonl and json output the PROGRESS events are printed too: their
revision is a safe point to resume from (--from revision+1). In table and
text output they are left out, and the starting revision goes to stderr.`,
		Example: `  articles watch
  articles watch --from 1 --tag economy -o jsonl
  articles watch --source RIAC -o jsonl | jq -r 'select(.type=="CREATED") | .article.title'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from < 0 {
				return usagef("--from must not be negative")
			}
			var opts []client.WatchOption
			if f.author != "" {
				opts = append(opts, client.WatchAuthor(f.author))
			}
			if f.tag != "" {
				opts = append(opts, client.WatchTag(f.tag))
			}
			if f.source != "" {
				opts = append(opts, client.WatchSource(f.source))
			}
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			first := true
			for ev, err := range c.Watch(ctx, from, opts...) {
				if err != nil {
					if ctx.Err() != nil {
						return nil // interrupted: the normal way to stop
					}
					return err
				}
				if err := a.event(ev, first); err != nil {
					return err
				}
				first = false
			}
			return nil
		},
	}
	f.add(cmd.Flags(), false)
	cmd.Flags().Int64Var(&from, "from", 0, "first revision to print (0: from now)")
	return cmd
}

// event prints one change-feed event; first says whether it is the
// stream's first, whose PROGRESS names the starting point.
func (a *app) event(ev *articlesv1.ArticleEvent, first bool) error {
	if a.out.format == "json" || a.out.format == "jsonl" {
		return a.out.message(ev)
	}
	if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
		if first {
			fmt.Fprintf(a.stderr, "watching changes after revision %d\n", ev.GetRevision())
		}
		return nil
	}
	art := ev.GetArticle()
	if a.out.format == "text" {
		_, err := fmt.Fprintf(a.stdout, "%d %s %s %s %s\n", ev.GetRevision(), ev.GetType(), art.GetId(), art.GetSlug(), oneLine(art.GetTitle()))
		return err
	}
	// A watch prints as events come, so the table has fixed widths
	// rather than a tabwriter that would wait for the end.
	if a.out.rows == 0 {
		fmt.Fprintf(a.stdout, "%-9s  %-8s  %-26s  %-30s  %s\n", "REVISION", "TYPE", "ID", "SLUG", "TITLE")
	}
	a.out.rows++
	_, err := fmt.Fprintf(a.stdout, "%-9d  %-8s  %-26s  %-30s  %s\n", ev.GetRevision(), ev.GetType(),
		art.GetId(), truncate(art.GetSlug(), slugWidth), truncate(art.GetTitle(), titleWidth))
	return err
}
