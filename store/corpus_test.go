package store_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles/internal/corpus"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// benchCorpus returns n articles of about 5 KB of Zipf-distributed words
// from a 50,000-word vocabulary, some 400 distinct words per article,
// which is what makes indexing costly.
func benchCorpus(n int) []*articlesv1.Article {
	r := rand.New(rand.NewPCG(7, 7))
	zipf := rand.NewZipf(r, 1.1, 1, 50000)
	arts := make([]*articlesv1.Article, n)
	for i := range arts {
		var b strings.Builder
		for b.Len() < 5000 {
			w := zipf.Uint64()
			b.WriteString(corpus.Word(w))
			b.WriteByte(' ')
			if w == 3 {
				b.WriteString(corpus.Word(4) + " ")
			}
			if r.IntN(100) == 0 {
				b.WriteString(".\n\n")
			}
		}
		if i%(n/5+1) == 0 {
			b.WriteString("zyzzyva")
		}
		a := art(fmt.Sprintf("bench-%d", i))
		a.Title = corpus.Word(zipf.Uint64()) + " " + corpus.Word(zipf.Uint64())
		a.Body = b.String()
		a.Summary, a.Labels = "", nil
		a.PublishTime = timestamppb.New(time.Unix(int64(i)*3600, 0))
		arts[i] = a
	}
	return arts
}
