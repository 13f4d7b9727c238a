// Package corpus makes the pseudo-words of the benchmark corpora that the
// store, the full-text engine and the service are measured on, so that
// their figures are of the same text.
package corpus

// Word returns the pseudo-word of rank n: syllables spelling n in base
// 20, at least two of them, so that words differ from their first letters
// as real ones do. Distinct ranks give distinct words.
func Word(n uint64) string {
	const syll = "bakomirusetavonelipadogefuzihajawoqexuyi"
	var b []byte
	for i := 0; i < 2 || n > 0; i++ {
		d := n % 20
		b = append(b, syll[2*d], syll[2*d+1])
		n /= 20
	}
	return string(b)
}
