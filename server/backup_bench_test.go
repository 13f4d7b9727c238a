package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// BenchmarkBackup copies a store file of about 64 MiB three ways in one
// run: bbolt's own Tx.WriteTo (the baseline), the store's Backup, and the
// Backup RPC over a loopback TCP connection to a client that discards the
// bytes. MB/s is the file's size per copy.
func BenchmarkBackup(b *testing.B) {
	if current.name != "bbolt" {
		b.Skip("bbolt-specific")
	}
	path := filepath.Join(b.TempDir(), "bench.db")
	st, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	body := strings.Repeat("Words that fill an article of a few kilobytes. ", 90)
	for batch := range 16 {
		arts := make([]*articlesv1.Article, 500)
		for i := range arts {
			arts[i] = &articlesv1.Article{
				Slug:  fmt.Sprintf("bench-%d-%d", batch, i),
				Title: fmt.Sprintf("Bench %d %d", batch, i),
				Body:  body,
			}
		}
		if _, err := st.Import(ctx, arts); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}

	b.Run("bbolt", func(b *testing.B) {
		bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer bdb.Close()
		for b.Loop() {
			err := bdb.View(func(tx *bbolt.Tx) error {
				b.SetBytes(tx.Size())
				_, err := tx.WriteTo(io.Discard)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})

	st, err = store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			err := st.Backup(ctx, io.Discard, func(_, size int64) error { b.SetBytes(size); return nil })
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("grpc", func(b *testing.B) {
		srv, err := server.New(ctx, st)
		if err != nil {
			b.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		gs := srv.GRPCServer()
		go func() { _ = gs.Serve(lis) }()
		defer srv.GracefulStop(ctx)
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		rpc := articlesv1.NewArticleServiceClient(cc)
		for b.Loop() {
			stream, err := rpc.Backup(ctx, &articlesv1.BackupRequest{})
			if err != nil {
				b.Fatal(err)
			}
			for first := true; ; first = false {
				msg, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if first {
					b.SetBytes(msg.GetSize())
				}
			}
		}
	})
}
