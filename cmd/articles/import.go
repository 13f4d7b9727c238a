package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func (a *app) importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import [FILE... | -]",
		Short: "Upsert articles from seed pages, JSON or JSON Lines",
		Long: `Import articles from files (or stdin, with - or no arguments), upserting by
slug: a new slug is created, an existing one has its fields replaced.

Each input is one of:
  seed-format text pages (.txt), split into articles as the server's seeds are;
  JSON (.json): an article object, or an array of them, in protojson;
  JSON Lines (.jsonl, .ndjson): one article object per line.
Without a known extension the content decides: JSON starts with { or [.

Output-only fields (id, etag, times) in the input are ignored. Upserting
replaces an article's fields, so re-import an export made with --view full:
the default basic view has no bodies.

Every input is read and checked before anything is sent. Articles go to
the server in batches of 2,000, each acknowledged once stored. While
importing, stderr shows a progress bar on a terminal (acknowledged of
total, percent, rate, time left) and otherwise a plain line every 10
seconds for as long as the import runs. The summary counts created,
updated and unchanged articles and lists each rejected one; the exit
status is 1 if any was rejected. If the connection fails midway, the
error says how many articles were imported before it.`,
		Example: `  articles import seeds/000_8d1312a4cb726030.txt
  articles stream --view full -o jsonl > backup.jsonl && articles import backup.jsonl
  curl -s https://example.com/articles.json | articles import -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"-"}
			}
			var items []importItem
			for _, name := range args {
				data, err := readFileArg(name, a.stdin)
				if err != nil {
					return err
				}
				label := name
				if name == "-" {
					label = "stdin"
				}
				got, err := parseImport(label, data)
				if err != nil {
					return err
				}
				items = append(items, got...)
			}

			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()

			p := a.newProgress(len(items))
			resp, err := importBatches(cmd.Context(), c, items, p.add)
			p.finish()
			if err != nil {
				return err
			}
			if err := a.importSummary(resp, items); err != nil {
				return err
			}
			if n := len(resp.GetFailures()); n > 0 {
				return fmt.Errorf("import: %d of %d articles rejected", n, len(items))
			}
			return nil
		},
	}
	return cmd
}

// importBatch is how many articles one ImportArticles call carries. The
// response to each call acknowledges its articles, which is what the
// progress counts; it is the size of the server's import transactions, so
// batching adds a round trip per batch but no commit.
const importBatch = 2000

// importBatches upserts items in calls of importBatch articles, one after
// the other so that a slug that comes twice ends as its last occurrence
// says, and calls acked with the number of articles each call
// acknowledged. The response sums the calls', with failure indexes into
// items. On an error, the articles of earlier calls are stored; the error
// says how many.
func importBatches(ctx context.Context, c *client.Client, items []importItem, acked func(int)) (*articlesv1.ImportArticlesResponse, error) {
	total := &articlesv1.ImportArticlesResponse{}
	for start := 0; start < len(items); start += importBatch {
		batch := items[start:min(start+importBatch, len(items))]
		resp, err := c.Import(ctx, func(yield func(*articlesv1.Article) bool) {
			for _, it := range batch {
				if !yield(it.article) {
					return
				}
			}
		})
		if err != nil {
			if start == 0 {
				return nil, err
			}
			st := status.Convert(err)
			return nil, status.Errorf(st.Code(), "%s (the first %d of %d articles were imported)", st.Message(), start, len(items))
		}
		total.Created += resp.GetCreated()
		total.Updated += resp.GetUpdated()
		total.Unchanged += resp.GetUnchanged()
		for _, f := range resp.GetFailures() {
			f.Index += int64(start)
			total.Failures = append(total.Failures, f)
		}
		acked(len(batch))
	}
	return total, nil
}

// importSummary prints the counts and every failure, naming where each
// rejected article came from.
func (a *app) importSummary(resp *articlesv1.ImportArticlesResponse, items []importItem) error {
	if a.out.machine() {
		return a.out.message(resp)
	}
	fmt.Fprintf(a.stdout, "created %d, updated %d, unchanged %d, failures %d\n",
		resp.GetCreated(), resp.GetUpdated(), resp.GetUnchanged(), len(resp.GetFailures()))
	for _, f := range resp.GetFailures() {
		where := fmt.Sprintf("article %d", f.GetIndex())
		if i := f.GetIndex(); i >= 0 && i < int64(len(items)) {
			where = items[i].where
			if t := items[i].article.GetTitle(); t != "" {
				where += fmt.Sprintf(" (%q)", truncate(t, titleWidth))
			}
		}
		fmt.Fprintf(a.stdout, "failed: %s: %s\n", where, oneLine(f.GetReason()))
	}
	return nil
}
