package server

// Wake-ups by filter.
//
// An append to the ring wakes every unfiltered watcher: each has events to
// send. A filtered watcher (author, tag or source) usually has none, so it
// waits on one of its filter's conditions, its key, instead of the
// broadcast. For every key some watcher names, the hub keeps the revision
// of the newest appended event that can match it (touched) and a channel
// it closes when it appends such an event. An event can match a key when
// its article has that author, tag or source, or when it is sent to every
// watcher (entry.always).
//
// Invariant: a watcher's key has touched >= every revision, from the
// watcher's next on, of an event that can pass its filter. It holds at
// registration, where touched starts at the tail (the events before it
// are not known), and every append keeps it. So a watcher whose key's
// touched is below its next has nothing to send up to the tail: it moves
// next there without reading the ring or the log. A filtered watcher that
// slept while the ring turned over many times does not read the log back.

import "github.com/seed9c1868aa/articles"

// keyWake is the hub's state for a key some watcher waits on. h.mu
// protects its fields.
type keyWake struct {
	refs    int   // watchers waiting on the key
	touched int64 // see the invariant above
	// wake is closed and replaced when an event that can match the key is
	// appended, the ring is reset, or the hub closes.
	wake chan struct{}
	// mark is the append that last closed wake.
	mark uint64
}

// watchKey returns the condition a watcher with filter f waits on, and
// false when f is zero (the watcher waits on the broadcast).
func watchKey(f articles.Filter) (articles.Condition, bool) {
	cs := f.IndexedConditions()
	if len(cs) == 0 {
		return articles.Condition{}, false
	}
	return cs[0], true
}

// register adds a watcher waiting on k and returns k's state.
func (h *hub) register(k articles.Condition) *keyWake {
	h.mu.Lock()
	defer h.mu.Unlock()
	kw := h.keys[k]
	if kw == nil {
		kw = &keyWake{touched: h.tail, wake: make(chan struct{})}
		if h.closed {
			close(kw.wake)
		}
		h.keys[k] = kw
	}
	kw.refs++
	// Events up to the tail are not known to miss k.
	kw.touched = max(kw.touched, h.tail)
	return kw
}

// unregister removes a watcher waiting on k.
func (h *hub) unregister(k articles.Condition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if kw := h.keys[k]; kw != nil {
		if kw.refs--; kw.refs == 0 {
			delete(h.keys, k)
		}
	}
}

// touchLocked records entries, just appended, against the keys they can
// match and wakes those keys' watchers. h.mu must be held.
func (h *hub) touchLocked(entries []*entry) {
	if h.closed {
		return
	}
	if len(h.keys) == 0 {
		h.keyedWoken.Store(0)
		return
	}
	h.appends++
	woken := 0
	touch := func(kw *keyWake, rev int64) {
		kw.touched = max(kw.touched, rev)
		if kw.mark != h.appends {
			kw.mark = h.appends
			close(kw.wake)
			kw.wake = make(chan struct{})
			woken += kw.refs
		}
	}
	defer func() { h.keyedWoken.Store(int64(woken)) }()
	for _, e := range entries {
		rev := e.ev.GetRevision()
		if e.always {
			for _, kw := range h.keys {
				touch(kw, rev)
			}
			continue
		}
		a := e.match
		for _, au := range a.GetAuthors() {
			if kw := h.keys[articles.Condition{Field: articles.FieldAuthor, Value: au}]; kw != nil {
				touch(kw, rev)
			}
		}
		for _, t := range a.GetTags() {
			if kw := h.keys[articles.Condition{Field: articles.FieldTag, Value: t}]; kw != nil {
				touch(kw, rev)
			}
		}
		if src := a.GetSource(); src != "" {
			if kw := h.keys[articles.Condition{Field: articles.FieldSource, Value: src}]; kw != nil {
				touch(kw, rev)
			}
		}
	}
}

// forgetLocked wakes every keyed watcher when the ring restarts at
// revision rev, whose skipped events no key has seen: each key counts as
// touched up to rev. h.mu must be held and the hub open.
func (h *hub) forgetLocked(rev int64) {
	for _, kw := range h.keys {
		kw.touched = max(kw.touched, rev)
		close(kw.wake)
		kw.wake = make(chan struct{})
	}
}

// closeKeysLocked wakes every keyed watcher for good, as the hub closes.
// h.mu must be held; it runs once.
func (h *hub) closeKeysLocked() {
	for _, kw := range h.keys {
		close(kw.wake)
	}
}

// quietLocked reports whether no event from w's next up to the tail can
// pass w's filter (see the invariant above). h.mu must be held.
func (w *watcher) quietLocked() bool {
	return w.key != nil && w.key.touched < w.next
}

// wakeLocked returns the channel w waits on for news: its key's, or the
// broadcast. h.mu must be held.
func (w *watcher) wakeLocked() <-chan struct{} {
	if w.key != nil {
		return w.key.wake
	}
	return w.h.wake
}
