package fulltext_test

import (
	"context"
	"math"
	"testing"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestImportIndexesLikeSingleWrites checks the import path of the search
// index (analysis in worker goroutines, postings written term by term at
// the end of the op) against articles created one by one: the same
// queries must find the same articles with the same scores, including
// when one import holds the same slug twice, or updates an article it
// created earlier in the same transaction.
func TestImportIndexesLikeSingleWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := searchCorpus()
	// An import where "dup" appears twice (created, then replaced within
	// the same write), and an existing article is updated.
	batch := append([]*articlesv1.Article{}, base...)
	batch = append(batch,
		searchArt("dup", "Draft heading", "An obsolete paragraph about walruses."),
		searchArt("dup", "Final heading", "The final text about pelicans and sanctions."),
		searchArt("title-sanctions", "Revised sanctions on Belgrade", "Ministers revised the measures."),
	)
	imported := mustOpen(t)
	if _, err := imported.Import(ctx, base[:5]); err != nil {
		t.Fatal(err)
	}
	resp, err := imported.Import(ctx, batch)
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("Import: %v, %v", resp, err)
	}

	// The same final state, one Create each.
	final := map[string]*articlesv1.Article{}
	var order []string
	for _, a := range batch {
		if _, ok := final[a.GetSlug()]; !ok {
			order = append(order, a.GetSlug())
		}
		final[a.GetSlug()] = a
	}
	single := mustOpen(t)
	for _, slug := range order {
		if _, err := single.Create(ctx, final[slug], ""); err != nil {
			t.Fatal(err)
		}
	}

	for _, query := range []string{"sanctions", "walruses", "pelicans", "heading", "draft", "revised", "market", "climate change", `"climate change"`, "sanct*", "ministers -revised"} {
		t.Run(query, func(t *testing.T) {
			got := scores(t, imported, query)
			want := scores(t, single, query)
			if len(got) != len(want) {
				t.Fatalf("imported store finds %v, single creates %v", got, want)
			}
			for slug, w := range want {
				if g, ok := got[slug]; !ok || math.Abs(g-w) > 1e-9 {
					t.Errorf("%s: score %v (found %v) after import, %v after single creates", slug, g, ok, w)
				}
			}
		})
	}
	if n := len(scores(t, imported, "walruses")); n != 0 {
		t.Errorf("the replaced version of dup is still found (%d results)", n)
	}
}

// scores returns every result of query by slug, with its score.
func scores(t *testing.T, db *testDB, query string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range doSearch(t, db, query, articles.Filter{}, 0, 1000).GetResults() {
		out[r.GetArticle().GetSlug()] = r.GetScore()
	}
	return out
}
