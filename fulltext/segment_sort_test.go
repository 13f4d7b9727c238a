package fulltext

import (
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
	ids := make([]int32, len(terms))
	for i := range ids {
		ids[len(ids)-1-i] = int32(i)
	}
	sortTerms(ids, terms)
	got := make([]string, len(ids))
	for i, id := range ids {
		got[i] = terms[id]
	}
	want := slices.Clone(terms)
	slices.SortFunc(want, strings.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("sortTerms gives %q, want %q", got, want)
	}
}
