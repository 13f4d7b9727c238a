package fulltext

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSortTerms checks sortTerms against a plain sort by string, with
// terms that tie on their first 8 bytes, are prefixes of each other, or
// hold zero bytes.
func TestSortTerms(t *testing.T) {
	t.Parallel()
	terms := []string{
		"walrus", "walruses", "a", "", "ab", "ab\x00", "ab\x00c", "abcdefgh", "abcdefghi",
		"abcdefgh\x00", "abcdefgg", "zz", "\xff\xfe", "pelican", "pelicans", "2024", "ä",
		"internationalisation", "internationalised", "internationa",
	}
	// Enough terms for the radix sort too: the words above with
	// suffixes, and generated ones.
	r := rand.New(rand.NewPCG(1, 2))
	many := slices.Clone(terms)
	for i := 0; len(many) < 3*radixSortMin; i++ {
		b := []byte(terms[i%len(terms)])
		for range r.IntN(12) {
			b = append(b, "ab\x00z\xff0"[r.IntN(6)])
		}
		many = append(many, string(b))
	}
	for _, tc := range []struct {
		name  string
		terms []string
	}{{"Comparisons", terms}, {"Radix", many}} {
		t.Run(tc.name, func(t *testing.T) {
			ids := make([]int32, len(tc.terms))
			for i := range ids {
				ids[len(ids)-1-i] = int32(i)
			}
			sortTerms(ids, tc.terms)
			got := make([]string, len(ids))
			for i, id := range ids {
				got[i] = tc.terms[id]
			}
			want := slices.Clone(tc.terms)
			slices.SortFunc(want, strings.Compare)
			if !slices.Equal(got, want) {
				t.Errorf("sortTerms gives %q, want %q", got, want)
			}
		})
	}
}
