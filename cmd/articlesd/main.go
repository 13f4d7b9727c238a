// Command articlesd is the Articles gRPC server: it serves
// articles.v1.ArticleService, gRPC health checks and server reflection over
// a bbolt database file.
//
// # Basics
//
//	articlesd [flags]                 serve (Ctrl-C or SIGTERM stops it)
//	articlesd reindex [--db FILE]     rebuild the search index and exit
//
// Every flag has an environment fallback named ARTICLES_ and the flag's
// name in upper case with '-' as '_' (--max-body-bytes: ARTICLES_MAX_BODY_BYTES);
// a flag given on the command line wins over the environment. `articlesd
// --help` lists them all.
//
// On a database that was never written (revision 0) the server first loads
// the embedded seed articles (package seeds), unless --no-seed; a database
// that has seen any write is never seeded again, so restarts do not
// duplicate the seeds. Every port is bound before the database is opened,
// so an address in use fails the start before anything is written; calls
// are served only once seeding is done (clients that connect earlier wait
// to be accepted), so no client sees a half-seeded database.
//
// Once listening, articlesd logs a line with msg=listening and the actual
// bound address (addr=127.0.0.1:40123 when started with --listen
// 127.0.0.1:0) and tls=false (plaintext) or tls=true; scripts and tests
// read the port from it. The line also says mtls=, tokens= (how many, never
// which) and reflection=.
//
// # HTTP
//
// --http-listen ADDR also serves the service over HTTP (http.go): REST
// routes declared in the proto with google.api.http, the Connect protocol
// (JSON and binary) and gRPC-Web, transcoded by vanguard into calls of the
// same grpc.Server, so tokens, roles, limits, logs and metrics apply
// unchanged. It serves TLS when --tls-cert is set; --cors-origin
// (repeatable) allows browser calls from other origins. Its address is in
// a msg="serving http" log line.
//
// # Security
//
// --tls-cert and --tls-key serve TLS (1.2 or later); --client-ca also
// requires a client certificate signed by one of its CAs (mTLS). Without
// them articlesd serves plaintext, which its listening line says
// (tls=false), with a warning when the address is not loopback.
//
// --tokens FILE requires a bearer token on every call but health checks
// (package auth: "<role> <secret>" lines, role read or write). A malformed
// file stops startup with an error naming the line. Tokens over plaintext
// beyond loopback can be read by anyone on the path, so articlesd refuses
// --tokens on a plaintext listener that is not loopback unless
// --insecure-allow-tokens, before it opens the database or listens.
// --no-reflection turns off server reflection.
//
// # Limits
//
// --max-recv-bytes bounds a message (RESOURCE_EXHAUSTED), --max-body-bytes
// an article body (INVALID_ARGUMENT), and page sizes above 1000 are
// lowered to 1000. --max-streams bounds concurrent calls per connection
// (more wait), --max-conns the open connections (more wait unaccepted),
// --idle-timeout closes connections without calls, --keepalive-min-time
// disconnects clients that ping more often (GOAWAY too_many_pings), and
// --default-timeout gives unary calls without a deadline one. --watch-rate
// caps the bytes per second all watch streams send together, so that
// feeding many watchers cannot take the CPU from writes. Imports are
// written in store transactions of at most 500 articles.
//
// # Shutdown
//
// On SIGINT or SIGTERM health checks turn NOT_SERVING, new RPCs are
// refused, open streams end with UNAVAILABLE, and in-flight RPCs get
// --grace-period to finish before they are cancelled. The database is then
// closed cleanly and articlesd exits 0. A second signal during shutdown
// kills the process at once (the store's writes are fsynced, so that loses
// nothing acknowledged).
//
// # Exit codes
//
// 0 after a clean shutdown or a successful subcommand; 1 on any failure
// (the database is locked by another process, the address is in use, ...),
// with a one-line error on stderr; 2 on a usage error (unknown flag, bad
// flag or environment value).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's target (GOGC) unless the
// environment sets GOGC. Almost everything a write allocates (its
// request, the transaction's pages and nodes, the indexer's batch) is
// garbage once the write is done, and the live heap is small, so at Go's
// default of 100 the collector runs often and takes a large share of the
// CPU a write costs; BENCHMARKS.md has the measure. The price is a larger
// heap between collections.
const defaultGCPercent = 200

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "articlesd:", err)
	if errors.As(err, new(usageError)) {
		os.Exit(2)
	}
	os.Exit(1)
}
