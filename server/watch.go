package server

// The change feed (WatchArticles).
//
// The store's change log is the source of truth: every committed write has
// its event there, at its revision, and nothing else does. The server adds
// no state of its own that could disagree with it, only a cache.
//
// One hub per Server tails the log: it waits for the store's revision to
// pass the last one it has read (Store.WaitRevision), reads the new events
// in chunks (Store.Changes) and appends them to a ring of the most recent
// events (cfg.watchBuffer of them, and at most maxRingBytes). While no
// watch stream is open it reads only the revision and keeps the ring
// empty, starting after it: the events are read once someone watches. Each event in
// the ring is encoded for the wire at most once per view (FULL, BASIC), on
// first send, and the encoded form is shared by every watch stream that
// sends it (see entry). The events of one append form a group, cut into
// batches whose messages are also made once and shared by every stream
// that sends them whole (see group). Appending wakes the waiting
// unfiltered watchers with a broadcast: the hub closes a channel and
// replaces it. A filtered watcher waits on one of its filter's conditions
// instead and wakes only for an append with an event that can pass it
// (watchwake.go).
//
// Each watch stream runs in its own handler goroutine and keeps its own next
// revision. When the ring holds that revision it takes events from the
// ring, which costs no copy and no store access. When it has fallen behind
// the ring (it was slow to Send, or it asked for an old start revision) it
// catches up from the store with short Changes reads, which return a slice,
// so no read transaction is open while it Sends; then it rejoins the ring.
// Those reads go through a cache shared by every watcher that is behind
// (watchcache.go), so that an event is read and encoded once per span of
// the log, not once per lagging watcher.
// Since next only ever grows, one event at a time, the seam between the
// log and the ring has no gap and no duplicate. A watcher that falls behind
// the log's retained history gets ErrCompacted from Changes, which toStatus
// turns into OUT_OF_RANGE naming the oldest available revision.
//
// Nothing ever waits for a watcher: the hub appends to the ring and
// broadcasts without looking at who reads, and writers never see the hub at
// all. A watcher blocked in Send (its client does not read) holds only its
// own goroutine and the ring entries it is sending. With WithWatchRate,
// watchers also wait for a shared token bucket before each burst-sized
// group of events, which bounds the CPU the feed takes from writers; a
// watcher held back falls behind like a slow one. With many watchers the
// tailer spaces its appends (wakeGap), since each wakes every unfiltered
// watcher.
//
// # Stream protocol
//
//   - The first message of every stream is a PROGRESS event whose revision
//     is the start revision minus one (for start_revision 0: the current
//     revision), like etcd's "created" notification: it tells the client the
//     stream is established and where it begins. An explicit start revision
//     is checked against the log, not the ring: one older than the log's
//     history fails with OUT_OF_RANGE before that message, whatever the
//     ring still holds.
//   - Then the events with revision >= start, in order, filtered, in the
//     request's view. A stream that asked for batches gets the events the
//     watcher takes together (from the ring or a read of the log) in
//     messages of up to maxBatchBytes of events, in their events field:
//     the batches of their group where it sends a batch whole, batches of
//     its own elsewhere. An event alone and every PROGRESS event go in
//     messages of their own.
//   - Whenever the stream has sent nothing for cfg.progressInterval, a
//     PROGRESS event with revision R: the stream has delivered (or filtered
//     out) every event up to R, so a client that resumes from R+1 misses
//     nothing. For a stream that is caught up, R is the current revision.
//
// # Filters
//
// author, tag and source are checked and normalised as ListArticles'
// (parseFilter) and select events by the article as written, so an update
// that moves an article out of the filter is not sent (client.Mirror
// watches unfiltered for that reason). A DELETED event is matched against the
// article's last content when the log entry carries it, and is then sent
// trimmed to id, slug and revision, as the API promises; when the log entry
// carries only the identity (no title; the bbolt store's log does this),
// the server cannot tell whether the article matched, so the delete is sent
// to every filtered watcher. Clients must therefore accept deletes of ids
// they have never seen.
//
// # Caveats
//
// hub.close ends every stream that is waiting for events or reading the log
// with UNAVAILABLE at once. A stream blocked in Send because its client
// does not read cannot be interrupted by the handler; it ends when the
// gRPC server cancels it (Server.Stop, or GracefulStop's caller giving up
// and calling Stop), so shutdown should bound GracefulStop with a timeout.

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

const (
	// tailChunk is how many events one Changes read of the tailer returns
	// at most: small enough that a read transaction is short, large enough
	// to amortise it.
	tailChunk = 256

	// catchUpChunk is the same for a watcher catching up from the log. It
	// is smaller because every catching-up watcher holds its own chunk
	// while it sends it.
	catchUpChunk = 64

	// maxRingBytes bounds the memory of the ring, counting each event as
	// its message and its encoded forms: with large articles the ring
	// holds fewer than cfg.watchBuffer events.
	maxRingBytes = 64 << 20

	// ringBatch is how many ring entries a watcher takes per lock.
	ringBatch = 64

	// tailRetryMin and tailRetryMax bound the pause of the tailer after a
	// store error other than cancellation.
	tailRetryMin = 50 * time.Millisecond
	tailRetryMax = 2 * time.Second
)

// entry is one event in the hub's ring. It is immutable once appended,
// except for its lazily encoded wire forms, which sync.Once guards, so
// watchers use entries without holding hub.mu.
type entry struct {
	// ev is the event as sent in the FULL view: for DELETED, trimmed to id,
	// slug, revision.
	ev *articlesv1.ArticleEvent
	// match is the article filters are tested against (see eventEntry).
	match *articlesv1.Article
	// always is set for events sent to every watcher whatever its filter.
	always bool
	// full and basic are the encoded sizes of the event in each view.
	full, basic int
	// size is what the entry counts against maxRingBytes: the message,
	// both encoded forms and its share of its group's batches, plus
	// overhead.
	size int

	// grp is the group the entry belongs to (a ring append or a catch-up
	// span), or nil. batch[i] is 1 + the index in grp.batches[i] of the
	// batch the entry starts in view i (wireFull, wireBasic), or 0 when it
	// starts none. Both are set before the entry is published.
	grp   *group
	batch [2]int32

	// wire holds the event encoded for each view (wireFull, wireBasic),
	// each made on first send and shared by every stream that sends it;
	// gzip the same, compressed for the streams that asked for gzip.
	wire [2]struct {
		once sync.Once
		msg  *encoded
		err  error
	}
	gzip [2]gzipped
}

// gzipped is a message compressed once for every gzip stream.
type gzipped struct {
	once sync.Once
	msg  *grpc.PreparedMsg
	err  error
}

// get returns the message, compressing msg for stream on first use and
// counting that in made.
func (g *gzipped) get(stream grpc.ServerStream, made *atomic.Int64, msg func() (*encoded, error)) (*grpc.PreparedMsg, error) {
	g.once.Do(func() {
		m, err := msg()
		if err != nil {
			g.err = err
			return
		}
		p := &grpc.PreparedMsg{}
		if g.err = p.Encode(stream, m); g.err == nil {
			g.msg = p
			made.Add(1)
		}
	})
	return g.msg, g.err
}

// Indexes of entry.wire.
const (
	wireFull = iota
	wireBasic
)

// encoded returns e's event in view, encoded for the wire on first use and
// shared by every stream. utf8Codec sends the bytes as they are, and grpc
// compresses them per stream when the stream asks for it.
func (e *entry) encoded(view articlesv1.ArticleView) (*encoded, error) {
	i := wireIndex(view)
	w := &e.wire[i]
	w.once.Do(func() {
		var b []byte
		if i == wireBasic {
			b, w.err = basicEvent(e.ev)
		} else {
			b, w.err = proto.Marshal(e.ev)
		}
		if w.err == nil {
			w.msg = &encoded{bufs: mem.BufferSlice{mem.SliceBuffer(b)}}
		}
	})
	return w.msg, w.err
}

// Field numbers of ArticleEvent.
const (
	eventType     protowire.Number = 1
	eventRevision protowire.Number = 2
	eventArticle  protowire.Number = 3
	eventEvents   protowire.Number = 4
)

// basicEvent encodes ev in the BASIC view: its article without body and
// author_bio, which are cut from the article's encoding rather than from a
// copy of the message.
func basicEvent(ev *articlesv1.ArticleEvent) ([]byte, error) {
	b, err := proto.Marshal(ev.GetArticle())
	if err != nil {
		return nil, err
	}
	a := trimView(b, articlesv1.ArticleView_ARTICLE_VIEW_BASIC)
	out := make([]byte, 0, 2*binary.MaxVarintLen64+binary.MaxVarintLen32+3+len(a))
	if t := ev.GetType(); t != 0 {
		out = protowire.AppendTag(out, eventType, protowire.VarintType)
		out = protowire.AppendVarint(out, uint64(t))
	}
	if r := ev.GetRevision(); r != 0 {
		out = protowire.AppendTag(out, eventRevision, protowire.VarintType)
		out = protowire.AppendVarint(out, uint64(r))
	}
	if ev.GetArticle() != nil {
		out = protowire.AppendTag(out, eventArticle, protowire.BytesType)
		out = protowire.AppendBytes(out, a)
	}
	return out, nil
}

// eventEntry makes the ring entry (or catch-up entry) for a log event. The
// log's DELETED event may carry the article's last content, which filters
// need; the stream gets only id, slug and revision.
func eventEntry(ev *articlesv1.ArticleEvent) *entry {
	e := &entry{ev: ev, match: ev.GetArticle()}
	if ev.GetType() == articlesv1.ArticleEvent_DELETED {
		a := ev.GetArticle()
		if a.GetTitle() == "" {
			// Only the identity: no way to tell whether it matched.
			e.always = true
		}
		e.ev = &articlesv1.ArticleEvent{
			Type:     ev.GetType(),
			Revision: ev.GetRevision(),
			Article: &articlesv1.Article{
				Id:       a.GetId(),
				Slug:     a.GetSlug(),
				Revision: a.GetRevision(),
			},
		}
	}
	e.full = proto.Size(e.ev)
	a := e.ev.GetArticle()
	e.basic = max(e.full-len(a.GetBody())-len(a.GetAuthorBio()), 0)
	e.size = 3*e.full + 2*e.basic + 64
	return e
}

// wireIndex returns the index of view in entry.wire and group.batches.
func wireIndex(view articlesv1.ArticleView) int {
	if view == articlesv1.ArticleView_ARTICLE_VIEW_BASIC {
		return wireBasic
	}
	return wireFull
}

// group is the entries of one ring append or one catch-up span:
// consecutive events of the log, none missing between them. In each view
// it cuts them into batches of up to maxBatchBytes, as a stream that sends
// them all would. The message of a batch is made on first use and shared
// by every stream that sends the batch whole: streams that are caught up
// wake on the same append at the same revision, and without a filter each
// would build the same bytes.
//
// A group holds every entry it has, so an entry evicted from the ring
// stays in memory while a later entry of its group is in the ring.
type group struct {
	entries []*entry
	batches [2][]groupBatch
	// built counts the batch messages made (for tests).
	built *atomic.Int64
}

// groupBatch is entries[first:first+n] of its group, with last the
// revision of its last event and msg their batched message once made
// (gzip: compressed, once made for a gzip stream).
type groupBatch struct {
	first, n int
	last     int64
	once     sync.Once
	msg      *encoded
	err      error
	gzip     gzipped
}

// newGroup makes entries a group, setting each entry's grp and batch. A
// single entry makes no group: its own encoding is already shared.
func newGroup(entries []*entry, built *atomic.Int64) {
	if len(entries) < 2 {
		return
	}
	g := &group{entries: entries, built: built}
	for i, view := range [2]articlesv1.ArticleView{wireFull: articlesv1.ArticleView_ARTICLE_VIEW_FULL, wireBasic: articlesv1.ArticleView_ARTICLE_VIEW_BASIC} {
		var cur *groupBatch
		n := 0
		for j, e := range entries {
			size := e.sizeIn(view)
			if cur == nil || (cur.n > 0 && n+size > maxBatchBytes) {
				g.batches[i] = append(g.batches[i], groupBatch{first: j})
				cur = &g.batches[i][len(g.batches[i])-1]
				e.batch[i] = int32(len(g.batches[i]))
				n = 0
			}
			cur.n++
			cur.last = e.ev.GetRevision()
			n += size
		}
	}
	for _, e := range entries {
		e.grp = g
	}
}

// message returns batch b of view index i as one message: its events'
// shared encodings in the events field, in one buffer made once for
// every stream. utf8Codec sends it as it is, and the transport keeps a
// reference until it has written it, so it is plain memory for the
// garbage collector, not a pooled buffer that would need every stream's
// release.
func (g *group) message(i int, b *groupBatch) (*encoded, error) {
	b.once.Do(func() {
		view := articlesv1.ArticleView_ARTICLE_VIEW_FULL
		if i == wireBasic {
			view = articlesv1.ArticleView_ARTICLE_VIEW_BASIC
		}
		entries := g.entries[b.first : b.first+b.n]
		var bufs []mem.BufferSlice
		n := 0
		for _, e := range entries {
			msg, err := e.encoded(view)
			if err != nil {
				b.err = err
				return
			}
			bufs = append(bufs, msg.bufs)
			l := msg.bufs.Len()
			n += protowire.SizeTag(eventEvents) + protowire.SizeBytes(l)
		}
		out := make([]byte, 0, n)
		for _, parts := range bufs {
			out = protowire.AppendTag(out, eventEvents, protowire.BytesType)
			out = protowire.AppendVarint(out, uint64(parts.Len()))
			for _, part := range parts {
				out = append(out, part.ReadOnlyData()...)
			}
		}
		b.msg = &encoded{bufs: mem.BufferSlice{mem.SliceBuffer(out)}}
		if g.built != nil {
			g.built.Add(1)
		}
	})
	return b.msg, b.err
}

// sizeIn returns the bytes of e's event in view, near enough for pacing.
func (e *entry) sizeIn(view articlesv1.ArticleView) int {
	if view == articlesv1.ArticleView_ARTICLE_VIEW_BASIC {
		return e.basic
	}
	return e.full
}

// hub tails the store's change log into a ring of recent events and wakes
// the watch streams reading it. See the comment at the top of this file.
type hub struct {
	st  Store
	log *slog.Logger
	cfg config

	// ctx ends when the hub closes; stop cancels it, which also stops the
	// tailer; done is closed when the tailer has returned.
	ctx  context.Context
	stop context.CancelFunc
	done chan struct{}

	// rate caps the bytes of events all watchers send per second
	// (WithWatchRate), or is nil.
	rate *rate.Limiter

	// mu protects the ring and its bounds (ring, head, n, bytes, floor,
	// tail, ready), the broadcast channel wake and closed. Watchers only
	// read them, under the read lock, so that a thousand watchers woken
	// by one commit do not queue for it. Entries themselves are immutable
	// and are used outside mu.
	mu sync.RWMutex
	// ring is a circular buffer of the newest events, oldest at head;
	// bytes is the sum of their sizes.
	ring  []*entry
	head  int
	n     int
	bytes int
	// The ring holds every event with floor < revision <= tail. Before
	// ready is set (the tailer has not read the store's revision yet) it
	// holds nothing and watchers read the store directly.
	floor, tail int64
	ready       bool
	// wake is closed and replaced whenever tail advances or the hub closes.
	wake   chan struct{}
	closed bool
	// keys are the keys filtered watchers wait on instead of wake, and
	// appends counts the appends that touched some (watchwake.go).
	keys    map[articles.Condition]*keyWake
	appends uint64

	// watchers counts the open WatchArticles streams (Server.Watchers),
	// unfiltered those of them without a filter, and keyedWoken the
	// filtered streams the last append woke (watchwake.go).
	watchers, unfiltered, keyedWoken atomic.Int64

	// stats counts batched messages, for tests: shared batches made
	// (built) and sent (shared), and batches a stream made for itself
	// (own); the wake-ups of streams waiting for news (wakes), and their
	// reads of the log (catchUps); messages compressed once for every gzip
	// stream (gzipped).
	// Streams add theirs when they end.
	stats struct {
		built, shared, own, wakes, catchUps, gzipped atomic.Int64
	}

	// spans is shared by the watchers catching up from the log
	// (watchcache.go).
	spans *spanCache
}

// newHub returns a hub tailing st and starts its tailer goroutine, which
// runs until close.
func newHub(st Store, log *slog.Logger, cfg config) *hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	size := cfg.watchBuffer
	if size < 1 {
		size = DefaultWatchBuffer
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &hub{
		st:   st,
		log:  log,
		cfg:  cfg,
		ctx:  ctx,
		stop: cancel,
		done: make(chan struct{}),
		ring: make([]*entry, size),
		wake: make(chan struct{}),
		keys: map[articles.Condition]*keyWake{},
	}
	h.spans = newSpanCache(cacheMaxBytes, &h.stats.built)
	if cfg.watchRate > 0 {
		// A burst of a tenth of a second's bytes, or of minBurst.
		h.rate = rate.NewLimiter(rate.Limit(cfg.watchRate), max(cfg.watchRate/10, minBurst))
	}
	go h.run(ctx)
	return h
}

// minBurst is the smallest burst of the feed's rate cap: a few events of
// a few kilobytes may always go out at once.
const minBurst = 64 << 10

// pace waits until the feed's rate cap lets the caller send n bytes of
// events; more than the burst counts as the burst. It returns errHubClosed
// if the hub closes first, and ctx's error if ctx ends first.
func (h *hub) pace(ctx context.Context, n int) error {
	if h.rate == nil {
		return nil
	}
	r := h.rate.ReserveN(time.Now(), min(n, h.rate.Burst()))
	d := r.Delay()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	case <-h.ctx.Done():
		r.Cancel()
		return errHubClosed
	}
}

// close ends every watch stream with UNAVAILABLE and stops the tailer,
// waiting for it to return. It is safe to call more than once.
func (h *hub) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.wake)
		h.closeKeysLocked()
	}
	h.mu.Unlock()
	h.stop()
	<-h.done
}

// run is the tailer: it reads the store's log from the current revision on
// into the ring until ctx is canceled.
func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	var pause time.Duration
	// retry logs err and sleeps, longer each time; it reports false when
	// ctx is done.
	retry := func(what string, err error) bool {
		if ctx.Err() != nil {
			return false
		}
		pause = min(max(2*pause, tailRetryMin), tailRetryMax)
		h.log.Warn("watch: reading the change log failed", "op", what, "err", err, "retry_in", pause)
		t := time.NewTimer(pause)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}

	var tail int64
	for {
		rev, err := h.st.Revision(ctx)
		if err == nil {
			tail = rev
			h.reset(rev)
			break
		}
		if !retry("revision", err) {
			return
		}
	}
	var appended time.Time // when the last events went into the ring
	for {
		if err := h.st.WaitRevision(ctx, tail+1); err != nil {
			if !retry("wait", err) {
				return
			}
			continue
		}
		if h.watchers.Load() == 0 {
			// No stream reads the ring: move it past the new revisions
			// without reading their events. A stream that opens later
			// at an earlier revision reads those from the log.
			rev, err := h.st.Revision(ctx)
			if err != nil {
				if !retry("revision", err) {
					return
				}
				continue
			}
			pause = 0
			tail = max(tail, rev)
			h.skip(tail)
			continue
		}
		// Coalesce wake-ups: every append wakes every waiting watcher,
		// each at some CPU cost, so with many watchers the next append
		// waits a little, and takes in every write committed meanwhile.
		if d := time.Until(appended.Add(wakeGap(h.woken()))); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		// rev, read before Changes, lets a short read prove that no event
		// exists up to rev even where revisions have no event.
		rev, err := h.st.Revision(ctx)
		if err != nil {
			if !retry("revision", err) {
				return
			}
			continue
		}
		evs, err := h.st.Changes(ctx, tail+1, tailChunk)
		var ce *articles.CompactedError
		if errors.As(err, &ce) {
			// The tailer itself fell behind the retained history (a very
			// small --history under heavy writes): start over at the oldest
			// retained event. Watchers behind it get OUT_OF_RANGE from the
			// store, as they should.
			h.log.Warn("watch: the change log was compacted past the live feed", "tail", tail, "oldest", ce.Oldest)
			tail = max(tail, ce.Oldest-1)
			h.reset(tail)
			continue
		}
		if err != nil {
			if !retry("changes", err) {
				return
			}
			continue
		}
		pause = 0
		newTail := tail
		if len(evs) > 0 {
			newTail = evs[len(evs)-1].GetRevision()
		}
		if len(evs) < tailChunk {
			newTail = max(newTail, rev)
		}
		h.append(evs, newTail)
		appended = time.Now()
		tail = newTail
	}
}

// woken is how many watchers an append wakes, as far as the hub can tell
// before it: every unfiltered one, and as many filtered ones as the last
// append woke.
func (h *hub) woken() int64 { return h.unfiltered.Load() + h.keyedWoken.Load() }

// wakeGap is the least time between two appends to the ring that wake n
// watchers: wakeGapPerWatcher each, up to maxWakeGap. An append wakes
// every unfiltered watcher and the filtered ones it has events for, so
// this bounds the CPU the wake-ups take to a small share of a core however
// many watchers there are (BENCHMARKS.md has the cost of a wake-up), at
// the price of up to that much delivery latency.
func wakeGap(n int64) time.Duration {
	return min(time.Duration(n)*wakeGapPerWatcher, maxWakeGap)
}

const (
	wakeGapPerWatcher = 25 * time.Microsecond
	maxWakeGap        = 50 * time.Millisecond
)

// reset empties the ring and makes it start after revision rev.
func (h *hub) reset(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.ring)
	h.head, h.n, h.bytes = 0, 0, 0
	h.floor, h.tail = rev, rev
	h.ready = true
	h.broadcastLocked()
	if !h.closed {
		h.forgetLocked(rev)
	}
}

// skip empties the ring and makes it start after revision rev, which is
// at least its tail, as reset does, without clearing a ring that is
// already empty.
func (h *hub) skip(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n > 0 {
		clear(h.ring)
		h.head, h.n, h.bytes = 0, 0, 0
	}
	h.floor, h.tail = rev, rev
	h.broadcastLocked()
	if !h.closed {
		h.forgetLocked(rev)
	}
}

// append adds evs, which follow the ring's tail in order, and moves the
// tail to newTail, evicting the oldest entries beyond the ring's size.
func (h *hub) append(evs []*articlesv1.ArticleEvent, newTail int64) {
	entries := make([]*entry, 0, len(evs))
	for _, ev := range evs {
		entries = append(entries, eventEntry(ev))
	}
	newGroup(entries, &h.stats.built)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range entries {
		for h.n > 0 && (h.n == len(h.ring) || h.bytes+e.size > maxRingBytes) {
			old := h.ring[h.head]
			h.ring[h.head] = nil
			h.head = (h.head + 1) % len(h.ring)
			h.n--
			h.bytes -= old.size
			h.floor = old.ev.GetRevision()
		}
		h.ring[(h.head+h.n)%len(h.ring)] = e
		h.n++
		h.bytes += e.size
	}
	// Revisions between the last event and newTail have no event, so the
	// ring still holds every event in (floor, tail].
	h.tail = max(h.tail, newTail)
	h.touchLocked(entries)
	h.broadcastLocked()
}

// broadcastLocked wakes every waiting watcher. h.mu must be held.
func (h *hub) broadcastLocked() {
	if h.closed {
		return
	}
	close(h.wake)
	h.wake = make(chan struct{})
}

// at returns the i-th entry from the oldest. h.mu must be held.
func (h *hub) at(i int) *entry { return h.ring[(h.head+i)%len(h.ring)] }

// collectLocked appends to dst up to limit entries with revision >= next
// and returns it. h.mu must be held and floor < next <= tail.
func (h *hub) collectLocked(dst []*entry, next int64, limit int) []*entry {
	// Binary search: revisions in the ring are increasing.
	lo, hi := 0, h.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if h.at(mid).ev.GetRevision() < next {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for i := lo; i < h.n && len(dst) < limit; i++ {
		dst = append(dst, h.at(i))
	}
	return dst
}

// errHubClosed is how a watch stream ends when the server shuts down.
var errHubClosed = status.Error(codes.Unavailable, "server is shutting down")
