package fulltext

import (
	"bytes"
	"fmt"
	"testing"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestAnalyzeAll checks that analyzeAll gives every article its analysis,
// whatever the number of workers.
func TestAnalyzeAll(t *testing.T) {
	t.Parallel()
	arts := make([]*articlesv1.Article, 200)
	for i := range arts {
		if i%7 == 3 {
			continue // a delete
		}
		arts[i] = &articlesv1.Article{
			Title: fmt.Sprintf("Heading %d", i),
			Body:  fmt.Sprintf("The body of article %d mentions walruses %d times, and pelicans.", i, i%5),
		}
	}
	for _, tc := range []struct {
		name    string
		workers int
	}{
		{"OneWorker", 1},
		{"TwoWorkers", 2},
		{"NoWorkersMeansOne", 0},
		{"MoreWorkersThanArticles", 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, done := analyzeAll(len(arts), func(i int) (*articlesv1.Article, error) { return arts[i], nil }, tc.workers)
			for i, a := range arts {
				gotA, got, err := wait(i)
				if gotA != a || err != nil {
					t.Fatalf("article %d: wait returns %p, %v; want %p, nil", i, gotA, err, a)
				}
				if a == nil {
					if got != nil {
						t.Errorf("article %d is a delete but has an analysis", i)
					}
					continue
				}
				want := analyze(a)
				if !got.matches(a) || got.titleLen != want.titleLen || got.bodyLen != want.bodyLen || len(got.ids) != len(want.ids) || !bytes.Equal(got.buf, want.buf) {
					t.Errorf("article %d: analysis differs from analyze's", i)
				}
			}
			done()
		})
	}
}
