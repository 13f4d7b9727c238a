package client_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// floors records the min_revision of every GetArticle and BatchGetArticles
// request a server receives.
type floors struct {
	mu   sync.Mutex
	seen []int64
}

func (f *floors) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	f.mu.Lock()
	switch r := req.(type) {
	case *articlesv1.GetArticleRequest:
		f.seen = append(f.seen, r.GetMinRevision())
	case *articlesv1.BatchGetArticlesRequest:
		f.seen = append(f.seen, r.GetMinRevision())
	}
	f.mu.Unlock()
	return h(ctx, req)
}

// take returns the floors recorded since the last take.
func (f *floors) take() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.seen
	f.seen = nil
	return out
}

// TestReadYourWrites checks that a WithReadYourWrites client raises its
// floor with every write (from the reply's article or, for Delete and
// Import, the revision header) and with every article it reads, and sends
// it as min_revision on each read that does not set its own; a client
// without the option sends none.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	rec := &floors{}
	e := newClientEnv(t, []grpc.ServerOption{grpc.ChainUnaryInterceptor(rec.intercept)}, client.WithReadYourWrites())
	c := e.client
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got := c.Revision(); got != 0 {
		t.Fatalf("Revision of a new client = %d, want 0", got)
	}

	// reads sends each kind of read and returns the floors they carried.
	reads := func(id string, opts ...client.GetOption) []int64 {
		t.Helper()
		if _, err := c.Get(ctx, id, opts...); err != nil {
			t.Fatalf("Get: %v", err)
		}
		if _, err := c.BatchGet(ctx, []string{id}, opts...); err != nil {
			t.Fatalf("BatchGet: %v", err)
		}
		return rec.take()
	}

	a, err := c.Create(ctx, &articlesv1.Article{Title: "Mine"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Revision(); got != a.GetRevision() {
		t.Fatalf("Revision after Create = %d, want the article's %d", got, a.GetRevision())
	}
	if got := reads(a.GetId()); !slices.Equal(got, []int64{a.GetRevision(), a.GetRevision()}) {
		t.Fatalf("floors sent after Create = %v, want the create's revision %d twice", got, a.GetRevision())
	}
	a, err = c.Update(ctx, &articlesv1.Article{Id: a.GetId(), Title: "Mine, again"}, "title")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Revision(); got != a.GetRevision() {
		t.Fatalf("Revision after Update = %d, want the article's %d", got, a.GetRevision())
	}

	// Delete and Import reply without an article: the header carries it.
	gone, err := c.Create(ctx, &articlesv1.Article{Title: "Gone"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, gone.GetId(), ""); err != nil {
		t.Fatal(err)
	}
	afterDelete := c.Revision()
	if afterDelete <= gone.GetRevision() {
		t.Fatalf("Revision after Delete = %d, want above the created %d", afterDelete, gone.GetRevision())
	}
	if _, err := c.Import(ctx, slices.Values([]*articlesv1.Article{{Title: "Imported"}})); err != nil {
		t.Fatal(err)
	}
	afterImport := c.Revision()
	if afterImport <= afterDelete {
		t.Fatalf("Revision after Import = %d, want above %d", afterImport, afterDelete)
	}
	imported, err := c.GetBySlug(ctx, "imported", client.Linearizable())
	if err != nil {
		t.Fatal(err)
	}
	if imported.GetRevision() != afterImport {
		t.Fatalf("the import's header said %d, its article has revision %d", afterImport, imported.GetRevision())
	}
	rec.take()

	for _, tc := range []struct {
		name string
		opts []client.GetOption
		want int64
	}{
		{"session floor", nil, afterImport},
		{"own floor", []client.GetOption{client.MinRevision(3)}, 3},
		{"linearizable", []client.GetOption{client.Linearizable()}, 0},
	} {
		if got := reads(a.GetId(), tc.opts...); !slices.Equal(got, []int64{tc.want, tc.want}) {
			t.Errorf("%s: floors sent = %v, want %d twice", tc.name, got, tc.want)
		}
	}

	// Another client's write, once this one has read it, raises the
	// floor: reads never go back in time. That client, without the
	// option, sends no floor and keeps none.
	plain, err := client.New(ctx, "passthrough:///bufnet", client.WithDialOptions(grpc.WithContextDialer(e.dialer(nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	newer, err := plain.Update(ctx, &articlesv1.Article{Id: a.GetId(), Title: "Theirs"}, "title")
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.Revision(); got != 0 {
		t.Fatalf("Revision of a client without the option = %d, want 0", got)
	}
	if _, err := plain.Get(ctx, a.GetId()); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []int64{0}) {
		t.Fatalf("a client without the option sent floors %v, want 0", got)
	}
	if _, err := c.Get(ctx, a.GetId(), client.Linearizable()); err != nil {
		t.Fatal(err)
	}
	if got := c.Revision(); got != newer.GetRevision() {
		t.Fatalf("Revision after reading another client's write = %d, want its %d", got, newer.GetRevision())
	}
}

// FuzzRevisionHeader feeds the session's parser of the revision header
// (a server's reply, so outside input) with any values: it never fails,
// and the floor is the largest value that is a decimal int64, or 0.
func FuzzRevisionHeader(f *testing.F) {
	for _, seed := range [][2]string{{"12", ""}, {"-5", "3"}, {"abc", "7"}, {"9223372036854775807", "1"}, {"+4", "0x10"}, {"1e3", " 8"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		want := int64(0)
		for _, v := range []string{a, b} {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > want {
				want = n
			}
		}
		if got := client.SessionFloor(a, b); got != want {
			t.Fatalf("floor after %q, %q = %d, want %d", a, b, got, want)
		}
	})
}
