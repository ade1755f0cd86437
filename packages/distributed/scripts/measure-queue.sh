#!/usr/bin/env bash
# Times `concord train --queue` against the single-process per-task run of the same config, on this
# machine: a private redis-server on a free loopback port, WORKERS `concord worker` processes, then
# the median iteration time (iterations 3.., from metrics.jsonl) and the coordinator's byte counts.
#   packages/distributed/scripts/measure-queue.sh <config.json> <workers> [extra `concord train` args]
# workers = 0: the single-process run (no queue). Needs the built packages and redis-server.
set -euo pipefail
config=$1 workers=$2
shift 2
root=$(cd "$(dirname "$0")/../../.." && pwd)
cli="$root/packages/cli/dist/cli.js"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
median() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    const times = lines.filter((r) => r.iteration >= 3).map((r) => r.iterationSeconds).sort((a, b) => a - b);
    console.log((times[Math.floor(times.length / 2)] * 1000).toFixed(1));' "$1"
}
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$workers" -eq 0 ]; then
  node "$cli" train "$config" --out "$work/run" --progress none "$@" >/dev/null
  echo "single process: median iteration $(median "$work/run/metrics.jsonl") ms"
  exit 0
fi
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!); disown
sleep 0.5
url="redis://127.0.0.1:$port"
for i in $(seq "$workers"); do
  node "$cli" worker --queue "$url" --store "$work/store" >"$work/worker-$i.log" 2>&1 &
  pids+=($!); disown
done
for i in $(seq "$workers"); do
  until grep -qs "waiting for runs" "$work/worker-$i.log"; do sleep 0.2; done
done
node "$cli" train "$config" --queue "$url" --out "$work/run" --progress none "$@" | grep '^queue:'
echo "$workers workers: median iteration $(median "$work/run/metrics.jsonl") ms"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
