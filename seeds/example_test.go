package seeds_test

import (
	"fmt"

	"github.com/seed9c1868aa/articles/seeds"
)

func ExampleParse() {
	page := `Connect with us

A short piece

Avatar photo

The first paragraph.


The second paragraph.

from our partner RIAC

Continue Reading
`
	articles, err := seeds.Parse(page)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range articles {
		fmt.Printf("title: %s\nsource: %s\nbody:\n%s\n", a.GetTitle(), a.GetSource(), a.GetBody())
	}
	// Output:
	// title: A short piece
	// source: RIAC
	// body:
	// The first paragraph.
	//
	// The second paragraph.
}

func ExampleArticles() {
	articles, err := seeds.Articles()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range articles {
		fmt.Println(a.GetTitle(), a.GetAuthors())
	}
	// Output:
	// The Ukrainian crisis and the long-range international repercussions [Giancarlo Elia Valori]
	// Don’t listen to the naysayers, the ICC’s arrest warrant for Putin is a game changer []
	// How Russia Can Build Relations With Friendly Countries []
	// Amid Ukraine Crisis, Russia Deepens Strategic Cooperation With China []
}
