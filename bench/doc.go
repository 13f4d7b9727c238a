// Package bench holds the service's end-to-end benchmarks: real gRPC over a
// loopback TCP connection to a server backed by a real bbolt file, beside a
// no-op server that answers the same calls from memory, so each figure can
// be read against what gRPC alone costs on the same machine in the same run.
// The write benchmarks (write_test.go) run beside the baselines they start
// themselves: a raw etcd member (embedded, with fsync) and bbolt alone;
// write-syscalls.sh counts syscalls and CPU per create of the daemon.
//
// Run them with
//
//	go test ./bench -run '^$' -bench . -benchtime 2s
//
// The figures and the machine they were taken on are in BENCHMARKS.md.
package bench
