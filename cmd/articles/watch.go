package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func (a *app) watchCommand() *cobra.Command {
	var (
		f        filterFlags
		from     int64
		view     string
		compress bool
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print changes to articles as they happen",
		Long: `Follow the change feed: print one line per created, updated or deleted
article, in revision order, until interrupted (Ctrl-C, which exits 0).

--from REV starts at revision REV, replaying every retained change since;
the default (0) starts from now. A revision older than the server keeps
fails with OUT_OF_RANGE, naming the oldest one available.

Once the watch has started, a lost connection (a server restart, a
network failure) does not end it: watch says so on stderr and reconnects,
waiting 200ms, then twice as long after each failed attempt up to 5s,
until the server is back or it is interrupted. It resumes from the
revision after the last one it printed or was told of, so no change is
missed or printed twice. A server that cannot be reached at the start is
an error, as for any other command.

In jsonl and json output the PROGRESS events are printed too: their
revision is a safe point to resume from (--from revision+1). In table and
text output they are left out, and the starting revision goes to stderr.

--view basic leaves body and author_bio out of every event, which costs
the server and the network a fraction of the full articles. --compress
has the server send the events compressed with gzip: fewer bytes over a
slow network, at some CPU on both sides.`,
		Example: `  articles watch
  articles watch --from 1 --tag economy -o jsonl
  articles watch --view basic -o jsonl
  articles watch --source RIAC -o jsonl | jq -r 'select(.type=="CREATED") | .article.title'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from < 0 {
				return usagef("--from must not be negative")
			}
			v, err := parseView(view)
			if err != nil {
				return err
			}
			var opts []client.WatchOption
			if v != articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED {
				opts = append(opts, client.WatchView(v))
			}
			if f.author != "" {
				opts = append(opts, client.WatchAuthor(f.author))
			}
			if f.tag != "" {
				opts = append(opts, client.WatchTag(f.tag))
			}
			if f.source != "" {
				opts = append(opts, client.WatchSource(f.source))
			}
			if compress {
				opts = append(opts, client.WatchCompressed())
			}
			return a.watch(cmd.Context(), from, opts)
		},
	}
	f.add(cmd.Flags(), false)
	cmd.Flags().Int64Var(&from, "from", 0, "first revision to print (0: from now)")
	cmd.Flags().StringVar(&view, "view", "", "basic (no body or author bio: less for the server to send) or full (default)")
	cmd.Flags().BoolVar(&compress, "compress", false, "have the server send the events compressed with gzip")
	return cmd
}

// Reconnection backoff of watch: the first pause, and the longest.
const (
	watchBackoffMin = 200 * time.Millisecond
	watchBackoffMax = 5 * time.Second
)

// watch follows the change feed from revision from until ctx ends,
// reconnecting after a lost connection (see the command's help).
func (a *app) watch(ctx context.Context, from int64, opts []client.WatchOption) error {
	// One attempt per Watch call: the loop below does the reconnecting,
	// and tells the user.
	c, err := a.dial(ctx, client.WithRetry(1))
	if err != nil {
		return err
	}
	defer c.Close()
	a.out.beginList()
	w := watcher{a: a, next: from}
	backoff := watchBackoffMin
	for {
		progressed, err := w.once(ctx, c, opts)
		switch {
		case ctx.Err() != nil:
			return a.out.endList() // interrupted: the normal way to stop
		case errors.As(err, new(printError)):
			return err // stdout is gone
		case err == nil:
			return a.out.endList()
		case !w.started || status.Code(err) != codes.Unavailable:
			// Not reachable at the start, or an error that a retry would
			// repeat (OUT_OF_RANGE after a long outage, say).
			return err
		}
		if progressed {
			backoff = watchBackoffMin
		}
		line := strings.TrimSuffix(errorLine(connectionError(err, a.target.dial)), "; "+addrHint)
		fmt.Fprintf(a.stderr, "articles: watch: %s; reconnecting in %v\n", line, backoff)
		select {
		case <-ctx.Done():
			return a.out.endList()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

// watcher is the state of watch across connections.
type watcher struct {
	a *app
	// next is the revision to resume from: one past the last event or
	// PROGRESS received (0 until the server said where "now" is).
	next int64
	// started is set once the first stream has delivered its opening
	// PROGRESS; from then on, the watch reconnects.
	started bool
}

// once runs one WatchArticles stream from w.next, printing its events.
// It returns the error that ended it (a printError when printing failed)
// and whether any message arrived.
func (w *watcher) once(ctx context.Context, c *client.Client, opts []client.WatchOption) (progressed bool, err error) {
	resumed := w.started
	for ev, err := range c.Watch(ctx, w.next, opts...) {
		if err != nil {
			return progressed, err
		}
		opening := !progressed
		progressed = true
		if opening && resumed {
			fmt.Fprintf(w.a.stderr, "articles: watch: reconnected to %s, resuming from revision %d\n", w.a.target.dial, w.next)
		}
		w.started = true
		if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
			w.next = max(w.next, ev.GetRevision()+1)
			if opening && resumed {
				continue // a resumed stream's starting point: already known
			}
		} else {
			if ev.GetRevision() < w.next {
				continue // never print a change twice
			}
			w.next = ev.GetRevision() + 1
		}
		if err := w.a.event(ev, opening && !resumed); err != nil {
			return progressed, printError{err}
		}
	}
	return progressed, nil
}

// printError is an error writing the output, which ends a watch.
type printError struct{ err error }

func (e printError) Error() string { return e.err.Error() }
func (e printError) Unwrap() error { return e.err }

// event prints one change-feed event; first says whether it is the
// stream's first, whose PROGRESS names the starting point.
func (a *app) event(ev *articlesv1.ArticleEvent, first bool) error {
	if a.out.machine() {
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
