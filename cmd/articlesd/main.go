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
// duplicate the seeds. Seeding happens before the listener opens, so no
// client sees a half-seeded database.
//
// Once listening, articlesd logs a line with msg=listening and the actual
// bound address (addr=127.0.0.1:40123 when started with --listen
// 127.0.0.1:0) and tls=false; scripts and tests read the port from it.
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
)

func main() {
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
