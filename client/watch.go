package client

import (
	"context"
	"errors"
	"io"
	"iter"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// A WatchOption selects the events Watch delivers, or how.
type WatchOption interface {
	applyWatch(*watchSettings)
}

// watchSettings are what the options of one Watch set.
type watchSettings struct {
	req  *articlesv1.WatchArticlesRequest
	opts []grpc.CallOption
}

type watchOptionFunc func(*articlesv1.WatchArticlesRequest)

func (f watchOptionFunc) applyWatch(s *watchSettings) { f(s.req) }

type watchCallOption []grpc.CallOption

func (o watchCallOption) applyWatch(s *watchSettings) { s.opts = append(s.opts, o...) }

// WatchCompressed has the server send the events compressed with gzip
// (the watch request is compressed, and grpc answers in kind). The server
// compresses each event, and each batch of events, once for every such
// watcher, so with many watchers it spends less on sending; each watcher
// spends more on receiving. Worth it over a network, or with FULL views
// of long articles; on one machine the decompression usually costs more
// than the bytes saved.
func WatchCompressed() WatchOption {
	return watchCallOption{grpc.UseCompressor(gzip.Name)}
}

// WatchAuthor keeps only events for articles with this author (exact
// display name).
func WatchAuthor(name string) WatchOption {
	return watchOptionFunc(func(r *articlesv1.WatchArticlesRequest) { r.Author = name })
}

// WatchTag keeps only events for articles with this tag (case-insensitive).
func WatchTag(tag string) WatchOption {
	return watchOptionFunc(func(r *articlesv1.WatchArticlesRequest) { r.Tag = tag })
}

// WatchSource keeps only events for articles from this source (exact).
func WatchSource(source string) WatchOption {
	return watchOptionFunc(func(r *articlesv1.WatchArticlesRequest) { r.Source = source })
}

// WatchView sets how much of each article events carry:
// articlesv1.ArticleView_ARTICLE_VIEW_FULL (the default) or
// ARTICLE_VIEW_BASIC, without body and author_bio, for watchers that only
// need to know what changed; it costs the server and the network a
// fraction of FULL.
func WatchView(view articlesv1.ArticleView) WatchOption {
	return watchOptionFunc(func(r *articlesv1.WatchArticlesRequest) { r.View = view })
}

// Watch yields the change feed: every event with revision >= startRevision
// (0: from now) that the options select, in revision order, each once, for
// as long as the caller reads. Breaking out of the loop ends the watch.
//
// The first value is a PROGRESS event whose revision is the one the feed
// starts after (startRevision-1, or the current revision for 0): from then
// on the caller has missed nothing. Later PROGRESS events come on an idle
// feed and carry the revision up to which everything has been delivered, a
// safe point to resume from (revision+1) after a restart. A DELETED event
// carries only the article's id, slug and last revision; a filtered watch
// may receive deletes of articles it never saw, and does not see an update
// that moves an article out of its filter (Mirror handles both).
//
// When the stream breaks with UNAVAILABLE or ends unexpectedly (a dropped
// connection, a server restart), Watch opens it again from the revision
// after the last event or PROGRESS it yielded, after a short backoff, so
// nothing is lost or repeated; the opening PROGRESS of such a resumed
// stream is not yielded, since it tells the caller nothing new. It gives
// up, yielding the last error, after the client's retry attempts
// (WithRetry) have failed in a row without receiving anything. Other errors
// end the sequence at once: OUT_OF_RANGE when startRevision (or the resume
// point, after a long outage) is older than the server's retained history,
// with the oldest available revision in the message and in an ErrorInfo
// detail (metadata "oldest_revision"); INVALID_ARGUMENT for a negative
// startRevision.
func (c *Client) Watch(ctx context.Context, startRevision int64, opts ...WatchOption) iter.Seq2[*articlesv1.ArticleEvent, error] {
	return func(yield func(*articlesv1.ArticleEvent, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()

		// Batches cost less per event; Watch yields their events one by one.
		set := watchSettings{req: &articlesv1.WatchArticlesRequest{StartRevision: startRevision, Batch: true}}
		for _, o := range opts {
			o.applyWatch(&set)
		}
		w := watchState{next: startRevision}
		err := c.resume(ctx, func() (bool, error) { return c.watchOnce(ctx, set, &w, yield) })
		if err != nil {
			yield(nil, err)
		}
	}
}

// watchState is what Watch carries from one stream to the next.
type watchState struct {
	// next is the revision to resume from: one past the last event or
	// PROGRESS yielded (0 until the first stream has said where "now" is).
	next int64
	// started is set once the first stream's opening PROGRESS is yielded.
	started bool
}

// watchOnce runs one WatchArticles call from w.next, yielding its events
// and moving w.next past each. It returns a nil error when the caller
// stopped, and whether any message arrived. A stream that ends without an
// error is reported as UNAVAILABLE, since a watch never ends by itself: a
// proxy or a server shutting down cut it.
func (c *Client) watchOnce(ctx context.Context, set watchSettings, w *watchState, yield func(*articlesv1.ArticleEvent, error) bool) (progressed bool, err error) {
	// Each attempt gets its own context, so that a failed stream is
	// released at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	set.req.StartRevision = w.next
	stream, err := c.rpc.WatchArticles(ctx, set.req, set.opts...)
	if err != nil {
		return false, err
	}
	opening := true
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return progressed, status.Error(codes.Unavailable, "client: watch stream ended unexpectedly")
		}
		if err != nil {
			return progressed, err
		}
		progressed = true
		wasOpening := opening
		opening = false
		if evs := ev.GetEvents(); len(evs) > 0 {
			// A batch: its events, each as if sent alone.
			for _, ev := range evs {
				if !w.deliver(ev, false, yield) {
					return progressed, nil
				}
			}
			continue
		}
		if !w.deliver(ev, wasOpening, yield) {
			return progressed, nil
		}
	}
}

// deliver yields ev unless it is a resumed stream's opening PROGRESS
// (opening) or an event already yielded, and moves w.next past it. It
// reports whether the caller wants more.
func (w *watchState) deliver(ev *articlesv1.ArticleEvent, opening bool, yield func(*articlesv1.ArticleEvent, error) bool) bool {
	if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
		if opening && w.started {
			// A resumed stream's opening mark: the caller knows.
			return true
		}
		w.started = true
		w.next = max(w.next, ev.GetRevision()+1)
	} else {
		if ev.GetRevision() < w.next {
			return true // never yield an event twice, whatever the server does
		}
		w.started = true
		w.next = ev.GetRevision() + 1
	}
	return yield(ev, nil)
}
