package client

import (
	"context"
	"iter"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Mirror is a local, read-only copy of the server's articles (all of them,
// or those a filter selects), kept up to date from the change feed, for
// services that want in-process reads. It is safe for concurrent use.
//
// NewMirror opens a Watch from now and takes the revision R of its opening
// PROGRESS event, then streams every current article (FULL view unless
// MirrorView says otherwise), then
// applies the watch's events from R+1 on. The listing is read at some
// revision at or after R, so together with the events from R+1 nothing is
// missed; an event older than what the listing showed is recognised by its
// article revision and ignored (newer revision wins), and a delete removes
// the article if its stored revision is not newer than the delete. Ids are
// never reused, so no tombstones are needed.
//
// A filtered Mirror lists with the filter but watches every event and
// applies the filter itself, so an article updated out of the filter is
// dropped, which a filtered Watch could not tell it.
//
// Articles returned by Get and Range are shared with the Mirror and with
// other readers: they must not be modified.
type Mirror struct {
	filter mirrorFilter
	cancel context.CancelFunc
	done   chan struct{}

	// mu protects articles, rev, err and changed.
	mu       sync.RWMutex
	articles map[string]*articlesv1.Article
	// rev is the revision the Mirror reflects: every write up to it is in.
	rev int64
	// err is why the Mirror stopped following the feed, once it has.
	err error
	// changed is closed and replaced whenever rev advances or err is set.
	changed chan struct{}
}

// A MirrorOption configures NewMirror.
type MirrorOption interface {
	applyMirror(*mirrorFilter)
}

type mirrorOptionFunc func(*mirrorFilter)

func (f mirrorOptionFunc) applyMirror(m *mirrorFilter) { f(m) }

// MirrorAuthor keeps only articles with this author (exact display name).
func MirrorAuthor(name string) MirrorOption {
	return mirrorOptionFunc(func(f *mirrorFilter) { f.author = name })
}

// MirrorTag keeps only articles with this tag (case-insensitive).
func MirrorTag(tag string) MirrorOption {
	return mirrorOptionFunc(func(f *mirrorFilter) { f.tag = tag })
}

// MirrorSource keeps only articles from this source (exact).
func MirrorSource(source string) MirrorOption {
	return mirrorOptionFunc(func(f *mirrorFilter) { f.source = source })
}

// MirrorView sets how much of each article the Mirror keeps:
// articlesv1.ArticleView_ARTICLE_VIEW_FULL (the default) or
// ARTICLE_VIEW_BASIC, without body and author_bio, which both its listing
// and its watch then leave out.
func MirrorView(view articlesv1.ArticleView) MirrorOption {
	return mirrorOptionFunc(func(f *mirrorFilter) { f.view = view })
}

// MirrorCompressed has the server send the Mirror's change feed
// compressed with gzip (see WatchCompressed).
func MirrorCompressed() MirrorOption {
	return mirrorOptionFunc(func(f *mirrorFilter) { f.compressed = true })
}

// mirrorFilter is the subset a Mirror keeps, matched as the server matches
// StreamArticles filters, the view it keeps them in, and whether its feed
// comes compressed.
type mirrorFilter struct {
	author, tag, source string
	view                articlesv1.ArticleView
	compressed          bool
}

func (f mirrorFilter) match(a *articlesv1.Article) bool {
	if f.author != "" && !slices.Contains(a.GetAuthors(), f.author) {
		return false
	}
	if f.tag != "" && !slices.ContainsFunc(a.GetTags(), func(t string) bool { return strings.EqualFold(t, f.tag) }) {
		return false
	}
	return f.source == "" || a.GetSource() == f.source
}

// NewMirror builds a Mirror of the articles on c's server and keeps it up
// to date in the background until Close. ctx bounds the initial listing
// only. It fails if the watch or the listing fails.
//
// If the feed later fails for good (the server stays unavailable longer than
// the client's retries, or the Mirror fell behind the server's retained
// history: OUT_OF_RANGE), the Mirror stops changing and Err returns why;
// its content stays readable. Build a new Mirror to recover.
func NewMirror(ctx context.Context, c *Client, opts ...MirrorOption) (*Mirror, error) {
	m := &Mirror{
		articles: make(map[string]*articlesv1.Article),
		changed:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		o.applyMirror(&m.filter)
	}
	// The watch outlives ctx: it runs until Close.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	view := m.filter.view
	if view == articlesv1.ArticleView_ARTICLE_VIEW_UNSPECIFIED {
		view = articlesv1.ArticleView_ARTICLE_VIEW_FULL
	}
	wopts := []WatchOption{WatchView(view)}
	if m.filter.compressed {
		wopts = append(wopts, WatchCompressed())
	}
	next, stop := iter.Pull2(c.Watch(wctx, 0, wopts...))

	fail := func(err error) (*Mirror, error) {
		stop()
		cancel()
		return nil, err
	}
	// The opening PROGRESS event says at which revision the feed starts.
	// Wait for it under ctx: Pull2's next cannot be interrupted, so a ctx
	// that ends first cancels the watch itself.
	unwatch := context.AfterFunc(ctx, cancel)
	ev, err, ok := next()
	if !unwatch() {
		return fail(ctx.Err())
	}
	switch {
	case !ok:
		return fail(status.Error(codes.Unavailable, "client: watch ended before it started"))
	case err != nil:
		return fail(err)
	case ev.GetType() != articlesv1.ArticleEvent_PROGRESS:
		return fail(status.Errorf(codes.Internal, "client: watch began with a %v event, not PROGRESS", ev.GetType()))
	}
	m.rev = ev.GetRevision()

	req := &articlesv1.StreamArticlesRequest{
		Author: m.filter.author,
		Tag:    m.filter.tag,
		Source: m.filter.source,
		View:   view,
	}
	for a, err := range c.Stream(ctx, req) {
		if err != nil {
			return fail(err)
		}
		m.put(a)
	}

	go m.follow(next, stop)
	return m, nil
}

// put stores a if it is newer than the stored copy. m.mu must not be held.
func (m *Mirror) put(a *articlesv1.Article) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(a)
}

func (m *Mirror) putLocked(a *articlesv1.Article) {
	id := a.GetId()
	if old, ok := m.articles[id]; ok && old.GetRevision() >= a.GetRevision() {
		return
	}
	if m.filter.match(a) {
		m.articles[id] = a
	} else {
		delete(m.articles, id)
	}
}

// follow applies the watch's events until it fails or Close stops it.
func (m *Mirror) follow(next func() (*articlesv1.ArticleEvent, error, bool), stop func()) {
	defer close(m.done)
	defer stop()
	for {
		ev, err, ok := next()
		if !ok {
			err = status.Error(codes.Unavailable, "client: watch ended")
		}
		if err != nil {
			m.mu.Lock()
			m.err = err
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
			return
		}
		m.apply(ev)
	}
}

// apply applies one event.
func (m *Mirror) apply(ev *articlesv1.ArticleEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch ev.GetType() {
	case articlesv1.ArticleEvent_CREATED, articlesv1.ArticleEvent_UPDATED:
		m.putLocked(ev.GetArticle())
	case articlesv1.ArticleEvent_DELETED:
		id := ev.GetArticle().GetId()
		if old, ok := m.articles[id]; ok && old.GetRevision() <= ev.GetRevision() {
			delete(m.articles, id)
		}
	}
	if ev.GetRevision() > m.rev {
		m.rev = ev.GetRevision()
		close(m.changed)
		m.changed = make(chan struct{})
	}
}

// Get returns the article with the given id, and whether there is one.
func (m *Mirror) Get(id string) (*articlesv1.Article, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.articles[id]
	return a, ok
}

// Len returns how many articles the Mirror holds.
func (m *Mirror) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.articles)
}

// Range calls fn for each article, in no particular order, until fn
// returns false. It sees one consistent state: the Mirror does not change
// during Range, so fn must not block for long, nor call WaitRevision.
func (m *Mirror) Range(fn func(*articlesv1.Article) bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, a := range m.articles {
		if !fn(a) {
			return
		}
	}
}

// Revision returns the revision the Mirror reflects: every write up to it
// has been applied.
func (m *Mirror) Revision() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rev
}

// Err returns why the Mirror stopped following the server, or nil while it
// follows. After Close it is CANCELED.
func (m *Mirror) Err() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.err
}

// WaitRevision blocks until the Mirror reflects revision rev (typically
// the revision of a write this process made), ctx is done, or the Mirror
// has stopped following the server, and returns the error in the latter
// two cases.
func (m *Mirror) WaitRevision(ctx context.Context, rev int64) error {
	for {
		m.mu.RLock()
		cur, err, changed := m.rev, m.err, m.changed
		m.mu.RUnlock()
		if cur >= rev {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops following the server and waits for the background goroutine
// to end. The content stays readable. It is safe to call more than once.
func (m *Mirror) Close() error {
	m.cancel()
	<-m.done
	return nil
}
