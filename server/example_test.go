package server_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// Example serves a store over gRPC (here on an in-memory listener; a
// daemon would use net.Listen), creates an article and shuts down.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "articles-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "articles.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close() // after GracefulStop: the server does not own the store

	srv, err := server.New(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	gs := srv.GRPCServer()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()

	conn, err := grpc.NewClient("passthrough:///example",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	c := articlesv1.NewArticleServiceClient(conn)

	a, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{
		Title: "Hello, World!",
		Body:  "The first words.\n\nAnd then some more.",
		Tags:  []string{"Greeting", "greeting"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s | %s | %v | %d words\n", a.GetSlug(), a.GetSummary(), a.GetTags(), a.GetWordCount())

	_, err = c.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: "no-such-article"}})
	fmt.Println(status.Code(err))

	conn.Close()
	srv.GracefulStop(ctx)
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output:
	// hello-world | The first words. | [greeting] | 7 words
	// NotFound
}
