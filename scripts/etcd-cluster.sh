#!/usr/bin/env bash
# etcd-cluster.sh starts, on loopback, a 3-member etcd cluster and two
# articlesd serving it, for trying the etcd backend out:
#
#   scripts/etcd-cluster.sh [DIR]
#
# Data and logs go under DIR (a new temporary directory when not given;
# kept after exit). Ctrl-C (or SIGTERM) stops everything. It needs the
# etcd server: $ETCD, else `etcd` on $PATH (Debian: apt-get install
# etcd-server), else one built from this repository's etcd module with the
# go command. articlesd is $ARTICLESD, else built from this checkout.
#
# Ports: etcd clients ETCD_PORT+1..3 (peers ETCD_PORT+11..13), articlesd
# ARTICLES_PORT+1 and +2; by default 23791-23793 and 50051-50052.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/articles-cluster.XXXXXX")}
mkdir -p "$dir/bin" "$dir/logs"
etcd_port=${ETCD_PORT:-23790}
articles_port=${ARTICLES_PORT:-50050}

etcd_bin=${ETCD:-$(command -v etcd || true)}
if [ -z "$etcd_bin" ]; then
	echo "no etcd on PATH: building one from the etcd module (apt-get install etcd-server to skip this)" >&2
	(cd "$root" && go build -o "$dir/bin/etcd" ./etcdstore/etcdtest/etcd)
	etcd_bin=$dir/bin/etcd
fi
articlesd_bin=${ARTICLESD:-}
if [ -z "$articlesd_bin" ]; then
	(cd "$root" && go build -o "$dir/bin/articlesd" ./cmd/articlesd)
	articlesd_bin=$dir/bin/articlesd
fi

pids=()
stop() {
	trap - INT TERM EXIT
	# articlesd first (they drain their streams), then etcd; whatever has
	# not exited 10 s later is killed.
	for pid in $(printf '%s\n' "${pids[@]}" | tac); do kill "$pid" 2>/dev/null || true; done
	for _ in $(seq 100); do
		alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "stopped; data and logs are in $dir" >&2
}
trap stop EXIT
trap 'exit 0' INT TERM

# wait_port waits up to 60 s for a loopback port to accept connections.
wait_port() {
	for _ in $(seq 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1 after 60 s; see $dir/logs" >&2
	return 1
}

initial=""
for i in 1 2 3; do
	initial+="${initial:+,}m$i=http://127.0.0.1:$((etcd_port + 10 + i))"
done
endpoints=""
for i in 1 2 3; do
	cp=$((etcd_port + i)) pp=$((etcd_port + 10 + i))
	endpoints+="${endpoints:+,}127.0.0.1:$cp"
	"$etcd_bin" --name "m$i" --data-dir "$dir/etcd$i" \
		--listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
		--listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--initial-cluster "$initial" --initial-cluster-token articles-cluster \
		--auto-compaction-retention 1h >"$dir/logs/etcd$i.log" 2>&1 &
	pids+=($!)
done
for i in 1 2 3; do wait_port $((etcd_port + i)); done

addrs=""
for i in 1 2; do
	port=$((articles_port + i))
	addrs+="${addrs:+,}127.0.0.1:$port"
	"$articlesd_bin" --store etcd --etcd-endpoints "$endpoints" \
		--listen "127.0.0.1:$port" --db "$dir/articlesd$i.db" \
		--search-index "$dir/articlesd$i.search" >"$dir/logs/articlesd$i.log" 2>&1 &
	pids+=($!)
	# The first seeds the empty store before the second starts.
	wait_port "$port"
done

cat <<EOM
etcd members:   $endpoints  (logs: $dir/logs)
articlesd:      $addrs
try:            go run ./cmd/articles --addr $addrs list
stop:           Ctrl-C
EOM
echo ready >&2
wait -n "${pids[@]}" || true
echo "a process exited; stopping the rest (see $dir/logs)" >&2
