package articles

// ImportResult is what a backend's Import did with one batch: how many
// articles it created, updated or found unchanged, and the articles it
// rejected. The server turns it into the API's response.
type ImportResult struct {
	Created, Updated, Unchanged int
	// Failures are in ascending order of Index.
	Failures []ImportFailure
}

// ImportFailure is an article of a batch that Import did not write: Index
// is its position in the batch, Reason says why in words a client may see.
type ImportFailure struct {
	Index  int
	Reason string
}
