package corpus_test

import (
	"fmt"
	"testing"

	"github.com/seed9c1868aa/articles/internal/corpus"
)

func TestWordDistinct(t *testing.T) {
	seen := map[string]uint64{}
	for n := range uint64(100_000) {
		w := corpus.Word(n)
		if len(w) < 4 {
			t.Fatalf("Word(%d) = %q, shorter than two syllables", n, w)
		}
		if m, ok := seen[w]; ok {
			t.Fatalf("Word(%d) = Word(%d) = %q", n, m, w)
		}
		seen[w] = n
	}
}

func ExampleWord() {
	fmt.Println(corpus.Word(0), corpus.Word(1), corpus.Word(21))
	// Output: baba koba koko
}
