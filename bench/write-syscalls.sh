#!/bin/sh
# write-syscalls.sh: what one CreateArticle costs the articlesd process, as
# issue 11 counts it.
#
#   1. fdatasync, fsync and pwrite64 calls per serial create: articlesd runs
#      under strace -c -f while ghz makes N creates with one caller (the
#      counts include start and shutdown, which N amortises).
#   2. server CPU per create: articlesd runs alone while ghz makes M creates
#      with 16 callers; user+system time of the articlesd process (its
#      full-text engine included) from /proc, divided by M.
#
# Needs strace, ghz (go install github.com/bojand/ghz/cmd/ghz@latest) and
# python3; run from the repository root, under the benchmark lock:
#
#   flock /tmp/bench.lock sh bench/write-syscalls.sh [N] [M]
#
# Each article is about 5 KB of text. Results go to stdout; BENCHMARKS.md
# has the figures.
set -eu
N=${1:-2000}
M=${2:-5000}
GHZ=${GHZ:-$(command -v ghz || echo "$(go env GOPATH)/bin/ghz")}
for tool in strace "$GHZ" python3; do
	command -v "$tool" >/dev/null || { echo "write-syscalls.sh: $tool is missing" >&2; exit 2; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/articlesd" ./cmd/articlesd

# data TAG: a CreateArticle request of about 5 KB whose title (and so slug)
# is unique per request.
data() {
	python3 - "$1" <<'PY'
import json, random, sys
r = random.Random(7)
words = [w for w in "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all we their has would when if so no will more can out said its who about than them into only other time new some could these two may first then do any like my now over such our man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three".split()]
body = []
while sum(len(w) + 1 for w in body) < 5000:
    body.append(words[min(int(r.paretovariate(1.1)) - 1, len(words) - 1)])
print(json.dumps({"article": {
    "title": "Syscall %s {{.RequestNumber}} {{.TimestampUnixNano}}" % sys.argv[1],
    "body": " ".join(body), "authors": ["Bench Author"], "tags": ["bench"], "source": "BENCH"}}))
PY
}
data serial >"$dir/serial.json"
data load >"$dir/load.json"

# wait_up ADDRFILE: wait (bounded) for the daemon's listening line.
wait_up() {
	i=0
	until grep -q 'msg=listening' "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "articlesd did not start:" >&2; cat "$1" >&2; exit 1; }
		sleep 0.05
	done
	sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$1" | head -n 1
}

ghz_run() { # ADDR CONCURRENCY TOTAL DATAFILE
	"$GHZ" --insecure --call articles.v1.ArticleService.CreateArticle \
		-c "$2" -n "$3" -D "$4" --format=summary "$1" >"$dir/ghz.txt" 2>&1 || { cat "$dir/ghz.txt" >&2; exit 1; }
	grep -E 'Requests/sec|\[OK\]' "$dir/ghz.txt" | sed 's/^ */  /'
}

echo "== $N serial creates under strace -c -f"
strace -f -c -o "$dir/strace.txt" -e trace=fdatasync,fsync,pwrite64 \
	"$dir/articlesd" --db "$dir/s.db" --listen 127.0.0.1:0 --no-seed 2>"$dir/s.log" &
spid=$!
addr=$(wait_up "$dir/s.log")
ghz_run "$addr" 1 "$N" "$dir/serial.json"
kill -TERM "$(pgrep -P $spid)"
wait $spid || true
for call in fdatasync fsync pwrite64; do
	awk -v c=$call -v n="$N" '$NF == c { printf "  %-10s %7d calls  %.2f per create\n", c, $4, $4 / n }' "$dir/strace.txt"
done

echo "== $M creates, 16 callers: server CPU"
"$dir/articlesd" --db "$dir/c.db" --listen 127.0.0.1:0 --no-seed 2>"$dir/c.log" &
dpid=$!
addr=$(wait_up "$dir/c.log")
ghz_run "$addr" 16 200 "$dir/serial.json" >/dev/null # warm up
tick=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$dpid/stat"; }
before=$(cpu)
start=$(date +%s.%N)
ghz_run "$addr" 16 "$M" "$dir/load.json"
after=$(cpu)
end=$(date +%s.%N)
kill -TERM $dpid
wait $dpid || true
awk -v b="$before" -v a="$after" -v t="$tick" -v m="$M" -v s="$start" -v e="$end" 'BEGIN {
	printf "  server CPU %.3f ms per create (%.2f of %.1f s wall: %.0f%% of one core)\n", (a - b) / t / m * 1000, (a - b) / t, e - s, (a - b) / t / (e - s) * 100 }'
