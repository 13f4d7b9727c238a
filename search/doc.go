// Package search is the text analysis and query language behind
// SearchArticles. (Being written; see the search issue.)
package search

// Query is a parsed search query.
type Query struct{}
