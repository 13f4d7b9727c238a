// Command etcd is the etcd server, built from the etcd module this
// repository already requires, so that tests can run etcd members as
// processes (not instrumented by -race, and killable) without an etcd
// installation. It takes etcd's own flags.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
