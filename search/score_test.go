package search_test

import (
	"testing"

	"github.com/seed9c1868aa/articles/search"
)

func TestScorer(t *testing.T) {
	t.Parallel()
	s := search.NewScorer(1000, 10_000, 500_000) // titles of 10, bodies of 500 tokens
	rare, common := s.IDF(2), s.IDF(900)
	tests := []struct {
		name          string
		better, worse float64
	}{
		{"RareTermBeatsCommon", s.Score(rare, 0, 1, 10, 500), s.Score(common, 0, 1, 10, 500)},
		{"TitleBeatsBody", s.Score(rare, 1, 0, 10, 500), s.Score(rare, 0, 1, 10, 500)},
		{"MoreOccurrencesScoreHigher", s.Score(rare, 0, 5, 10, 500), s.Score(rare, 0, 1, 10, 500)},
		{"ShorterDocumentScoresHigher", s.Score(rare, 0, 1, 10, 100), s.Score(rare, 0, 1, 10, 2000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !(tt.better > tt.worse) {
				t.Errorf("got %v <= %v", tt.better, tt.worse)
			}
		})
	}
	t.Run("Saturates", func(t *testing.T) {
		if got, bound := s.Score(rare, 0, 1000, 10, 500), rare*(search.K1+1); got >= bound {
			t.Errorf("score %v reaches the BM25 bound %v", got, bound)
		}
	})
	t.Run("NoMatchScoresZero", func(t *testing.T) {
		if got := s.Score(rare, 0, 0, 10, 500); got != 0 {
			t.Errorf("score without occurrences = %v", got)
		}
	})
	t.Run("IDFPositive", func(t *testing.T) {
		for _, df := range []int{0, 1, 1000, 5000} {
			if idf := s.IDF(df); !(idf > 0) {
				t.Errorf("IDF(%d) = %v", df, idf)
			}
		}
		if idf := (search.Scorer{}).IDF(3); !(idf > 0) {
			t.Errorf("empty corpus IDF = %v", idf)
		}
	})
}
