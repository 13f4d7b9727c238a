// Package articles is the vocabulary shared by the Articles server and its
// storage backends: the errors a backend reports and the queries it answers.
//
// It depends only on the generated API types (package articlesv1) and the
// ULID library, so that the backends (package store on bbolt, package
// etcdstore on etcd) and the gRPC server can all speak it without
// depending on each other. What both backends do alike when they write
// (ids, etags, request hashes, output-only fields, import results) lives
// here once. The server declares the Store
// interface it needs in package server; backends satisfy it structurally.
//
// # Ordering and cursors
//
// A Query names a filter and an Order. Every Order is a total order: articles
// compare by the order's sort key (SortKey) and then by id, so a Cursor (the
// sort key and id of the last article seen) names a unique position that
// stays meaningful when articles are inserted or deleted around it. This is
// what makes page tokens and stream resumption stable under concurrent
// writes.
package articles
