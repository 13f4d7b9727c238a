package etcdstore

// The list index. Each server keeps the indexes List walks in memory,
// derived from the articles, as Kubernetes' apiserver keeps its watch
// cache: etcd holds per article only its value, its slug claim (slugs must
// be unique across servers) and, per transaction, the revision marker.
//
//   - For each order, an ordered set of order keys (orderKey: the escaped
//     sort key and the id, complemented for descending orders, so a cursor
//     is a key and every listing an ascending walk); for authors, tags and
//     sources, per value the set of ids; per id its current entries, so a
//     write replaces exactly the old ones. Bodies are never kept.
//   - Open reads every article once, at the revision the view starts at,
//     and builds the index; the follower (follow.go) then applies every
//     watched put and delete, in revision order, before it advances the
//     view. When the view restarts (its watch compacted away), the index
//     is built again at the new revision. So once WaitRevision(r) returns,
//     the index holds every write up to r.
//   - The index is etcd's state of the article keys at its revision rev
//     (the last it applied), and at every later revision until the next
//     article write: at records the newest such revision known. List learns
//     the cluster's last write with a linearizable fence (cache.go), waits
//     for the view to reach it, takes a page of ids under the read lock and
//     reads those articles from etcd at at, so they are exactly the
//     versions the page's positions were taken from.
//
// Caveats: memory grows with the corpus on every server (each article's
// order keys, which hold its case-folded title, plus its authors, tags and
// source: BENCHMARKS.md has the figure), and Open reads every article once.
// A List waits for this server's watch to reach the cluster's last write,
// however long that takes within the caller's deadline.

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/google/btree"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// indexDegree is the degree of the order trees.
const indexDegree = 32

// sparseSet is how much smaller than an order a filter's id set must be for
// a page to be collected from the set (sorted) rather than from a walk of
// the order.
const sparseSet = 16

// listIndex is the index of one prefix's articles. Its methods are safe
// for concurrent use.
type listIndex struct {
	// mu protects every field below.
	mu sync.RWMutex
	// orders holds the order keys of each order, by its digit.
	orders [numberOfOrder]*btree.BTreeG[string]
	// values holds, per indexed field (articles.IndexedField - 1), the ids
	// of each value.
	values [3]map[string]map[string]struct{}
	ids    map[string]*indexEntry
	// rev is the etcd revision of the last write applied; at (>= rev) is
	// the newest etcd revision at which etcd's article keys are known to be
	// the index's state.
	rev, at int64
}

// indexEntry is what the index holds of one article.
type indexEntry struct {
	keys [numberOfOrder]string
	// fields are the values of the indexed fields, by IndexedField - 1.
	fields [3][]string
}

func newListIndex() *listIndex {
	x := &listIndex{ids: make(map[string]*indexEntry)}
	for i := range x.orders {
		x.orders[i] = btree.NewOrderedG[string](indexDegree)
	}
	for i := range x.values {
		x.values[i] = make(map[string]map[string]struct{})
	}
	return x
}

// entryOf returns a's entry.
func entryOf(a *articlesv1.Article) *indexEntry {
	e := &indexEntry{}
	for i, o := range orders {
		e.keys[i] = orderKey(o, o.SortKey(a), a.GetId())
	}
	e.fields[articles.FieldAuthor-1] = slices.Clone(a.GetAuthors())
	e.fields[articles.FieldTag-1] = slices.Clone(a.GetTags())
	if src := a.GetSource(); src != "" {
		e.fields[articles.FieldSource-1] = []string{src}
	}
	return e
}

// putLocked adds a, replacing the entries of its previous version. x.mu
// must be held for writing.
func (x *listIndex) putLocked(a *articlesv1.Article) {
	id := a.GetId()
	x.removeLocked(id)
	e := entryOf(a)
	x.ids[id] = e
	for i, k := range e.keys {
		x.orders[i].ReplaceOrInsert(k)
	}
	for f, vs := range e.fields {
		for _, v := range vs {
			set := x.values[f][v]
			if set == nil {
				set = make(map[string]struct{})
				x.values[f][v] = set
			}
			set[id] = struct{}{}
		}
	}
}

// removeLocked drops id's entries. x.mu must be held for writing.
func (x *listIndex) removeLocked(id string) {
	e, ok := x.ids[id]
	if !ok {
		return
	}
	delete(x.ids, id)
	for i, k := range e.keys {
		x.orders[i].Delete(k)
	}
	for f, vs := range e.fields {
		for _, v := range vs {
			if set := x.values[f][v]; set != nil {
				delete(set, id)
				if len(set) == 0 {
					delete(x.values[f], v)
				}
			}
		}
	}
}

// apply applies the events of the next etcd revisions, up to rev, in
// revision order; dropped names articles whose events could not be
// decoded, which leave the index (Get reports them).
func (x *listIndex) apply(evs []*articlesv1.ArticleEvent, dropped []string, rev int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, ev := range evs {
		switch ev.GetType() {
		case articlesv1.ArticleEvent_CREATED, articlesv1.ArticleEvent_UPDATED:
			x.putLocked(ev.GetArticle())
		case articlesv1.ArticleEvent_DELETED:
			x.removeLocked(ev.GetArticle().GetId())
		}
	}
	for _, id := range dropped {
		x.removeLocked(id)
	}
	x.rev = max(x.rev, rev)
	x.at = max(x.at, x.rev)
}

// replace makes x hold what y holds; y is not used afterwards.
func (x *listIndex) replace(y *listIndex) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.orders, x.values, x.ids, x.rev, x.at = y.orders, y.values, y.ids, y.rev, y.at
}

// fenced records that the cluster's last article write, read
// linearizably at etcd revision at, was at etcd revision last: once the
// index has applied last, it is etcd's state at at as well.
func (x *listIndex) fenced(last, at int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.rev >= last {
		x.at = max(x.at, at)
	}
}

// page returns the ids of up to n articles that may match q (their
// authors, tags and source match; the rest of the filter is the caller's
// to check), in q's order from the order key start on, with the key of
// the last, whether more follow, and the etcd revision at which etcd holds
// exactly these articles at these positions.
func (x *listIndex) page(q articles.Query, start string, n int) (ids []string, last string, more bool, rev int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	members, _ := articles.SmallestSet(context.Background(), q.Filter, func(_ context.Context, c articles.Condition) (map[string]struct{}, error) {
		if set := x.values[c.Field-1][c.Value]; set != nil {
			return set, nil
		}
		return map[string]struct{}{}, nil
	})
	conds := q.Filter.IndexedConditions()
	match := func(id string) bool {
		if len(conds) == 0 {
			return true
		}
		e := x.ids[id]
		if e == nil {
			return false
		}
		for _, c := range conds {
			if !slices.Contains(e.fields[c.Field-1], c.Value) {
				return false
			}
		}
		return true
	}
	tree := x.orders[q.Order]
	if members != nil && len(members)*sparseSet < tree.Len() {
		keys := make([]string, 0, len(members))
		for id := range members {
			if k := x.ids[id].keys[q.Order]; k >= start && match(id) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		if len(keys) > n {
			keys, more = keys[:n], true
		}
		for _, k := range keys {
			ids = append(ids, orderID(q.Order, k))
			last = k
		}
		return ids, last, more, x.at
	}
	tree.AscendGreaterOrEqual(start, func(k string) bool {
		id := orderID(q.Order, k)
		if !match(id) {
			return true
		}
		if len(ids) == n {
			more = true
			return false
		}
		ids, last = append(ids, id), k
		return true
	})
	return ids, last, more, x.at
}

// orderID returns the id at the end of order o's key k (orderKey).
func orderID(o articles.Order, k string) string {
	end := escapeEnd
	if o.Desc() {
		end = string([]byte{^escapeEnd[0], ^escapeEnd[1]})
	}
	// Inside an escaped part every 0x00 is followed by 0xFF, so the
	// first end marker ends it.
	i := strings.Index(k, end)
	if i < 0 {
		return ""
	}
	id := []byte(k[i+len(end):])
	if o.Desc() {
		for j := range id {
			id[j] = ^id[j]
		}
	}
	return string(id)
}

// hasTimeFilter reports whether f has conditions the index cannot check.
func hasTimeFilter(f articles.Filter) bool {
	return !f.PublishedAfter.IsZero() || !f.PublishedBefore.IsZero()
}

// buildIndex reads every article of the prefix at etcd revision rev, in
// ranges of listPage, and returns their index.
func (s *Store) buildIndex(ctx context.Context, rev int64) (*listIndex, error) {
	x := newListIndex()
	prefix := s.prefix + articlePart
	start, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	for {
		resp, err := s.cli.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(listPage), clientv3.WithRev(rev))
		if err != nil {
			return nil, etcdErr(ctx, "build the list index", err)
		}
		for _, kv := range resp.Kvs {
			a, err := decodeArticle(kv.Value, kv.ModRevision)
			if err != nil {
				continue // a corrupt value: Get reports it
			}
			x.putLocked(a)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	x.rev, x.at = rev, rev
	return x, nil
}
