package store_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// historyWrites imports 150 articles (revisions 1-150), updates the first
// 120 (151-270) and deletes the first 10 (271-280), and returns the live
// articles as the store returned them, by id.
func historyWrites(t *testing.T, db *store.DB) map[string]*articlesv1.Article {
	t.Helper()
	ctx := context.Background()
	var batch []*articlesv1.Article
	for i := range 150 {
		batch = append(batch, art(fmt.Sprintf("h%03d", i)))
	}
	if _, err := db.Import(ctx, batch); err != nil {
		t.Fatal(err)
	}
	live := map[string]*articlesv1.Article{}
	var ids []string
	err := db.List(ctx, articles.Query{Order: articles.OrderTitle}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		live[a.GetId()] = a
		ids = append(ids, a.GetId())
		return nil
	})
	if err != nil || len(ids) != 150 {
		t.Fatalf("List = %d articles, %v", len(ids), err)
	}
	for _, id := range ids[:120] {
		a, err := db.Update(ctx, id, "", func(a *articlesv1.Article) error {
			a.Body = strings.Repeat("updated ", 50)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		live[id] = a
	}
	for _, id := range ids[:10] {
		if err := db.Delete(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		delete(live, id)
	}
	return live
}

// checkLive fails unless db holds exactly the articles of live.
func checkLive(t *testing.T, db *store.DB, live map[string]*articlesv1.Article) {
	t.Helper()
	ctx := context.Background()
	n := 0
	err := db.List(ctx, articles.Query{Order: articles.OrderCreateTime}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		n++
		if want := live[a.GetId()]; !proto.Equal(a, want) {
			t.Errorf("List: %v, want %v", a, want)
		}
		return nil
	})
	if err != nil || n != len(live) {
		t.Errorf("List = %d articles, %v; want %d", n, err, len(live))
	}
	for id, want := range live {
		got, err := db.Get(ctx, id)
		if err != nil || !proto.Equal(got, want) {
			t.Errorf("Get(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
}

// waitCompacted waits (bounded) until db has compacted up to rev.
func waitCompacted(t *testing.T, db *store.DB, rev int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); db.CompactedRevision() < rev; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("compacted revision %d, want %d", db.CompactedRevision(), rev)
		}
	}
}

func TestCompactionKeepsCurrentVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t, store.WithHistory(5))
	live := historyWrites(t, db)
	waitCompacted(t, db, 275)
	checkLive(t, db, live)

	// Left: the 140 live articles' current versions and the last 5 deletes;
	// every superseded version and older delete is gone.
	if n, err := db.EventCount(); err != nil || n != 145 {
		t.Errorf("events = %d, %v; want 145", n, err)
	}
	if _, err := db.Changes(ctx, 275, 0); !errors.Is(err, articles.ErrCompacted) {
		t.Errorf("Changes(275) = %v, want ErrCompacted", err)
	}
	evs, err := db.Changes(ctx, 276, 0)
	if err != nil || len(evs) != 5 {
		t.Fatalf("Changes(276) = %d events, %v; want 5", len(evs), err)
	}
	for i, e := range evs {
		if e.GetType() != articlesv1.ArticleEvent_DELETED || e.GetRevision() != int64(276+i) {
			t.Errorf("event %d = %v, want the delete of revision %d", i, e, 276+i)
		}
	}

	// Writes after compaction still supersede the kept versions.
	a := mustCreate(t, db, art("after"))
	live[a.GetId()] = a
	waitCompacted(t, db, 276)
	checkLive(t, db, live)
}

func TestArticleContentStoredOnce(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	body := strings.Repeat("lorem ipsum ", 2000)
	for i := range 40 {
		a := art(fmt.Sprintf("big%d", i))
		a.Body = body
		mustCreate(t, db, a)
	}
	sizes, err := db.BucketSizes()
	if err != nil {
		t.Fatal(err)
	}
	// 40 ids and revisions fit in a few pages; a copy of the bodies
	// would take 40 x 24 KB.
	if got, max := sizes["articles"], int64(len(body)); got > max {
		t.Errorf("articles bucket = %d bytes, want at most %d: it holds content", got, max)
	}
	if got, min := sizes["events"], int64(40*len(body)); got < min {
		t.Errorf("events bucket = %d bytes, want at least %d: the content is there", got, min)
	}
}

// TestOpenUpgradesArticleCopies turns a file into the layout of schema
// version 3 (a copy of each article in the articles bucket; compacted
// history without its current versions) and checks that Open upgrades it
// with nothing lost.
func TestOpenUpgradesArticleCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := store.Open(path, store.WithHistory(5))
	if err != nil {
		t.Fatal(err)
	}
	live := historyWrites(t, db)
	waitCompacted(t, db, 275)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	editFile(t, path, func(tx *bbolt.Tx) error {
		arts, events := tx.Bucket([]byte("articles")), tx.Bucket([]byte("events"))
		copies := map[string][]byte{}
		var old [][]byte
		err := arts.ForEach(func(id, rev []byte) error {
			e := new(articlesv1.ArticleEvent)
			if err := proto.Unmarshal(events.Get(rev), e); err != nil {
				return err
			}
			v, err := proto.MarshalOptions{Deterministic: true}.Marshal(e.GetArticle())
			if err != nil {
				return err
			}
			copies[string(id)] = v
			if binary.BigEndian.Uint64(rev) <= 275 {
				old = append(old, rev)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for id, v := range copies {
			if err := arts.Put([]byte(id), v); err != nil {
				return err
			}
		}
		for _, rev := range old {
			if err := events.Delete(rev); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, 3))
	})

	db = mustOpenPath(t, path, store.WithHistory(5))
	checkLive(t, db, live)
	if rev, err := db.Revision(ctx); err != nil || rev != 280 {
		t.Errorf("Revision = %d, %v; want 280", rev, err)
	}
	if evs, err := db.Changes(ctx, 276, 0); err != nil || len(evs) != 5 {
		t.Errorf("Changes(276) = %d events, %v; want 5", len(evs), err)
	}
	if n, err := db.EventCount(); err != nil || n != 145 {
		t.Errorf("events = %d, %v; want 145", n, err)
	}
	for id := range live {
		a, err := db.Update(ctx, id, "", func(a *articlesv1.Article) error { a.Title = "after the upgrade"; return nil })
		if err != nil {
			t.Fatal(err)
		}
		live[id] = a
		break
	}
	checkLive(t, db, live)
}
