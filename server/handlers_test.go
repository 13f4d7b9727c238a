package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	body := "First paragraph of the piece.\n\nSecond — paragraph here."
	created := e.create(t, &articlesv1.Article{
		Id:        "client-chosen",
		Title:     "  Milošević and the ICC’s Case  ",
		Body:      body,
		Authors:   []string{" Jane Doe ", ""},
		AuthorBio: "Jane Doe is a writer.",
		Tags:      []string{"Law", " law ", "", "ICC"},
		Revision:  99,
		WordCount: 1234,
	})
	if created.GetId() == "" || created.GetId() == "client-chosen" {
		t.Errorf("id = %q, want a server-assigned id", created.GetId())
	}
	for _, c := range []struct{ name, got, want string }{
		{"title", created.GetTitle(), "Milošević and the ICC’s Case"},
		{"slug", created.GetSlug(), "milosevic-and-the-iccs-case"},
		{"summary", created.GetSummary(), "First paragraph of the piece."},
		{"tags", strings.Join(created.GetTags(), ","), "law,icc"},
		{"authors", strings.Join(created.GetAuthors(), ","), "Jane Doe"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if got, want := created.GetWordCount(), int32(8); got != want {
		t.Errorf("word_count = %d, want %d", got, want)
	}
	if created.GetRevision() == 99 || created.GetEtag() == "" || created.GetCreateTime() == nil {
		t.Errorf("output-only fields not assigned by the store: %v", created)
	}

	tests := []struct {
		name     string
		req      *articlesv1.GetArticleRequest
		wantBody string
	}{
		{"ByIDDefaultFull", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}}, body},
		{"BySlug", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: created.GetSlug()}}, body},
		{"Basic", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}, View: articlesv1.ArticleView_ARTICLE_VIEW_BASIC}, ""},
		{"MinRevision", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}, MinRevision: created.GetRevision()}, body},
		{"MinRevisionBySlug", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: created.GetSlug()}, MinRevision: created.GetRevision()}, body},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.client.GetArticle(ctx, tt.req)
			if err != nil {
				t.Fatalf("GetArticle: %v", err)
			}
			if got.GetId() != created.GetId() || got.GetBody() != tt.wantBody {
				t.Errorf("got id %q body %q, want %q and %q", got.GetId(), got.GetBody(), created.GetId(), tt.wantBody)
			}
			if tt.wantBody == "" && got.GetAuthorBio() != "" {
				t.Errorf("BASIC view has author_bio %q", got.GetAuthorBio())
			}
		})
	}

	errTests := []struct {
		name  string
		req   *articlesv1.GetArticleRequest
		code  codes.Code
		field string
	}{
		{"UnknownID", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: "01HZZZZZZZZZZZZZZZZZZZZZZZ"}}, codes.NotFound, ""},
		{"UnknownSlug", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: "nope"}}, codes.NotFound, ""},
		{"NoKey", &articlesv1.GetArticleRequest{}, codes.InvalidArgument, "id"},
		{"EmptySlug", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{}}, codes.InvalidArgument, "slug"},
		{"BadView", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}, View: 7}, codes.InvalidArgument, "view"},
		{"NegativeMinRevision", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}, MinRevision: -1}, codes.InvalidArgument, "min_revision"},
		{"UnknownIDMinRevision", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: "01HZZZZZZZZZZZZZZZZZZZZZZZ"}, MinRevision: 1}, codes.NotFound, ""},
		{"UnknownSlugMinRevision", &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: "nope"}, MinRevision: 1}, codes.NotFound, ""},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.GetArticle(ctx, tt.req)
			if tt.field != "" {
				wantViolation(t, err, tt.field)
				return
			}
			wantCode(t, err, tt.code)
		})
	}
	t.Run("FutureMinRevision", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}, MinRevision: created.GetRevision() << 20})
		wantCode(t, err, codes.DeadlineExceeded)
	})
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, server.WithMaxBodyBytes(100))
	ctx := testCtx(t)
	ok := func(edit func(a *articlesv1.Article)) *articlesv1.Article {
		a := &articlesv1.Article{Title: "A fine title", Body: "Some body."}
		edit(a)
		return a
	}
	tests := []struct {
		name  string
		req   *articlesv1.CreateArticleRequest
		field string
	}{
		{"NoArticle", &articlesv1.CreateArticleRequest{}, "article"},
		{"NoTitle", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Title = "" })}, "article.title"},
		{"BlankTitle", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Title = " \t " })}, "article.title"},
		{"LongTitle", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Title = strings.Repeat("é", 501) })}, "article.title"},
		{"UpperSlug", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Slug = "Hello" })}, "article.slug"},
		{"DoubleDashSlug", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Slug = "a--b" })}, "article.slug"},
		{"TrailingDashSlug", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Slug = "a-" })}, "article.slug"},
		{"LongSlug", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Slug = strings.Repeat("a", 201) })}, "article.slug"},
		{"BodyTooLarge", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Body = strings.Repeat("x", 101) })}, "article.body"},
		{"BadLabel", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.Labels = map[string]string{"": "v"} })}, "article.labels"},
		{"BadPublishTime", &articlesv1.CreateArticleRequest{Article: ok(func(a *articlesv1.Article) { a.PublishTime = &timestamppb.Timestamp{Nanos: -1} })}, "article.publish_time"},
		{"LongRequestID", &articlesv1.CreateArticleRequest{Article: ok(func(*articlesv1.Article) {}), RequestId: strings.Repeat("r", 101)}, "request_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.CreateArticle(ctx, tt.req)
			wantViolation(t, err, tt.field)
		})
	}
	t.Run("NothingCreated", func(t *testing.T) {
		resp, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{})
		if err != nil {
			t.Fatalf("ListArticles: %v", err)
		}
		if n := len(resp.GetArticles()); n != 0 {
			t.Errorf("%d articles stored after only invalid creates", n)
		}
	})
}

func TestCreateConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	a := &articlesv1.Article{Title: "Idempotent", Body: "Body."}
	first, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: a, RequestId: "req-1"})
	if err != nil {
		t.Fatalf("CreateArticle: %v", err)
	}
	t.Run("RetrySameRequestID", func(t *testing.T) {
		again, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: a, RequestId: "req-1"})
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if again.GetId() != first.GetId() {
			t.Errorf("retry created %q, want the first article %q", again.GetId(), first.GetId())
		}
	})
	t.Run("RequestIDReused", func(t *testing.T) {
		_, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Other"}, RequestId: "req-1"})
		wantViolation(t, err, "request_id")
	})
	t.Run("SlugTaken", func(t *testing.T) {
		_, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Another", Slug: first.GetSlug()}})
		wantCode(t, err, codes.AlreadyExists)
	})
}

func TestBatchGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	a := e.create(t, &articlesv1.Article{Title: "One", Body: "b1"})
	b := e.create(t, &articlesv1.Article{Title: "Two", Body: "b2"})
	t.Run("InOrderAsked", func(t *testing.T) {
		resp, err := e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: []string{b.GetId(), a.GetId(), b.GetId()}})
		if err != nil {
			t.Fatalf("BatchGetArticles: %v", err)
		}
		var got []string
		for _, x := range resp.GetArticles() {
			got = append(got, x.GetId())
		}
		if want := []string{b.GetId(), a.GetId(), b.GetId()}; !slices.Equal(got, want) {
			t.Errorf("ids = %v, want %v", got, want)
		}
		if resp.GetArticles()[0].GetBody() != "b2" {
			t.Errorf("default view dropped the body")
		}
	})
	t.Run("MissingNamed", func(t *testing.T) {
		missing := "01J00000000000000000000000"
		_, err := e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: []string{a.GetId(), missing}})
		st := wantCode(t, err, codes.NotFound)
		if !strings.Contains(st.Message(), missing) {
			t.Errorf("message %q does not name %s", st.Message(), missing)
		}
	})
	t.Run("TooMany", func(t *testing.T) {
		ids := make([]string, 1001)
		for i := range ids {
			ids[i] = a.GetId()
		}
		_, err := e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: ids})
		wantViolation(t, err, "ids")
	})
	t.Run("EmptyID", func(t *testing.T) {
		_, err := e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: []string{a.GetId(), ""}})
		wantViolation(t, err, "ids[1]")
	})
	t.Run("MinRevision", func(t *testing.T) {
		resp, err := e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: []string{b.GetId(), a.GetId()}, MinRevision: b.GetRevision()})
		if err != nil || len(resp.GetArticles()) != 2 || !proto.Equal(resp.GetArticles()[0], b) || !proto.Equal(resp.GetArticles()[1], a) {
			t.Fatalf("BatchGetArticles with min_revision = %v, %v; want %v and %v", resp, err, b, a)
		}
		missing := "01J00000000000000000000000"
		_, err = e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: []string{a.GetId(), missing}, MinRevision: 1})
		wantCode(t, err, codes.NotFound)
		_, err = e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: []string{a.GetId()}, MinRevision: -1})
		wantViolation(t, err, "min_revision")
	})
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	orig := e.create(t, &articlesv1.Article{Title: "Original", Body: "Old body.", Tags: []string{"x"}})

	t.Run("MaskedFieldsOnly", func(t *testing.T) {
		got, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
			Article:    &articlesv1.Article{Id: orig.GetId(), Title: "Renamed", Body: "ignored", Tags: []string{"Y", "y"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "tags"}},
		})
		if err != nil {
			t.Fatalf("UpdateArticle: %v", err)
		}
		if got.GetTitle() != "Renamed" || got.GetBody() != "Old body." || !slices.Equal(got.GetTags(), []string{"y"}) {
			t.Errorf("got title %q body %q tags %v", got.GetTitle(), got.GetBody(), got.GetTags())
		}
		if got.GetSlug() != orig.GetSlug() {
			t.Errorf("slug changed from %q to %q without being in the mask", orig.GetSlug(), got.GetSlug())
		}
		if got.GetEtag() == orig.GetEtag() || got.GetRevision() <= orig.GetRevision() {
			t.Errorf("etag/revision did not advance: %q/%d", got.GetEtag(), got.GetRevision())
		}
	})
	t.Run("StaleEtag", func(t *testing.T) {
		_, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
			Article:    &articlesv1.Article{Id: orig.GetId(), Title: "Too late", Etag: orig.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		})
		wantCode(t, err, codes.Aborted)
	})
	t.Run("EmptyMaskReplacesAll", func(t *testing.T) {
		cur, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: orig.GetId()}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
			Article: &articlesv1.Article{Id: orig.GetId(), Etag: cur.GetEtag(), Title: "Whole new", Body: "New words here."},
		})
		if err != nil {
			t.Fatalf("UpdateArticle: %v", err)
		}
		if got.GetSlug() != "whole-new" || len(got.GetTags()) != 0 || got.GetWordCount() != 3 || got.GetSummary() != "New words here." {
			t.Errorf("got slug %q tags %v word_count %d summary %q", got.GetSlug(), got.GetTags(), got.GetWordCount(), got.GetSummary())
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
			Article: &articlesv1.Article{Id: "01J00000000000000000000000", Title: "x"},
		})
		wantCode(t, err, codes.NotFound)
	})
	bad := []struct {
		name  string
		req   *articlesv1.UpdateArticleRequest
		field string
	}{
		{"NoArticle", &articlesv1.UpdateArticleRequest{}, "article"},
		{"NoID", &articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Title: "x"}}, "article.id"},
		{"UnknownPath", &articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: orig.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "colour"}}}, "update_mask.paths[1]"},
		{"OutputOnlyPath", &articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: orig.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"etag"}}}, "update_mask.paths[0]"},
		{"IDPath", &articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: orig.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"id"}}}, "update_mask.paths[0]"},
		{"ClearsTitle", &articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: orig.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}, "article.title"},
		{"BadSlug", &articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: orig.GetId(), Slug: "Bad Slug"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"slug"}}}, "article.slug"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.UpdateArticle(ctx, tt.req)
			wantViolation(t, err, tt.field)
		})
	}
	t.Run("SlugTaken", func(t *testing.T) {
		other := e.create(t, &articlesv1.Article{Title: "Other one"})
		_, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
			Article:    &articlesv1.Article{Id: orig.GetId(), Slug: other.GetSlug()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"slug"}},
		})
		wantCode(t, err, codes.AlreadyExists)
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	a := e.create(t, &articlesv1.Article{Title: "Doomed"})
	upd, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
		Article: &articlesv1.Article{Id: a.GetId(), Summary: "changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		req  *articlesv1.DeleteArticleRequest
		code codes.Code
	}{
		{"NoID", &articlesv1.DeleteArticleRequest{}, codes.InvalidArgument},
		{"StaleEtag", &articlesv1.DeleteArticleRequest{Id: a.GetId(), Etag: a.GetEtag()}, codes.Aborted},
		{"CurrentEtag", &articlesv1.DeleteArticleRequest{Id: a.GetId(), Etag: upd.GetEtag()}, codes.OK},
		{"Again", &articlesv1.DeleteArticleRequest{Id: a.GetId()}, codes.NotFound},
	}
	for _, s := range steps { // in order: each step depends on the last
		t.Run(s.name, func(t *testing.T) {
			_, err := e.client.DeleteArticle(ctx, s.req)
			wantCode(t, err, s.code)
		})
	}
	_, err = e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: a.GetId()}})
	wantCode(t, err, codes.NotFound)
}

func TestImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	existing := e.create(t, &articlesv1.Article{Title: "Existing", Body: "Same."})
	changed := e.create(t, &articlesv1.Article{Title: "Changed", Body: "Before."})

	const n = 1203 // crosses two batch boundaries
	stream, err := e.client.ImportArticles(ctx)
	if err != nil {
		t.Fatalf("ImportArticles: %v", err)
	}
	wantFail := map[int64]string{}
	for i := range n {
		a := &articlesv1.Article{Title: fmt.Sprintf("Imported %d", i), Body: "Text."}
		switch i {
		case 0:
			a = &articlesv1.Article{Title: "Existing", Body: "Same."}
		case 1:
			a = &articlesv1.Article{Title: "Changed", Body: "After."}
		case 2, 600: // one slug in two batches: the later one wins
			a = &articlesv1.Article{Title: "Twice", Body: fmt.Sprintf("Import %d.", i)}
		case 7, 501:
			a.Title = ""
			wantFail[int64(i)] = "article.title"
		case 1000:
			a.Slug = "NOT A SLUG"
			wantFail[int64(i)] = "article.slug"
		case 1202:
			a = nil
			wantFail[int64(i)] = "article"
		}
		if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("CloseAndRecv: %v", err)
	}
	if got, want := []int32{resp.GetCreated(), resp.GetUpdated(), resp.GetUnchanged()}, []int32{n - 2 - 4 - 1, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("created/updated/unchanged = %v, want %v", got, want)
	}
	var idx []int64
	for _, f := range resp.GetFailures() {
		idx = append(idx, f.GetIndex())
		if field := wantFail[f.GetIndex()]; field == "" || !strings.HasPrefix(f.GetReason(), field) {
			t.Errorf("failure %d reason %q, want it about %q", f.GetIndex(), f.GetReason(), field)
		}
	}
	if want := []int64{7, 501, 1000, 1202}; !slices.Equal(idx, want) {
		t.Errorf("failure indexes = %v, want %v", idx, want)
	}
	if got, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: "twice"}}); err != nil || got.GetBody() != "Import 600." {
		t.Errorf("after import, the slug imported twice = %v, %v; want the later body", got, err)
	}
	for _, c := range []struct {
		id, body string
	}{{existing.GetId(), "Same."}, {changed.GetId(), "After."}} {
		got, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: c.id}})
		if err != nil || got.GetBody() != c.body {
			t.Errorf("after import, article %s = %v, %v; want body %q", c.id, got, err, c.body)
		}
	}
	list, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 1000, Source: ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetArticles()) != 1000 || list.GetNextPageToken() == "" {
		t.Errorf("list after import: %d articles, next %q; want a full page and more", len(list.GetArticles()), list.GetNextPageToken())
	}
}

func TestImportDirect(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	srv, err := newServer(t, db)
	if err != nil {
		t.Fatal(err)
	}
	// Go callers can pass invalid UTF-8, which the gRPC codec would have
	// refused; Import must catch it.
	arts := []*articlesv1.Article{
		{Title: "A"},
		{Title: ""},
		{Title: "B", Tags: []string{"T"}},
		{Title: "bad \xff"},
		{Title: "C", Body: "\xc3"},
		{Title: "D", Tags: []string{"ok", "\xff"}},
		{Title: "E", Authors: []string{"\xff"}},
		{Title: "F", Source: "\xff"},
		{Title: "G", Labels: map[string]string{"k": "\xff"}},
		{Title: "H", AuthorBio: "\xff"},
		{Title: "I", Slug: "\xff"},
	}
	wantReason := map[int64]string{
		1: "article.title", 3: "article.title", 4: "article.body", 5: "article.tags[1]",
		6: "article.authors[0]", 7: "article.source", 8: "article.labels", 9: "article.author_bio", 10: "article.slug",
	}
	resp, err := srv.Import(testCtx(t), arts)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if resp.GetCreated() != 2 || len(resp.GetFailures()) != len(wantReason) {
		t.Errorf("Import = %v, want 2 created and %d failures", resp, len(wantReason))
	}
	for _, f := range resp.GetFailures() {
		if w := wantReason[f.GetIndex()]; w == "" || !strings.HasPrefix(f.GetReason(), w+":") {
			t.Errorf("failure %d: reason %q, want it about %q", f.GetIndex(), f.GetReason(), w)
		}
	}
	if !proto.Equal(arts[2], &articlesv1.Article{Title: "B", Tags: []string{"T"}}) {
		t.Errorf("Import changed its input: %v", arts[2])
	}
}
