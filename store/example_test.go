package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := store.Open(filepath.Join(dir, "articles.db"), store.WithHistory(1000))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	for _, title := range []string{"Beta", "Alpha"} {
		a := &articlesv1.Article{Title: title, Slug: "slug-" + title}
		if _, err := db.Create(ctx, a, ""); err != nil {
			log.Fatal(err)
		}
	}
	_ = db.List(ctx, articles.Query{Order: articles.OrderTitle}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		fmt.Println(a.GetRevision(), a.GetTitle())
		return nil
	})
	events, _ := db.Changes(ctx, 1, 10)
	for _, e := range events {
		fmt.Println(e.GetRevision(), e.GetType(), e.GetArticle().GetSlug())
	}
	// Output:
	// 2 Alpha
	// 1 Beta
	// 1 CREATED slug-Beta
	// 2 CREATED slug-Alpha
}
