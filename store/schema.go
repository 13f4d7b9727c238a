package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
)

// The database's map. Every bucket is top level and created, all at once, in
// the transaction that first opens the file. Integers in keys are 8-byte
// big-endian so that byte order is numeric order; values are marshalled
// protobuf unless said otherwise. "esc(x)" is the order-preserving escape of
// a variable-length key part (see escapeKey): 0x00 becomes 0x00 0xFF and the
// part ends with 0x00 0x01, so esc(a)+b sorts exactly as the pair (a, b).
//
//	meta                 schema_version -> uint64 (schemaVersion)
//	                     revision       -> uint64, the last committed revision
//	                     compacted      -> uint64, the newest revision compaction removed (0: none)
//	                     token_key      -> 32 random bytes, made at first Open
//	articles             id -> uint64, the revision of the article's current version (its event)
//	idx_slug             slug -> id (unique: one id per slug)
//	idx_publish_time     esc(OrderPublishTime.SortKey(a)) + id -> empty
//	idx_create_time      esc(OrderCreateTime.SortKey(a)) + id -> empty
//	idx_title            esc(OrderTitle.SortKey(a)) + id -> empty
//	idx_author           esc(author) + id -> empty, one key per author
//	idx_tag              esc(tag) + id -> empty, one key per tag
//	idx_source           esc(source) + id -> empty (articles with a source only)
//	events               uint64 revision -> articlesv1.ArticleEvent: the change log, and the only
//	                     copy of each article's content (events.go, compact.go)
//	request_ids          request_id -> id (26 bytes) + sha256 of the request article (32 bytes)
//
// The order indexes hold exactly articles.Order.SortKey, so walking one
// forwards is the ascending order of the query and backwards the descending
// one, ties broken by id, as package articles defines. Every write updates
// the article's revision, all its index keys, its event and the revision
// counter in one bbolt transaction, so they never disagree after a crash.
var (
	bucketMeta        = []byte("meta")
	bucketArticles    = []byte("articles")
	bucketSlug        = []byte("idx_slug")
	bucketPublishTime = []byte("idx_publish_time")
	bucketCreateTime  = []byte("idx_create_time")
	bucketTitle       = []byte("idx_title")
	bucketAuthor      = []byte("idx_author")
	bucketTag         = []byte("idx_tag")
	bucketSource      = []byte("idx_source")
	bucketEvents      = []byte("events")
	bucketRequestIDs  = []byte("request_ids")
)

// legacyBuckets are the buckets of the full-text index that files of
// schema versions 1 and 2 hold and initSchema drops: the index lives in
// a file of its own (package fulltext).
var legacyBuckets = [][]byte{
	[]byte("search_postings"), []byte("search_docs"),
	[]byte("search_segments"), []byte("search_index"),
}

// allBuckets is every bucket Open creates.
var allBuckets = [][]byte{
	bucketMeta, bucketArticles, bucketSlug,
	bucketPublishTime, bucketCreateTime, bucketTitle,
	bucketAuthor, bucketTag, bucketSource,
	bucketEvents, bucketRequestIDs,
}

// Keys of the meta bucket.
var (
	metaSchemaVersion = []byte("schema_version")
	metaRevision      = []byte("revision")
	metaCompacted     = []byte("compacted")
	metaTokenKey      = []byte("token_key")
	// metaIndexed is the indexed revision of the full-text index of
	// schema version 2, which initSchema drops.
	metaIndexed = []byte("indexed")
)

// schemaVersion is the layout this package reads and writes. Raise it when
// the map above changes incompatibly; an older program then refuses the file
// instead of misreading it. initSchema upgrades a file of an older version:
// it drops the full-text index of versions 1 and 2 (legacyBuckets,
// metaIndexed) and turns the article copies of versions up to 3 into
// revisions (upgradeArticles).
const schemaVersion = 4

// articlesAsRevisions is the first schema version whose articles bucket
// maps ids to revisions; older ones hold a copy of each article there.
const articlesAsRevisions = 4

// initSchema creates the buckets and meta keys a new file lacks and checks
// the schema version of an existing one. newKey makes the token key of a new
// database.
func initSchema(tx *bbolt.Tx, newKey func() ([]byte, error)) error {
	if err := dropSearchIndex(tx); err != nil {
		return err
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(metaSchemaVersion); v != nil {
		got, ok := decodeUint(v)
		if !ok {
			return fmt.Errorf("corrupt schema version in meta bucket")
		}
		if got > schemaVersion {
			return fmt.Errorf("database schema version %d is newer than this program supports (%d): upgrade the program", got, schemaVersion)
		}
		if got < articlesAsRevisions {
			if err := upgradeArticles(tx); err != nil {
				return fmt.Errorf("upgrade schema version %d: %w", got, err)
			}
		}
		if got < schemaVersion {
			if err := meta.Put(metaSchemaVersion, encodeUint(schemaVersion)); err != nil {
				return err
			}
		}
	} else if err := meta.Put(metaSchemaVersion, encodeUint(schemaVersion)); err != nil {
		return err
	}
	if meta.Get(metaTokenKey) == nil {
		key, err := newKey()
		if err != nil {
			return fmt.Errorf("make token key: %w", err)
		}
		if err := meta.Put(metaTokenKey, key); err != nil {
			return err
		}
	}
	return nil
}

// dropSearchIndex drops the full-text index that files of older schema
// versions keep beside the articles.
func dropSearchIndex(tx *bbolt.Tx) error {
	for _, name := range legacyBuckets {
		if tx.Bucket(name) == nil {
			continue
		}
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("drop bucket %s: %w", name, err)
		}
	}
	if meta := tx.Bucket(bucketMeta); meta != nil {
		return meta.Delete(metaIndexed)
	}
	return nil
}

// upgradeArticles turns an articles bucket of whole articles into one of
// revisions: each article's content stays in the event of its revision,
// which it is written to when compaction has removed that event. A value
// of 8 bytes is a revision already: an article holds at least its id.
func upgradeArticles(tx *bbolt.Tx) error {
	arts, events := tx.Bucket(bucketArticles), tx.Bucket(bucketEvents)
	type current struct {
		id, rev []byte
	}
	var all []current
	err := arts.ForEach(func(k, v []byte) error {
		if len(v) == 8 {
			return nil
		}
		// The revision (field 14) is all it needs of the article.
		f, ok := eventField(v, 14, protowire.VarintType)
		n, l := protowire.ConsumeVarint(f)
		if !ok || l < 0 || n == 0 {
			return fmt.Errorf("corrupt article %q: no revision", k)
		}
		rev := encodeUint(n)
		if events.Get(rev) == nil {
			if err := putEvent(&batch{tx: tx}, articlesv1.ArticleEvent_UPDATED, int64(n), bytes.Clone(v)); err != nil {
				return err
			}
		}
		all = append(all, current{id: bytes.Clone(k), rev: rev})
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range all {
		if err := arts.Put(c.id, c.rev); err != nil {
			return err
		}
	}
	return nil
}

// encodeUint returns the 8-byte big-endian form of n, used for every integer
// key and meta value.
func encodeUint(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// decodeUint reads an 8-byte big-endian integer.
func decodeUint(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// metaUint reads an integer meta value; a missing one is 0.
func metaUint(tx *bbolt.Tx, key []byte) (uint64, error) {
	v := tx.Bucket(bucketMeta).Get(key)
	if v == nil {
		return 0, nil
	}
	n, ok := decodeUint(v)
	if !ok {
		return 0, fmt.Errorf("corrupt meta value %s", key)
	}
	return n, nil
}
