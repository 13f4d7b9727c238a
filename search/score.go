package search

import "math"

// The BM25 parameters. K1 bounds how much repeating a term raises a score;
// B is how strongly scores are normalised by document length.
const (
	K1 = 1.2
	B  = 0.75
	// TitleWeight is how many body occurrences one title occurrence is
	// worth. Title and body are scored as one field in which each title
	// word counts TitleWeight times (a simplified BM25F), so a query word
	// in a short title lifts a document above many with it in the body.
	TitleWeight = 3
)

// Scorer computes BM25 scores against one snapshot of corpus statistics.
// The zero Scorer is an empty corpus.
type Scorer struct {
	docs   int
	avgLen float64
}

// NewScorer returns a Scorer for a corpus of docs documents whose title and
// body lengths (numbers of indexed tokens) add up to titleLen and bodyLen.
func NewScorer(docs int, titleLen, bodyLen int64) Scorer {
	s := Scorer{docs: docs}
	if docs > 0 {
		s.avgLen = (TitleWeight*float64(titleLen) + float64(bodyLen)) / float64(docs)
	}
	return s
}

// IDF returns the inverse document frequency of a term (or phrase) found
// in df documents. It is positive whatever df is, so a match never lowers
// a score.
func (s Scorer) IDF(df int) float64 {
	n, d := float64(s.docs), float64(df)
	if d > n {
		n = d // stale statistics must not give a negative weight
	}
	return math.Log(1 + (n-d+0.5)/(d+0.5))
}

// Score returns the contribution of one term (or phrase) with inverse
// document frequency idf to the score of a document in which it occurs
// titleTF times in the title and bodyTF times in the body, the document
// having titleLen and bodyLen indexed tokens.
func (s Scorer) Score(idf float64, titleTF, bodyTF, titleLen, bodyLen int) float64 {
	tf := TitleWeight*float64(titleTF) + float64(bodyTF)
	if tf == 0 {
		return 0
	}
	norm := 1.0
	if s.avgLen > 0 {
		dl := TitleWeight*float64(titleLen) + float64(bodyLen)
		norm = 1 - B + B*dl/s.avgLen
	}
	return idf * tf * (K1 + 1) / (tf + K1*norm)
}
