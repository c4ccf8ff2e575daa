#!/usr/bin/env bash
# The before/after check of `--variant NAME=MODEL:bin=PATH` (issue 24): echo-epoll beside
# an identical copy of its binary (must come out equivalent) and beside a build that spins
# 300 ns per read (scripts/ab-known-cost.patch: a known added cost, must come out costlier),
# in one interleaved ping-pong bench at 100 and 1,000 connections and the fixed rate. The
# patched build is made in a throwaway worktree of HEAD into target/ab. About 5 minutes on
# 2 cores once built.
#
#   scripts/ab-known-cost.sh OUT [ROUNDS]
set -euo pipefail
out=${1:?usage: scripts/ab-known-cost.sh OUT [ROUNDS]}
rounds=${2:-150}
root=$(git rev-parse --show-toplevel)
lg="$root/target/release/loadgen"
[ -x "$lg" ] && [ -x "$root/target/release/echo-epoll" ] ||
  { echo "no $lg or echo-epoll: build with make release" >&2; exit 2; }
[ -e "$out" ] && { echo "$out exists already" >&2; exit 2; }
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/src" 2>/dev/null; rm -rf "$work"' EXIT
git -C "$root" worktree add -q --detach "$work/src" HEAD
git -C "$work/src" apply "$root/scripts/ab-known-cost.patch"
(cd "$work/src" && CARGO_TARGET_DIR="$root/target/ab" cargo build --quiet --release --locked -p echo-epoll)
cp "$root/target/release/echo-epoll" "$work/echo-epoll-copy"
cp "$root/target/ab/release/echo-epoll" "$work/echo-epoll-300ns"
mkdir -p "$out"
cp "$root/scripts/ab-known-cost.patch" "$out/"
"$lg" bench --suite pingpong --models epoll --conns 100,1000 --seed 24 \
  --variant "epoll-copy=epoll:bin=$work/echo-epoll-copy" \
  --variant "epoll-300ns=epoll:bin=$work/echo-epoll-300ns" \
  --slice 30ms --slice-warmup 20ms --slice-rounds "$rounds" --out "$out/bench" | tail -3
"$lg" report "$out/bench" > /dev/null
echo "wrote $out/bench/summary.md"
