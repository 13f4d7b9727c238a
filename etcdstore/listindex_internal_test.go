package etcdstore

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// BenchmarkListIndexMemory reports the heap the list index takes per
// article (B/article), for articles with a title of about 40 bytes, one
// author, two tags and a source.
func BenchmarkListIndexMemory(b *testing.B) {
	const n = 100_000
	ids := articles.NewIDSource()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		x := newListIndex()
		for i := range n {
			t := base.Add(time.Duration(i) * time.Minute)
			id, err := ids.Next(t)
			if err != nil {
				b.Fatal(err)
			}
			x.putLocked(&articlesv1.Article{
				Id:          id,
				Title:       fmt.Sprintf("An article about subject number %d", i),
				Authors:     []string{fmt.Sprintf("Author %d", i%500)},
				Tags:        []string{fmt.Sprintf("tag%d", i%50), fmt.Sprintf("topic%d", i%7)},
				Source:      "wire",
				CreateTime:  timestamppb.New(t),
				PublishTime: timestamppb.New(t.Add(time.Hour)),
			})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/article")
		runtime.KeepAlive(x)
	}
}
