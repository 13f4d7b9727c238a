package search

// Hit is one article a search matched, as the full-text index ranks it.
type Hit struct {
	// ID is the article's id.
	ID string
	// Score is its BM25 score for the query (Scorer).
	Score float64
}

// Results is one page of a ranking.
type Results struct {
	// Hits are the page's articles, best first.
	Hits []Hit
	// Total is how many articles match in all.
	Total int
	// Revision is the revision of the articles the index reflected.
	Revision int64
}
