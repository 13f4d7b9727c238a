// Package client is the Go client of the Articles service
// (articles.v1.ArticleService): one method per RPC with Go types, streams as
// iterators, and the retry and timeout defaults a caller would otherwise
// write by hand.
//
// # Basics
//
// New creates a Client over grpc.NewClient; it does not connect until the
// first call. Options are WithX values: WithTLS or WithTransportCredentials
// (the default is plaintext), WithClientCertificate (mTLS), WithToken,
// WithTimeout, WithRetry, WithAddresses, WithReadYourWrites (a session:
// reads see this client's own writes without a linearizable read) and
// WithDialOptions.
//
// Errors are the gRPC status errors the server returned, unwrapped, so
// status.Code(err) and status.Convert(err).Details() work on them; errors
// made on this side (a nil article, a bad option) are plain errors.
//
// Streams (Stream, ListAll, and Watch) are iter.Seq2 values: ranging over
// one makes the call, and breaking out of the loop cancels it. After an
// error is yielded the sequence ends.
//
// Watch follows the change feed (WatchArticles) and resumes by itself after
// a broken connection from the last revision it yielded. Mirror builds on
// Stream and Watch: a local, concurrency-safe, read-only copy of all
// articles (or a filtered subset) that applies every change by revision,
// for services that want in-process reads; WaitRevision waits until it has
// caught up to a revision, such as the one a write returned.
//
// Backup receives a consistent copy of the server's database file (a
// bbolt file that articlesd --db serves as it was) into an io.Writer.
//
// # Caveats
//
// Stream resumes by itself after UNAVAILABLE (a broken connection, a server
// restart) from the cursor of the last article it yielded, so a caller sees
// every article exactly once; it gives up after a bounded number of
// attempts in a row that yield nothing. ListAll and Search do not resume:
// page tokens already make them restartable by the caller.
//
// Only idempotent reads are retried automatically (through grpc's service
// config). Writes are not: a Create whose reply was lost may have happened;
// pass a request id and retry it to make that safe.
//
// Import sends the whole sequence in one client stream; the server commits
// in batches as articles arrive, so an error part-way leaves the articles
// already acknowledged in place.
package client
