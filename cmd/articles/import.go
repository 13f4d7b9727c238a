package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// progressEvery is how often import redraws its progress line.
const progressEvery = 250 * time.Millisecond

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

Every input is read and checked before anything is sent. While importing,
stderr shows "N articles, R/s" if it is a terminal. The summary counts
created, updated and unchanged articles and lists each rejected one; the
exit status is 1 if any was rejected.`,
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

			var sent atomic.Int64
			seq := func(yield func(*articlesv1.Article) bool) {
				for _, it := range items {
					if !yield(it.article) {
						return
					}
					sent.Add(1)
				}
			}
			stop := func() {}
			if isTerminal(a.stderr) {
				stop = showProgress(cmd.Context(), a.stderr, &sent)
			}
			resp, err := c.Import(cmd.Context(), seq)
			stop()
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

// importSummary prints the counts and every failure, naming where each
// rejected article came from.
func (a *app) importSummary(resp *articlesv1.ImportArticlesResponse, items []importItem) error {
	if a.out.format == "json" || a.out.format == "jsonl" {
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

// showProgress redraws "N articles, R/s" on w until the returned stop
// function is called, which clears the line.
func showProgress(ctx context.Context, w io.Writer, sent *atomic.Int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				n := sent.Load()
				rate := float64(n) / time.Since(start).Seconds()
				fmt.Fprintf(w, "\r\033[K%d articles, %.0f/s", n, rate)
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
