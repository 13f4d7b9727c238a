package store

import (
	"testing"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// checkPeek checks that peekEvent finds the id proto.Unmarshal does, in
// every event that proto.Unmarshal accepts.
func checkPeek(t *testing.T, v []byte) {
	t.Helper()
	e := new(articlesv1.ArticleEvent)
	if proto.Unmarshal(v, e) != nil {
		return
	}
	id, err := peekEvent(v)
	if err != nil || id != e.GetArticle().GetId() {
		t.Errorf("peekEvent(%x) = %q, %v; proto.Unmarshal finds id %q", v, id, err, e.GetArticle().GetId())
	}
}

// event encodes an event as putEvent does.
func event(typ articlesv1.ArticleEvent_Type, rev int64, a *articlesv1.Article) []byte {
	article, err := proto.Marshal(a)
	if err != nil {
		panic(err)
	}
	v := protowire.AppendTag(nil, eventFieldType, protowire.VarintType)
	v = protowire.AppendVarint(v, uint64(typ))
	v = protowire.AppendTag(v, eventFieldRevision, protowire.VarintType)
	v = protowire.AppendVarint(v, uint64(rev))
	v = protowire.AppendTag(v, eventFieldArticle, protowire.BytesType)
	return protowire.AppendBytes(v, article)
}

func TestPeekEvent(t *testing.T) {
	t.Parallel()
	full := &articlesv1.Article{Id: "01JA", Slug: "s", Title: "Title", Body: "Body text", Tags: []string{"x"}, Labels: map[string]string{"k": "v"}}
	created := event(articlesv1.ArticleEvent_CREATED, 7, full)
	deleted := event(articlesv1.ArticleEvent_DELETED, 8, &articlesv1.Article{Id: "01JB", Slug: "t"})
	noID := event(articlesv1.ArticleEvent_UPDATED, 9, &articlesv1.Article{Slug: "u"})
	// Two article fields merge: the second's id wins if it has one.
	merged := append(event(articlesv1.ArticleEvent_UPDATED, 9, full), event(articlesv1.ArticleEvent_UPDATED, 10, &articlesv1.Article{Id: "01JC"})...)
	keep := append(event(articlesv1.ArticleEvent_UPDATED, 9, full), event(articlesv1.ArticleEvent_UPDATED, 10, &articlesv1.Article{Title: "t"})...)
	for name, v := range map[string][]byte{
		"Created": created, "Deleted": deleted, "NoID": noID, "Merged": merged, "KeepFirstID": keep,
		"Empty": nil, "NoArticle": event(0, 1, nil)[:4],
	} {
		t.Run(name, func(t *testing.T) { checkPeek(t, v) })
	}
	if _, err := peekEvent(created[:len(created)-3]); err == nil {
		t.Error("peekEvent accepts a truncated event")
	}
}

func FuzzPeekEvent(f *testing.F) {
	f.Add(event(articlesv1.ArticleEvent_CREATED, 7, &articlesv1.Article{Id: "01JA", Body: "Body"}))
	f.Add(event(articlesv1.ArticleEvent_DELETED, 8, &articlesv1.Article{Id: "01JB"}))
	f.Fuzz(checkPeek)
}
