// Command articles is the command-line client of the Articles service: it
// gets, lists, streams, creates, updates, deletes, imports, searches and
// watches articles over gRPC, and backs up the server's database.
//
// Run "articles --help" for the subcommands and "articles CMD --help" for
// each one's flags and examples. The server address comes from --addr, or
// the ARTICLES_ADDR environment variable, or localhost:50051; a missing
// port is 50051, https:// means TLS (addr.go). A server that cannot be
// reached is one error line naming the address and the cause.
//
// Output (-o) is a table on a terminal and JSON Lines otherwise, so that
// "articles list | jq" works without flags; json and yaml print one
// document, an array for streams. Errors print one line on
// stderr, "articles: CODE: message", where CODE is the gRPC status code;
// the exit status is 0 on success, 1 on an error and 2 on a usage error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// An interrupt cancels the context: watch and stream end cleanly, and
	// any call in flight is cancelled rather than cut off.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
