package server

// The per-stream side of the change feed: the WatchArticles handler and the
// watcher that runs each stream (see watch.go for the protocol and the hub).

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// WatchArticles streams the change feed: a PROGRESS event marking the
// start, then every event from start_revision on that passes the filters,
// in revision order, with PROGRESS events on idle streams. See the comment
// at the top of this file for the protocol.
func (s *Server) WatchArticles(req *articlesv1.WatchArticlesRequest, stream grpc.ServerStreamingServer[articlesv1.ArticleEvent]) error {
	filter, vs := parseFilter(watchFilterRequest{req})
	if req.GetStartRevision() < 0 {
		vs = append(vs, violation("start_revision", "must not be negative, got %d", req.GetStartRevision()))
	}
	if len(vs) > 0 {
		return invalidArgument(vs...)
	}
	view, err := resolveView("view", req.GetView(), articlesv1.ArticleView_ARTICLE_VIEW_FULL)
	if err != nil {
		return err
	}
	ctx := stream.Context()
	w := &watcher{
		h:        s.hub,
		stream:   stream,
		filter:   filter,
		next:     req.GetStartRevision(),
		interval: s.cfg.progressInterval,
		view:     view,
		wire:     wireIndex(view),
		batched:  req.GetBatch(),
		gzip:     sendsGzip(ctx),
		batch:    make([]*entry, 0, ringBatch),
	}
	if w.interval <= 0 {
		w.interval = DefaultProgressInterval
	}
	if w.next == 0 {
		rev, err := s.store.Revision(ctx)
		if err != nil {
			return toStatus(err)
		}
		w.next = rev + 1
	} else if _, err := s.store.Changes(ctx, w.next, 1); err != nil {
		// The ring may still hold events the log has compacted away; the
		// log alone decides which start revisions are retained, so that
		// the answer does not depend on the ring's size or timing.
		return toStatus(err)
	}
	if k, ok := watchKey(filter); ok {
		w.key = s.hub.register(k)
		defer s.hub.unregister(k)
	} else {
		s.hub.unfiltered.Add(1)
		defer s.hub.unfiltered.Add(-1)
	}
	s.hub.watchers.Add(1)
	defer s.hub.watchers.Add(-1)
	defer func() {
		s.hub.stats.shared.Add(w.shared)
		s.hub.stats.own.Add(w.own)
		s.hub.stats.wakes.Add(w.wakes)
	}()
	defer func() {
		if w.timer != nil {
			w.timer.Stop()
		}
	}()
	return toStatus(w.run(ctx))
}

// sendsGzip reports whether the stream of ctx sends its messages
// compressed with gzip. grpc answers a request in the compression of the
// request, and a message compressed once for one such stream (a
// grpc.PreparedMsg) is valid on every other. grpc's transport stream says
// which compression the request used; if it ever stops saying, streams
// are compressed one by one by grpc, as any other.
func sendsGzip(ctx context.Context) bool {
	st, ok := grpc.ServerTransportStreamFromContext(ctx).(interface{ RecvCompress() string })
	return ok && st.RecvCompress() == gzip.Name
}

// watchFilterRequest lets parseFilter check a watch's filters, which have
// no publish-time bounds, exactly as it checks a listing's.
type watchFilterRequest struct {
	*articlesv1.WatchArticlesRequest
}

func (watchFilterRequest) GetPublishedAfter() *timestamppb.Timestamp  { return nil }
func (watchFilterRequest) GetPublishedBefore() *timestamppb.Timestamp { return nil }

// watcher is the state of one watch stream, used only by its handler
// goroutine.
type watcher struct {
	h        *hub
	stream   grpc.ServerStreamingServer[articlesv1.ArticleEvent]
	filter   articles.Filter
	interval time.Duration
	// key is what the stream waits on when it has a filter, or nil
	// (watchwake.go).
	key *keyWake
	// gzip is set when the stream's messages go out compressed with
	// gzip: it sends the shared compressed forms of events and batches.
	gzip bool

	// next is the first revision not yet delivered or filtered out.
	next int64
	// created is set once the opening PROGRESS event has been sent.
	created bool
	// behind is set while the watcher reads the log instead of the ring.
	behind bool
	// lastSend is when the stream last sent anything.
	lastSend time.Time
	// batch is reused for the entries taken from the ring per lock.
	batch []*entry
	// view is how much of each article the stream sends (FULL or BASIC),
	// and wire its index in entry.wire and group.batches.
	view articlesv1.ArticleView
	wire int
	// batched is set when the client asked for batches: events taken
	// together (from the ring or the log) go out as one message, pending
	// until flush, up to maxBatchBytes.
	batched      bool
	pending      []*entry
	pendingBytes int
	// shared and own count the batched messages sent: a group's shared
	// batches, and batches of the stream's own; wakes the news it woke
	// for (hub.stats).
	shared, own, wakes int64
	// timer fires at armed, the time the stream is due a PROGRESS event
	// (wait); nil until the first wait. It is stopped when run returns.
	timer *time.Timer
	armed time.Time
}

// run delivers events until ctx is done, the hub closes or a send fails.
func (w *watcher) run(ctx context.Context) error {
	h := w.h
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.mu.RLock()
		if h.closed {
			h.mu.RUnlock()
			return errHubClosed
		}
		switch {
		case h.ready && w.next <= h.tail && w.quietLocked():
			// Nothing up to the tail can pass the filter.
			w.next = h.tail + 1
			h.mu.RUnlock()
		case !h.ready || w.next <= h.floor:
			// Behind the ring (or no ring yet): read the log.
			ready, floor, tail := h.ready, h.floor, h.tail
			wake := w.wakeLocked()
			h.mu.RUnlock()
			if ready && w.created && !w.behind {
				h.log.Debug("watch: a watcher fell behind the live feed; catching up from the log", "next", w.next, "ring_floor", floor)
			}
			w.behind = true
			if !ready {
				tail = 0 // nothing is known to be complete
			}
			n, err := w.catchUp(ctx, tail)
			if err != nil {
				return err
			}
			if n == 0 {
				// The log has nothing from next on. With a ring, no event
				// exists up to its floor either; without one, wait for it.
				if ready {
					w.next = max(w.next, floor+1)
				} else if err := w.wait(ctx, wake); err != nil {
					return err
				}
			}
		case w.next <= h.tail:
			w.behind = false
			w.batch = h.collectLocked(w.batch[:0], w.next, ringBatch)
			if len(w.batch) == 0 {
				// No event in (next-1, tail]: revisions without events.
				w.next = h.tail + 1
			}
			h.mu.RUnlock()
			if err := w.sendEntries(ctx, w.batch); err != nil {
				return err
			}
			clear(w.batch) // do not pin evicted entries while waiting
		default:
			// Caught up. The channel is taken under the same lock as the
			// tail, so an append after this check wakes the stream.
			wake := w.wakeLocked()
			h.mu.RUnlock()
			if err := w.wait(ctx, wake); err != nil {
				return err
			}
		}
	}
}

// catchUp sends the events of the log from next on, one chunk of it: the
// shared span holding next when that span is complete up to tail (see
// watchcache.go), else a read of its own. It returns how many events the
// log returned; after a span it is at least 1, since next has moved past
// the span even if it had no event.
func (w *watcher) catchUp(ctx context.Context, tail int64) (int, error) {
	w.h.stats.catchUps.Add(1)
	sp, err := w.h.spans.get(ctx, w.h.st, w.next, tail)
	if err != nil {
		return 0, err
	}
	if sp != nil {
		if err := w.sendEntries(ctx, sp.entries); err != nil {
			return 0, err
		}
		w.next = max(w.next, sp.last+1, sp.after)
		return max(len(sp.entries), 1), nil
	}
	evs, err := w.h.st.Changes(ctx, w.next, catchUpChunk)
	if err != nil {
		return 0, err
	}
	entries := make([]*entry, 0, len(evs))
	for _, ev := range evs {
		if ev.GetRevision() >= w.next {
			entries = append(entries, eventEntry(ev))
		}
	}
	return len(evs), w.sendEntries(ctx, entries)
}

// sendEntries sends the entries that pass the filter, advancing next past
// each, then a PROGRESS event if the stream has been silent for too long
// (every entry filtered out).
func (w *watcher) sendEntries(ctx context.Context, entries []*entry) error {
	if err := w.ensureCreated(); err != nil {
		return err
	}
	for len(entries) > 0 {
		group := entries
		if w.h.rate != nil {
			// Under a rate cap, wait once for as many entries as the
			// burst allows: sent back to back, events share the
			// transport's writes, where one at a time would cost a system
			// call each.
			var n int
			group, n = w.paceGroup(entries, w.h.rate.Burst())
			if err := w.h.pace(ctx, n); err != nil {
				return err
			}
		}
		for _, e := range group {
			rev := e.ev.GetRevision()
			if rev < w.next {
				continue
			}
			if b := w.shareable(e); b != nil {
				// Every event before e is sent or pending: send the
				// pending ones, then the group's batch from e on, which
				// may reach past entries (its group follows on).
				if err := w.flush(); err != nil {
					return err
				}
				if err := w.sendShared(e.grp, b); err != nil {
					return err
				}
				w.next = b.last + 1
				continue
			}
			if w.wants(e) {
				if err := w.queue(e); err != nil {
					return err
				}
			}
			w.next = rev + 1
		}
		if err := w.flush(); err != nil {
			return err
		}
		entries = entries[len(group):]
	}
	if time.Since(w.lastSend) >= w.interval {
		return w.progress()
	}
	return nil
}

// shareable returns the batch of e's group that e starts in the stream's
// view, if the stream asked for batches and sends every event of that
// batch (it has no filter, or its filter passes them all); else nil.
func (w *watcher) shareable(e *entry) *groupBatch {
	if !w.batched || e.grp == nil || e.batch[w.wire] == 0 {
		return nil
	}
	b := &e.grp.batches[w.wire][e.batch[w.wire]-1]
	if !w.filter.IsZero() {
		for _, x := range e.grp.entries[b.first : b.first+b.n] {
			if !w.wants(x) {
				return nil
			}
		}
	}
	return b
}

// sendShared sends batch b of g: one event alone, several as the batch's
// message shared by every stream.
func (w *watcher) sendShared(g *group, b *groupBatch) error {
	if b.n == 1 {
		return w.sendEntry(g.entries[b.first])
	}
	var msg any
	var err error
	if w.gzip {
		msg, err = b.gzip.get(w.stream, &w.h.stats.gzipped, func() (*encoded, error) { return g.message(w.wire, b) })
	} else {
		msg, err = g.message(w.wire, b)
	}
	if err != nil {
		return err
	}
	if err := w.stream.SendMsg(msg); err != nil {
		return err
	}
	w.shared++
	w.lastSend = time.Now()
	return nil
}

// wants reports whether the stream sends e: e passes its filter.
func (w *watcher) wants(e *entry) bool { return e.always || w.filter.Match(e.match) }

// paceGroup returns the longest prefix of entries (at least one entry) whose
// events to send add up to at most limit bytes, and their bytes.
func (w *watcher) paceGroup(entries []*entry, limit int) ([]*entry, int) {
	n := 0
	for i, e := range entries {
		if e.ev.GetRevision() < w.next || !w.wants(e) {
			continue
		}
		size := e.sizeIn(w.view)
		if i > 0 && n+size > limit {
			return entries[:i], n
		}
		n += size
	}
	return entries, n
}

// wait blocks until wake is closed (the hub has news for the stream), ctx
// is done or the stream is due a PROGRESS event, which it sends.
func (w *watcher) wait(ctx context.Context, wake <-chan struct{}) error {
	if err := w.ensureCreated(); err != nil {
		return err
	}
	// One timer per stream, re-armed only when the PROGRESS deadline
	// moves: with many watchers woken on every commit, a timer made per
	// wait costs more than the rest of the wake-up.
	deadline := w.lastSend.Add(w.interval)
	if w.timer == nil {
		w.timer = time.NewTimer(time.Until(deadline))
		w.armed = deadline
	} else if !deadline.Equal(w.armed) {
		w.timer.Reset(time.Until(deadline))
		w.armed = deadline
	}
	select {
	case <-wake:
		w.wakes++
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.timer.C:
		w.armed = time.Time{} // fired: re-arm on the next wait
		if w.key != nil {
			// A filtered stream is not woken for events it would not
			// send: report the tail as delivered when nothing up to it
			// passes the filter.
			w.h.mu.RLock()
			if w.h.ready && w.quietLocked() {
				w.next = max(w.next, w.h.tail+1)
			}
			w.h.mu.RUnlock()
		}
		return w.progress()
	}
}

// ensureCreated sends the opening PROGRESS event, once.
func (w *watcher) ensureCreated() error {
	if w.created {
		return nil
	}
	w.created = true
	return w.progress()
}

// progress sends a PROGRESS event: everything before next is delivered.
func (w *watcher) progress() error {
	ev := &articlesv1.ArticleEvent{Type: articlesv1.ArticleEvent_PROGRESS, Revision: w.next - 1}
	if err := w.stream.Send(ev); err != nil {
		return err
	}
	w.lastSend = time.Now()
	return nil
}

// queue sends e, or on a batched stream adds it to the pending batch,
// sending the batch first if e would take it past maxBatchBytes.
func (w *watcher) queue(e *entry) error {
	if !w.batched {
		return w.sendEntry(e)
	}
	size := e.sizeIn(w.view)
	if len(w.pending) > 0 && w.pendingBytes+size > maxBatchBytes {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.pending = append(w.pending, e)
	w.pendingBytes += size
	return nil
}

// flush sends the pending batch: one event alone, several as one message
// whose events field holds their shared encodings.
func (w *watcher) flush() error {
	switch len(w.pending) {
	case 0:
		return nil
	case 1:
		err := w.sendEntry(w.pending[0])
		w.pending[0], w.pending = nil, w.pending[:0]
		w.pendingBytes = 0
		return err
	}
	// One contiguous buffer from grpc's pool, which grpc returns to the
	// pool once it has written it: many small pieces would cost more in
	// the transport than copying them once.
	n := 0
	for _, e := range w.pending {
		msg, err := e.encoded(w.view)
		if err != nil {
			return err
		}
		l := msg.bufs.Len()
		n += protowire.SizeTag(eventEvents) + protowire.SizeBytes(l)
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(n)
	b := (*buf)[:0]
	for i, e := range w.pending {
		msg, _ := e.encoded(w.view)
		b = protowire.AppendTag(b, eventEvents, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(msg.bufs.Len()))
		for _, part := range msg.bufs {
			b = append(b, part.ReadOnlyData()...)
		}
		w.pending[i] = nil
	}
	*buf = b
	w.pending, w.pendingBytes = w.pending[:0], 0
	if err := w.stream.SendMsg(&encoded{bufs: mem.BufferSlice{mem.NewBuffer(buf, pool)}}); err != nil {
		return err
	}
	w.own++
	w.lastSend = time.Now()
	return nil
}

// maxBatchBytes bounds the events of one batched message (which holds at
// least one). Batches pay off for small events, whose cost is the
// message; large ones cost by the byte, and a batch must stay within a
// stream's flow-control window and the transport's pooled buffers, which
// every stalled watcher would otherwise hold a large one of.
const maxBatchBytes = 16 << 10

// sendEntry sends e in the stream's view, encoded (and for gzip streams
// compressed) once for every stream.
func (w *watcher) sendEntry(e *entry) error {
	var msg any
	var err error
	if w.gzip {
		msg, err = e.gzip[w.wire].get(w.stream, &w.h.stats.gzipped, func() (*encoded, error) { return e.encoded(w.view) })
	} else {
		msg, err = e.encoded(w.view)
	}
	if err != nil {
		return err
	}
	if err := w.stream.SendMsg(msg); err != nil {
		return err
	}
	w.lastSend = time.Now()
	return nil
}
