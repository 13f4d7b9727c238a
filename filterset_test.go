package articles_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/seed9c1868aa/articles"
)

func TestSmallestSet(t *testing.T) {
	t.Parallel()
	sets := map[articles.Condition]map[string]bool{
		{Field: articles.FieldAuthor, Value: "ann"}:  {"a": true, "b": true, "c": true},
		{Field: articles.FieldTag, Value: "news"}:    {"b": true},
		{Field: articles.FieldSource, Value: "RIAC"}: {"a": true, "b": true},
		{Field: articles.FieldTag, Value: "none"}:    {},
	}
	tests := []struct {
		name      string
		f         articles.Filter
		want      []string // nil: no set
		wantReads int
	}{
		{"NoIndexedCondition", articles.Filter{}, nil, 0},
		{"One", articles.Filter{Source: "RIAC"}, []string{"a", "b"}, 1},
		{"SmallestKept", articles.Filter{Author: "ann", Tag: "news", Source: "RIAC"}, []string{"b"}, 3},
		{"StopsAtEmpty", articles.Filter{Author: "ann", Tag: "none", Source: "RIAC"}, []string{}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reads := 0
			got, err := articles.SmallestSet(context.Background(), tt.f, func(_ context.Context, c articles.Condition) (map[string]bool, error) {
				reads++
				return sets[c], nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if reads != tt.wantReads {
				t.Errorf("reads = %d, want %d", reads, tt.wantReads)
			}
			if (got == nil) != (tt.want == nil) {
				t.Fatalf("set = %v, want %v", got, tt.want)
			}
			var ids []string
			for id := range got {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if tt.want != nil && !slices.Equal(ids, tt.want) {
				t.Errorf("set = %v, want %v", ids, tt.want)
			}
		})
	}
	t.Run("Error", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		_, err := articles.SmallestSet(context.Background(), articles.Filter{Tag: "x"}, func(context.Context, articles.Condition) (map[string]bool, error) { return nil, boom })
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want boom", err)
		}
	})
}
