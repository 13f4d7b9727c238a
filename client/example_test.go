package client_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Each example runs against a real server on an in-memory listener; a
// program would start with client.New(ctx, "localhost:50051") instead.

func ExampleClient_Get() {
	c, cleanup := exampleEnv()
	defer cleanup()
	ctx := context.Background()

	created, err := c.Create(ctx, &articlesv1.Article{
		Title:   "The New Silk Road",
		Body:    "Trade routes are back.\n\nThey never really left.",
		Authors: []string{"Ann Lee"},
	}, "")
	if err != nil {
		log.Fatal(err)
	}

	a, err := c.Get(ctx, created.GetId())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.GetSlug())
	fmt.Println(a.GetSummary())
	fmt.Println(a.GetWordCount(), "words")

	// Errors are gRPC status errors.
	_, err = c.GetBySlug(ctx, "no-such-article")
	fmt.Println(status.Code(err) == codes.NotFound)
	// Output:
	// the-new-silk-road
	// Trade routes are back.
	// 8 words
	// true
}

func ExampleMinRevision() {
	c, cleanup := exampleEnv()
	defer cleanup()
	ctx := context.Background()

	created, err := c.Create(ctx, &articlesv1.Article{Title: "Read your writes", Body: "Through any server."}, "")
	if err != nil {
		log.Fatal(err)
	}
	// Any server of the cluster answers once it has seen this write,
	// without asking etcd for its latest revision first.
	a, err := c.GetBySlug(ctx, created.GetSlug(), client.MinRevision(created.GetRevision()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.GetTitle())
	as, err := c.BatchGet(ctx, []string{created.GetId()}, client.MinRevision(created.GetRevision()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(as), "article")
	// Output:
	// Read your writes
	// 1 article
}

func ExampleWithReadYourWrites() {
	c, cleanup := exampleEnv(client.WithReadYourWrites())
	defer cleanup()
	ctx := context.Background()

	created, err := c.Create(ctx, &articlesv1.Article{Title: "A session", Body: "Mine to read."}, "")
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Delete(ctx, created.GetId(), ""); err != nil {
		log.Fatal(err)
	}
	// Every Get of this client now reads at least the delete's revision,
	// through whichever server it reaches.
	_, err = c.Get(ctx, created.GetId())
	fmt.Println(status.Code(err))
	fmt.Println(c.Revision() > created.GetRevision())
	// Output:
	// NotFound
	// true
}

func ExampleClient_Stream() {
	c, cleanup := exampleEnv()
	defer cleanup()
	ctx := context.Background()

	for _, title := range []string{"Alpha", "Beta", "Gamma"} {
		if _, err := c.Create(ctx, &articlesv1.Article{Title: title, Tags: []string{"greek"}}, ""); err != nil {
			log.Fatal(err)
		}
	}

	// Stream survives broken connections by itself; the loop only sees
	// articles, each once, or a final error.
	for a, err := range c.Stream(ctx, &articlesv1.StreamArticlesRequest{Tag: "greek", OrderBy: "title"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(a.GetTitle())
	}
	// Output:
	// Alpha
	// Beta
	// Gamma
}

func ExampleClient_Import() {
	c, cleanup := exampleEnv()
	defer cleanup()
	ctx := context.Background()

	batch := []*articlesv1.Article{
		{Title: "First", Body: "One."},
		{Body: "An article without a title is rejected."},
		{Title: "Second", Body: "Two."},
	}
	resp, err := c.Import(ctx, slices.Values(batch))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", resp.GetCreated())
	for _, f := range resp.GetFailures() {
		fmt.Println("rejected: index", f.GetIndex())
	}

	// Importing again upserts by slug: nothing new is created.
	resp, err = c.Import(ctx, slices.Values(batch[2:]))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", resp.GetCreated(), "unchanged:", resp.GetUnchanged())
	// Output:
	// created: 2
	// rejected: index 1
	// created: 0 unchanged: 1
}
