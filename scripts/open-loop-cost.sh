#!/usr/bin/env bash
# loadgen's own cost in the open loop (issue 24): echo-epoll pinned to CPU 0, loadgen to
# CPU 1, 100 connections at 50,000 msg/s for 5 s, RUNS runs of each loadgen build given,
# alternating; per run loadgen's CPU share, its send lateness and the p99 it reports, from
# each run's JSON, into OUT/summary.md (medians) and OUT/<build>-<i>.json. About 12 s a run.
#
#   scripts/open-loop-cost.sh OUT RUNS NAME=LOADGEN [NAME=LOADGEN ..]
set -euo pipefail
out=${1:?usage: scripts/open-loop-cost.sh OUT RUNS NAME=LOADGEN [NAME=LOADGEN ..]}
runs=${2:?RUNS}
shift 2
[ $# -ge 1 ] || { echo "give at least one NAME=LOADGEN" >&2; exit 2; }
root=$(git rev-parse --show-toplevel)
server="$root/target/release/echo-epoll"
[ -x "$server" ] || { echo "no $server: build with make release" >&2; exit 2; }
for b in "$@"; do [ -x "${b#*=}" ] || { echo "${b#*=} is not executable" >&2; exit 2; }; done
[ -e "$out" ] && { echo "$out exists already" >&2; exit 2; }
mkdir -p "$out"
for i in $(seq "$runs"); do
  for b in "$@"; do
    name=${b%%=*}; lg=${b#*=}
    port=$((20000 + RANDOM % 10000))
    taskset -c 0 "$server" --addr "127.0.0.1:$port" > "$out/.server" 2>&1 &
    spid=$!
    for _ in $(seq 50); do grep -q listening "$out/.server" && break; sleep 0.1; done
    taskset -c 1 "$lg" --host 127.0.0.1 --port "$port" --threads 100 --rate 50000 \
      --duration 5s --server-pid "$spid" --json "$out/$name-$i.json" > /dev/null
    kill "$spid"; wait "$spid" 2>/dev/null || true
    echo "run $i $name: load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
done
rm -f "$out/.server"
python3 - "$out" "$runs" "$@" > "$out/summary.md" <<'PY'
import json, statistics, sys
out, runs, builds = sys.argv[1], int(sys.argv[2]), [b.split('=', 1) for b in sys.argv[3:]]
print("# loadgen's open loop at 50,000 msg/s over 100 connections\n")
print("echo-epoll pinned to CPU 0, loadgen to CPU 1, 5 s runs, the builds alternating; medians over %d runs each (range in brackets).\n" % runs)
print("| build | loadgen CPU % | send lateness p50 / p99 / max us | p99 latency us | achieved msg/s |")
print("|---|---:|---:|---:|---:|")
for name, path in builds:
    rows = []
    for i in range(1, runs + 1):
        r = json.load(open(f"{out}/{name}-{i}.json"))
        c = r["loadgen_cpu"]
        late = r.get("send_lateness_us") or {}
        rows.append(((c["user_s"] + c["system_s"]) / r["elapsed_s"] * 100, late.get("p50"), late.get("p99"),
                     late.get("max"), r["latency_us"]["p99"], r["ok_per_s"]))
    def med(k, fmt):
        v = [x[k] for x in rows if x[k] is not None]
        if not v:
            return "-"
        return f"{fmt(statistics.median(v))} [{fmt(min(v))}-{fmt(max(v))}]"
    f0 = lambda v: f"{v:.0f}"
    print(f"| {name} (`{path}`) | {med(0, lambda v: f'{v:.1f}')} | {med(1, f0)} / {med(2, f0)} / {med(3, f0)} | {med(4, f0)} | {med(5, f0)} |")
PY
cat "$out/summary.md"
