#!/usr/bin/env bash
# Issue 28's study of the two pool models, run from release binaries (`make release`):
#   1. the hand-off's cost, interleaved (servers kept up, 150 rounds of 30 ms slices):
#      reactor-pool with 1 and 2 workers against epoll and a second epoll (the twin: what no
#      difference looks like), ping-pong at 100 connections and the fixed rate; with
#      BEFORE=PATH also that build of echo-reactor-pool, as `reactor-pool-before`;
#   2. ping-pong at 100 and 1,000 connections (and the fixed-rate point): thread, epoll,
#      reactor-pool (1 worker) and pool with 1, 8, 64 and 1,024 workers, in blocks of fresh
#      servers (a pool smaller than a point's connections starves the rest: interleaved
#      slices would wait out every starved connection's drain limit);
#   3. the mixed workload around its knee (6, 12 and 23 connections, and 50 with and without
#      --max-conns 12): reactor-pool with 1 and 2 workers against epoll and tokio.
#
#   scripts/pool-study.sh OUT [BLOCKS]     # OUT/handoff, OUT/pingpong and OUT/mixed, each a
#                                          # bench folder (about 9 minutes at 5 blocks)
set -euo pipefail
out=${1:?usage: scripts/pool-study.sh OUT [BLOCKS]}
blocks=${2:-5}
lg=target/release/loadgen
[[ -x $lg ]] || { echo "pool-study: build first (make release)" >&2; exit 2; }
before=()
[[ -n ${BEFORE:-} ]] && before=(--variant "reactor-pool-before=reactor-pool:bin=$BEFORE")
"$lg" bench --suite pingpong --conns 100 --duration 1s --blocks 150 --twin \
    --models epoll,reactor-pool --variant reactor-pool-2=reactor-pool:--threads=2 \
    "${before[@]}" --out "$out/handoff"
"$lg" report "$out/handoff"
"$lg" bench --suite pingpong --design blocks --conns 100,1000 --duration 1s --blocks "$blocks" \
    --models thread,epoll,reactor-pool,pool \
    --variant pool-1=pool:--threads=1 --variant pool-8=pool:--threads=8 \
    --variant pool-64=pool:--threads=64 \
    --out "$out/pingpong"
"$lg" report "$out/pingpong"
"$lg" bench --suite mixed --mixed-conns 6,12,23 --duration 3s --blocks "$blocks" \
    --models epoll,tokio,reactor-pool --variant reactor-pool-2=reactor-pool:--threads=2 \
    --out "$out/mixed"
"$lg" report "$out/mixed"
