#!/usr/bin/env bash
# `make jmeter MODEL=epoll PLAN=2 [SCALE=0.1]`: one PyYYC plan run by real JMeter against a
# fresh echo-MODEL, then by loadgen against the same server, side by side.
#
#   scripts/jmeter-plan.sh MODEL PLAN SCALE RESULTS
#
# PLAN 1 is 1000 threads x 2000 loops, PLAN 2 100 x 20000, both with a 1 s ramp-up; SCALE
# scales the loops (at least 1). Writes RESULTS/jmeter/MODEL-planN/ (replacing an earlier
# run there): results.jtl, console.txt (JMeter's console, its `summary` lines), jmeter.log,
# jmeter-version, jmeter.json and jmeter.txt (`loadgen import-jtl`), loadgen.json and
# loadgen.txt (the same plan by loadgen), compare.md (`loadgen compare`), server.err and
# run.txt (what ran where). With two or more CPUs the server is pinned to CPU 0 and JMeter
# and loadgen to the others. Exits 1 when JMeter's run was not threads x loops samples
# without an error.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "jmeter-plan: $*" >&2; }
die() { say "$*"; exit 1; }

[ $# = 4 ] || { echo "usage: $0 MODEL PLAN SCALE RESULTS" >&2; exit 2; }
model=$1 plan=$2 scale=$3 results=$4
[ -d "servers/$model" ] && [ "$model" != conformance ] || die "unknown MODEL '$model' (see servers/)"
case $plan in
    1) threads=1000 loops=2000 ;;
    2) threads=100 loops=20000 ;;
    *) die "PLAN must be 1 (1000 x 2000) or 2 (100 x 20000), not '$plan'" ;;
esac
loops=$(awk -v l="$loops" -v s="$scale" 'BEGIN {
    if (s !~ /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ || s <= 0) exit 1
    v = int(l * s + 0.5); print (v < 1 ? 1 : v) }') || die "SCALE must be a positive number, not '$scale'"
out=$results/jmeter/$model-plan$plan

# Everything needed, before anything runs.
bash scripts/jmeter-setup.sh --no-install >/dev/null
cargo build --release --locked --quiet -p "echo-$model" -p loadgen
rm -rf "$out"
mkdir -p "$out"

server_pin=() client_pin=() client_cpus=""
cpus=$(nproc)
if [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
    server_pin=(taskset -c 0)
    client_cpus=1-$((cpus - 1))
    client_pin=(taskset -c "$client_cpus")
fi

"${server_pin[@]}" "./target/release/echo-$model" --addr 127.0.0.1:0 >"$out/server.out" 2>"$out/server.err" &
server=$!
stop_server() {
    kill -TERM "$server" 2>/dev/null || return 0
    for _ in $(seq 30); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}
trap stop_server EXIT
for _ in $(seq 300); do
    grep -q '^listening on ' "$out/server.out" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || die "echo-$model exited before it was ready: $(cat "$out/server.err")"
    sleep 0.1
done
ready=$(head -1 "$out/server.out")
port=$(sed -n 's/^listening on [^ ]*:\([0-9]*\) .*/\1/p' <<<"$ready")
[ -n "$port" ] || die "echo-$model printed no readiness line within 30 s"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(hostname -s), kernel $(uname -r), $cpus CPUs"
    echo "server: $ready (pid $server, CPUs ${server_pin[*]:-not pinned})"
    echo "plan $plan: $threads threads x $loops loops (scale $scale), ramp-up 1 s, 64-byte line"
    echo "client CPUs: ${client_cpus:-not pinned}"
} >"$out/run.txt"
say "$ready; JMeter: $threads threads x $loops loops"

JMETER_CPUS=$client_cpus bash scripts/run-jmeter.sh "$out" \
    -q "$root/jmeter/plan$plan.properties" -Jloops="$loops" -Jport="$port" >/dev/null
version=$(cat "$out/jmeter-version")
echo "jmeter: $version" >>"$out/run.txt"
grep '^summary = ' "$out/console.txt" | tail -1 >&2

# JMeter's figures as loadgen's report (checked against JMeter's own `summary =` line).
imported=0
./target/release/loadgen import-jtl "$out/results.jtl" --threads "$threads" --loops "$loops" \
    --rampup 1s --target "127.0.0.1:$port" --generator "jmeter $version" \
    --summary "$out/console.txt" --json "$out/jmeter.json" >"$out/jmeter.txt" || imported=$?

say "loadgen: the same plan against the same server"
"${client_pin[@]}" ./target/release/loadgen --port "$port" --threads "$threads" --loops "$loops" \
    --rampup 1s --server-pid "$server" --json "$out/loadgen.json" >"$out/loadgen.txt" || true
stop_server
trap - EXIT

./target/release/loadgen compare "$out/jmeter.json" "$out/loadgen.json" >"$out/compare.md"
cat "$out/compare.md"
say "wrote $out"

# JMeter's run is good when it holds every planned sample and no error.
line=$(sed -n 's/^samples: \([0-9]*\) planned, \([0-9]*\) completed ([0-9]* ok, \([0-9]*\) errors).*/\1 \2 \3/p' "$out/jmeter.txt")
read -r planned done errors <<<"${line:-0 -1 -1}"
if [ "$imported" != 0 ] || [ "$planned" != "$done" ] || [ "$errors" != 0 ]; then
    die "JMeter's run is not clean: $planned planned, $done completed, $errors errors (see $out/jmeter.txt)"
fi
