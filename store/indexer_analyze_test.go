package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestAnalyzeAllSpareWorker checks that analyzeAll gives every article its
// analysis and returns from done whatever its spare worker is let do:
// never work, work throughout, or work in rounds ended by pauses.
func TestAnalyzeAllSpareWorker(t *testing.T) {
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
	never := func(stop <-chan struct{}) <-chan struct{} {
		<-stop
		return nil
	}
	always := func(stop <-chan struct{}) <-chan struct{} {
		return make(chan struct{}) // never closed: no pause
	}
	rounds := 0
	pausing := func(stop <-chan struct{}) <-chan struct{} {
		rounds++ // only the spare worker calls it
		pause := make(chan struct{})
		if rounds%2 == 0 {
			close(pause) // pause at once
		}
		return pause
	}
	for _, tc := range []struct {
		name    string
		workers int
		quiet   func(stop <-chan struct{}) <-chan struct{}
	}{
		{"NoSpare", 2, nil},
		{"SpareNeverQuiet", 1, never},
		{"SpareAlwaysQuiet", 1, always},
		{"SparePausing", 1, pausing},
		{"OnlySpareBesidesOne", 0, always},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, done := analyzeAll(len(arts), func(i int) (*articlesv1.Article, error) { return arts[i], nil }, tc.workers, tc.quiet)
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

// TestWritesQuietDuringIndexTx checks that the spare analysis worker may
// work while an indexing transaction holds writers back, and must pause
// when it ends.
func TestWritesQuietDuringIndexTx(t *testing.T) {
	t.Parallel()
	db, err := Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	if running, begins := db.indexTx.state(); running != nil || begins == nil {
		t.Fatalf("no transaction yet: state() = %v, %v; want nil, a channel", running, begins)
	}
	_, begins := db.indexTx.state()
	db.indexTx.begin()
	select {
	case <-begins:
	default:
		t.Fatal("begin did not close the channel that announces it")
	}
	stop := make(chan struct{})
	defer close(stop)
	pause := db.writesQuiet(stop) // at once: a transaction runs
	if pause == nil {
		t.Fatal("writesQuiet returned nil while an indexing transaction runs")
	}
	select {
	case <-pause:
		t.Fatal("the pause channel is closed while the transaction runs")
	default:
	}
	db.indexTx.end()
	select {
	case <-pause:
	case <-time.After(10 * time.Second):
		t.Fatal("the pause channel is still open after the transaction ended")
	}
	if running, _ := db.indexTx.state(); running != nil {
		t.Error("state() reports a transaction after end")
	}
}
