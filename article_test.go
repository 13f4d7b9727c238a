package articles_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestRequestHash: the hash covers the settable fields only, and does not
// change the article it hashes.
func TestRequestHash(t *testing.T) {
	t.Parallel()
	base := &articlesv1.Article{
		Slug: "a-b", Title: "A b", Body: "Text.", Authors: []string{"Ann"}, Tags: []string{"go"},
		Labels: map[string]string{"k": "v", "x": "y"}, PublishTime: timestamppb.New(timestamppb.Now().AsTime()),
	}
	hash := func(a *articlesv1.Article) []byte {
		t.Helper()
		before := proto.Clone(a)
		h, err := articles.RequestHash(a)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(a, before) {
			t.Errorf("RequestHash changed its argument: %v, was %v", a, before)
		}
		return h
	}
	want := hash(base)
	withOutput := proto.Clone(base).(*articlesv1.Article)
	withOutput.Id, withOutput.Etag, withOutput.Revision, withOutput.WordCount = "01J", "x", 7, 2
	withOutput.CreateTime, withOutput.UpdateTime = timestamppb.Now(), timestamppb.Now()
	if got := hash(withOutput); !bytes.Equal(got, want) {
		t.Errorf("output-only fields changed the hash: %x, want %x", got, want)
	}
	changes := map[string]func(a *articlesv1.Article){
		"title":  func(a *articlesv1.Article) { a.Title = "A c" },
		"body":   func(a *articlesv1.Article) { a.Body += " More." },
		"tags":   func(a *articlesv1.Article) { a.Tags = append(a.Tags, "rust") },
		"labels": func(a *articlesv1.Article) { a.Labels["k"] = "w" },
	}
	for name, change := range changes {
		a := proto.Clone(base).(*articlesv1.Article)
		change(a)
		if got := hash(a); bytes.Equal(got, want) {
			t.Errorf("changing %s left the hash as it was", name)
		}
	}
}
