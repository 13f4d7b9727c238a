package fulltext_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
)

// TestRankingMatchesExhaustiveBM25 compares the engine's rankings with
// BM25 computed from the articles' texts alone (search.Analyze and
// search.Scorer, article by article), on a generated corpus with updates
// and deletes, for many generated queries (words, several words, phrases,
// prefixes, exclusions, filters) and pages: the same articles in the same
// order, with the same scores and totals, before and after the segments
// are merged.
func TestRankingMatchesExhaustiveBM25(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 12))
	vocab := strings.Fields(`harbour harbours ferry ferries gull gulls tide tides
		run runs running runner happy happily happiness report reports reported
		river rivers council market energy village bridge season storm storms
		the of and a to in is on for with by nation nations national policy
		policies trade trading trader sanction sanctions sanctioned zebra`)
	zipf := rand.NewZipf(r, 1.2, 2, uint64(len(vocab)-1))
	text := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocab[zipf.Uint64()])
			if r.IntN(15) == 0 {
				b.WriteString(".")
			}
		}
		return b.String()
	}
	authors := []string{"Ann", "Bea", "Cy"}
	tags := []string{"sea", "land", "air"}
	newArt := func(i int) *articlesv1.Article {
		a := searchArt(fmt.Sprintf("x-%d", i), text(1+r.IntN(6)), text(r.IntN(120)))
		a.Authors = []string{authors[r.IntN(len(authors))]}
		a.Tags = []string{tags[r.IntN(len(tags))]}
		if r.IntN(4) > 0 {
			a.PublishTime = timestamppb.New(time.Date(2024, 1, 1+r.IntN(5), 0, 0, 0, 0, time.UTC))
		}
		return a
	}

	db := mustOpen(t)
	// Several imports make several segments; updates and deletes leave
	// dead postings in them.
	var written []string // every text ever indexed, for prefix expansion
	n := 0
	for range 4 {
		var batch []*articlesv1.Article
		for range 80 {
			a := newArt(n)
			n++
			batch = append(batch, a)
			written = append(written, a.GetTitle(), a.GetBody())
		}
		importAll(t, db, batch)
		if err := db.WaitIndexed(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 60 {
		a, err := db.GetBySlug(ctx, fmt.Sprintf("x-%d", r.IntN(n)))
		if err != nil {
			continue // deleted already
		}
		if i%3 == 0 {
			if err := db.Delete(ctx, a.GetId(), ""); err != nil {
				t.Fatal(err)
			}
			continue
		}
		body := text(r.IntN(120))
		written = append(written, body)
		if _, err := db.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error {
			x.Body = body
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	// The queries: words, pairs, phrases taken from the texts, prefixes,
	// exclusions, some with a filter.
	var queries []string
	word := func() string { return vocab[zipf.Uint64()] }
	for range 60 {
		queries = append(queries, word())
	}
	for range 60 {
		queries = append(queries, word()+" "+word())
	}
	for range 40 {
		queries = append(queries, word()+" -"+word())
	}
	for range 60 {
		ws := strings.Fields(strings.ReplaceAll(written[r.IntN(len(written))], ".", ""))
		if len(ws) < 2 {
			continue
		}
		i := r.IntN(len(ws) - 1)
		k := min(len(ws)-i, 2+r.IntN(2))
		queries = append(queries, `"`+strings.Join(ws[i:i+k], " ")+`"`)
	}
	for range 60 {
		w := word()
		p := w[:min(len(w), 2+r.IntN(3))]
		if len(p) < 2 {
			continue
		}
		q := p + "*"
		if r.IntN(3) == 0 {
			q += " " + word()
		}
		queries = append(queries, q)
	}
	filters := []articles.Filter{{}, {Author: "Bea"}, {Tag: "sea"}}

	check := func(t *testing.T) {
		ref := newReference(t, db, written)
		checked := 0
		for i, qs := range queries {
			q, err := search.Parse(qs)
			if err != nil {
				continue // a stop word alone, say
			}
			f := filters[i%len(filters)]
			want := ref.rank(q, f)
			for _, page := range [][2]int{{0, 10}, {3, 7}, {0, 1000}} {
				resp := doSearch(t, db, qs, f, page[0], page[1])
				if int(resp.GetTotalSize()) != len(want) {
					t.Fatalf("%q (filter %v): total %d, want %d", qs, f, resp.GetTotalSize(), len(want))
				}
				wantPage := want[min(page[0], len(want)):min(page[0]+page[1], len(want))]
				var got []string
				for _, res := range resp.GetResults() {
					got = append(got, fmt.Sprintf("%s %.12g", res.GetArticle().GetSlug(), res.GetScore()))
				}
				var wantS []string
				for _, w := range wantPage {
					wantS = append(wantS, fmt.Sprintf("%s %.12g", w.slug, w.score))
				}
				if !slices.Equal(got, wantS) {
					t.Fatalf("%q (filter %v) at [%d, %d):\ngot  %q\nwant %q", qs, f, page[0], page[0]+page[1], got, wantS)
				}
			}
			checked++
		}
		if checked < 250 {
			t.Fatalf("only %d queries checked", checked)
		}
	}
	t.Run("segments", check)
	if err := db.MergeAll(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("merged", check)
}

// reference ranks the live articles by BM25 from their texts alone.
type reference struct {
	docs    []refDoc
	scorer  search.Scorer
	prefixT func(prefix string) map[string]bool
}

type refDoc struct {
	a           *articlesv1.Article
	title, body []search.Token
}

type refHit struct {
	slug  string
	score float64
	a     *articlesv1.Article
}

// newReference reads every live article of db. written are all the texts
// ever indexed: a prefix expands to the terms of the words of those that
// start with it (the engine's vocabulary only grows), and to the terms
// that start with it themselves.
func newReference(t *testing.T, db *testDB, written []string) *reference {
	t.Helper()
	ref := &reference{}
	var titleLen, bodyLen int64
	err := db.List(context.Background(), articles.Query{}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		d := refDoc{a: a, title: search.Analyze(a.GetTitle()), body: search.Analyze(a.GetBody())}
		titleLen += int64(len(d.title))
		bodyLen += int64(len(d.body))
		ref.docs = append(ref.docs, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ref.scorer = search.NewScorer(len(ref.docs), titleLen, bodyLen)
	wordTerms := map[string]string{}
	for _, s := range written {
		for _, tok := range search.Analyze(s) {
			wordTerms[tok.Word] = tok.Term
		}
	}
	ref.prefixT = func(p string) map[string]bool {
		ts := map[string]bool{}
		for w, term := range wordTerms {
			if strings.HasPrefix(w, p) || strings.HasPrefix(term, p) {
				ts[term] = true
			}
		}
		return ts
	}
	return ref
}

// count returns how often clause c occurs in toks.
func (ref *reference) count(c search.Clause, toks []search.Token, prefixTerms map[string]bool) int {
	if c.Prefix {
		n := 0
		for _, tok := range toks {
			if prefixTerms[tok.Term] {
				n++
			}
		}
		return n
	}
	at := map[int]string{}
	for _, tok := range toks {
		at[tok.Pos] = tok.Term
	}
	n := 0
	for _, tok := range toks {
		ok := tok.Term == c.Terms[0]
		for i := 1; ok && i < len(c.Terms); i++ {
			ok = at[tok.Pos+c.Pos[i]] == c.Terms[i]
		}
		if ok {
			n++
		}
	}
	return n
}

// rank returns every article matching q and f, best first.
func (ref *reference) rank(q *search.Query, f articles.Filter) []refHit {
	type tfs struct{ title, body int }
	counts := make([][]tfs, len(q.Clauses))
	df := make([]int, len(q.Clauses))
	for i, c := range q.Clauses {
		var pt map[string]bool
		if c.Prefix {
			pt = ref.prefixT(c.Terms[0])
		}
		counts[i] = make([]tfs, len(ref.docs))
		for j, d := range ref.docs {
			tf := tfs{ref.count(c, d.title, pt), ref.count(c, d.body, pt)}
			counts[i][j] = tf
			if tf.title+tf.body > 0 {
				df[i]++
			}
		}
	}
	var out []refHit
	for j, d := range ref.docs {
		score, ok := 0.0, true
		for i, c := range q.Clauses {
			tf := counts[i][j]
			if (tf.title+tf.body > 0) == c.Negated {
				ok = false
				break
			}
			if !c.Negated {
				score += ref.scorer.Score(ref.scorer.IDF(df[i]), tf.title, tf.body, len(d.title), len(d.body))
			}
		}
		if ok && f.Match(d.a) {
			out = append(out, refHit{d.a.GetSlug(), score, d.a})
		}
	}
	slices.SortFunc(out, func(x, y refHit) int {
		if x.score != y.score {
			return cmp.Compare(y.score, x.score)
		}
		xp, yp := x.a.GetPublishTime(), y.a.GetPublishTime()
		if (xp == nil) != (yp == nil) {
			if xp != nil {
				return -1
			}
			return 1
		}
		if xp != nil {
			if c := yp.AsTime().Compare(xp.AsTime()); c != 0 {
				return c
			}
		}
		return strings.Compare(x.a.GetId(), y.a.GetId())
	})
	return out
}

// TestBlockMaxMatchesExhaustiveBM25 ranks one-word queries over a corpus
// where the word's frequency varies from document to document, in lists
// of many blocks, with dead documents among them: the engine skips blocks
// that cannot reach the page, and still gives exactly the reference's
// pages and totals.
func TestBlockMaxMatchesExhaustiveBM25(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(21, 22))
	db := mustOpen(t)
	var written []string
	var batch []*articlesv1.Article
	for i := range 2000 {
		var b strings.Builder
		for j := range 30 {
			w := "filler"
			switch {
			case j < r.IntN(3):
				w = "walrus" // in most documents, once or twice
			case i%300 == 0 && j < 3+i%5:
				w = "walrus" // more often in a few, further apart than a block
			case j%7 == 0:
				w = "pelican"
			}
			b.WriteString(w + " ")
		}
		a := searchArt(fmt.Sprintf("b-%d", i), "Heading", b.String())
		batch = append(batch, a)
		written = append(written, a.GetTitle(), a.GetBody())
	}
	importAll(t, db, batch)
	for i := range 40 { // dead documents in the lists
		a, err := db.GetBySlug(ctx, fmt.Sprintf("b-%d", i*37))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Delete(ctx, a.GetId(), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	ref := newReference(t, db, written)
	for _, qs := range []string{"walrus", "pelican", "filler", "heading", "walrus pelican", "filler walrus", "walrus heading filler", `"walrus filler"`, `"filler pelican"`, `"walrus walrus"`} {
		q, err := search.Parse(qs)
		if err != nil {
			t.Fatal(err)
		}
		want := ref.rank(q, articles.Filter{})
		for _, page := range [][2]int{{0, 1}, {0, 10}, {5, 20}, {100, 50}} {
			resp := doSearch(t, db, qs, articles.Filter{}, page[0], page[1])
			if int(resp.GetTotalSize()) != len(want) {
				t.Fatalf("%q: total %d, want %d", qs, resp.GetTotalSize(), len(want))
			}
			var got, wantS []string
			for _, res := range resp.GetResults() {
				got = append(got, fmt.Sprintf("%s %.12g", res.GetArticle().GetSlug(), res.GetScore()))
			}
			for _, w := range want[min(page[0], len(want)):min(page[0]+page[1], len(want))] {
				wantS = append(wantS, fmt.Sprintf("%s %.12g", w.slug, w.score))
			}
			if !slices.Equal(got, wantS) {
				t.Fatalf("%q at [%d, %d):\ngot  %q\nwant %q", qs, page[0], page[0]+page[1], got, wantS)
			}
		}
	}
	skipped, err := db.eng.TermBlocksSkipped("walrus", 5)
	if err != nil {
		t.Fatal(err)
	}
	if skipped == 0 {
		t.Error("no block of walrus skipped for a page of 5")
	}
}
