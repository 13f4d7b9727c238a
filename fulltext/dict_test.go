package fulltext

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestWordSlotSize checks that word slots stay 32 bytes, so that none
// straddles two cache lines.
func TestWordSlotSize(t *testing.T) {
	if got := unsafe.Sizeof(wordSlot{}); got != 32 {
		t.Errorf("a wordSlot takes %d bytes, want 32", got)
	}
}

// TestAnalyzeManyWords checks an article of more distinct words than an
// analyzer's word table first holds, repeated and in both cases.
func TestAnalyzeManyWords(t *testing.T) {
	t.Parallel()
	var b []byte
	for round := range 3 {
		for i := range 3000 {
			w := fmt.Sprintf("w%dings", i*7919%3001)
			if round == 1 {
				w = strings.ToUpper(w)
			}
			b = append(b, w...)
			b = append(b, " the "...)
		}
	}
	text := string(b)
	for range 2 { // the second time, the dictionary knows every word
		got, want := analysed(t, text)
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("analyze differs from search.Analyze on %d distinct words", len(want))
		}
	}
}
