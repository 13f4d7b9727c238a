// Package server is the gRPC ArticleService: it checks and normalises
// requests, turns them into calls on a Store, and maps the store's errors
// to gRPC status codes.
//
// # Basics
//
// New builds a Server over any backend that satisfies Store; GRPCServer
// wraps it in a grpc.Server with request logging, panic recovery, health
// checks and reflection; GracefulStop ends it. The server never imports a
// backend: cmd/articlesd wires package store in.
//
// Validation happens here, before the store sees an article: title
// required and at most 500 characters, slug lowercase a-z, 0-9 and '-'
// (derived from the title by Slugify when empty), body at most the
// configured size, every string valid UTF-8; tags are lowercased and
// deduplicated, a missing summary is derived from the first paragraph,
// word_count is computed, and output-only fields sent by clients are
// ignored. Every violation is INVALID_ARGUMENT with a google.rpc.BadRequest
// naming the field, such as "article.title". That includes invalid UTF-8
// on the wire, which grpc-go's own protobuf codec would reject as INTERNAL
// before any handler ran: GRPCServer installs a codec that marks such a
// message instead, and an interceptor answers it (see codec.go).
//
// # Invariants
//
// Page tokens and stream cursors are keyset positions (an article's sort
// key and id), signed with HMAC-SHA256 under the store's TokenKey and bound
// to the filters and order of the request that made them. A page therefore
// never repeats or skips an article that existed for the whole listing,
// whatever is written meanwhile, and an edited, forged or foreign token is
// INVALID_ARGUMENT, never a wrong page. Search page tokens hold an offset
// into the ranking instead, bound to the query's canonical form and filters;
// they are tamper-evident but, like any offset, shift under concurrent
// writes.
//
// Store errors are mapped in one function (toStatus) with errors.Is. No
// error sent to a client carries a panic, a stack, or a file path: unknown
// errors are INTERNAL "internal error", with the detail in the log only.
//
// # Caveats
//
// Tokens are signed with the store's key, so they stay valid across
// restarts of the same database but not across databases. A StreamArticles
// stream reads the store in short transactions between sends, so it sees
// writes made while it runs where they fall after its position; only
// articles that exist for the whole stream are promised exactly once.
// Backup holds one read transaction of the store for as long as its client
// takes to receive the file: see store.DB.Backup for what that holds up.
// ImportArticles buffers up to 2,000 articles (or 16 MiB of them) before
// writing them, so a client that sends slowly holds that many in server
// memory until the batch fills or the stream ends.
package server
