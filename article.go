package articles

import (
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Settable returns a copy of a without its output-only fields (id,
// create_time, update_time, revision, etag, word_count): what a client
// controls. Backends compare it to tell an unchanged import from an update,
// and hash it to tell a retried create from a reused request id.
func Settable(a *articlesv1.Article) *articlesv1.Article {
	c := proto.Clone(a).(*articlesv1.Article)
	c.Id = ""
	c.CreateTime = nil
	c.UpdateTime = nil
	c.Revision = 0
	c.Etag = ""
	c.WordCount = 0
	return c
}
