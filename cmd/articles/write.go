package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) createCommand() *cobra.Command {
	var (
		f         articleFlags
		requestID string
	)
	cmd := &cobra.Command{
		Use:   "create --title TITLE [flags] | --from FILE.json",
		Short: "Create an article",
		Long: `Create an article from flags, or from a protojson file (--from) whose
fields the flags override. The server assigns the id and derives the slug
and summary when they are empty. Prints the article as stored.

--request-id makes a retry safe: repeating the command with the same
request id returns the first article and creates nothing new.`,
		Example: `  articles create --title "The New Silk Road" --author "Ann Lee" --tag asia --body-file road.txt
  echo "Body text." | articles create --title Hello --body-file - --label team=news
  articles create --from article.json --request-id 5b0c7e52`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.from == "" && !cmd.Flags().Changed("title") {
				return usagef("create needs --title or --from")
			}
			art, _, err := f.build(cmd, a.stdin)
			if err != nil {
				return err
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			created, err := c.Create(cmd.Context(), art, requestID)
			if err != nil {
				return err
			}
			if err := a.out.article(created, false); err != nil {
				return err
			}
			return a.out.flush()
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().StringVar(&requestID, "request-id", "", "idempotency key (at most 100 characters): retries with it create nothing new")
	return cmd
}

func (a *app) updateCommand() *cobra.Command {
	var (
		f    articleFlags
		etag string
	)
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change fields of an article",
		Long: `Change the fields of an article that the flags name, and nothing else:
the update mask is exactly the flags given (with --from, also the settable
fields present in the file). An empty value clears a field: --summary=""
re-derives the summary, --tag= removes every tag.

With --etag (or an etag in the --from file) the update only happens if the
article has not changed since that etag was read; otherwise it fails with
ABORTED. Prints the article as stored.`,
		Example: `  articles update 01JD3ZK6Q9W1T0M4B6N8P2R5S7 --title "A Better Title"
  articles update 01JD3ZK6Q9W1T0M4B6N8P2R5S7 --tag asia --tag trade --etag "$ETAG"
  articles get 01JD3ZK6Q9W1T0M4B6N8P2R5S7 -o json > a.json && $EDITOR a.json &&
    articles update 01JD3ZK6Q9W1T0M4B6N8P2R5S7 --from a.json`,
		Args: exactlyOneID("update"),
		RunE: func(cmd *cobra.Command, args []string) error {
			art, paths, err := f.build(cmd, a.stdin)
			if err != nil {
				return err
			}
			if len(paths) == 0 {
				return usagef("nothing to update: give at least one field flag or --from")
			}
			art.Id = args[0]
			if cmd.Flags().Changed("etag") {
				art.Etag = etag
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			updated, err := c.Update(cmd.Context(), art, paths...)
			if err != nil {
				return err
			}
			if err := a.out.article(updated, false); err != nil {
				return err
			}
			return a.out.flush()
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().StringVar(&etag, "etag", "", "only update if the article's etag is still this")
	return cmd
}

func (a *app) deleteCommand() *cobra.Command {
	var etag string
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an article",
		Long: `Delete an article. With --etag it is only deleted if it has not changed
since that etag was read; otherwise the command fails with ABORTED.

Prints "deleted ID" in table and text output, and nothing in json and jsonl.`,
		Example: `  articles delete 01JD3ZK6Q9W1T0M4B6N8P2R5S7
  articles delete 01JD3ZK6Q9W1T0M4B6N8P2R5S7 --etag "$ETAG"`,
		Args: exactlyOneID("delete"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Delete(cmd.Context(), args[0], etag); err != nil {
				return err
			}
			if a.out.format == "table" || a.out.format == "text" {
				fmt.Fprintf(a.stdout, "deleted %s\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&etag, "etag", "", "only delete if the article's etag is still this")
	return cmd
}

// exactlyOneID checks that a command got one non-empty ID argument.
func exactlyOneID(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 || args[0] == "" {
			return usagef("%s takes exactly one article ID, got %d arguments", name, len(args))
		}
		return nil
	}
}
