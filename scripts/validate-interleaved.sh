#!/usr/bin/env bash
# The interleaved design's validation study (issue 23): every model and the reference's
# twin at 100 and 1,000 connections (and the fixed rate), interleaved with slices of
# 30 ms to 1 s (about 4-6 s of measured load per server each), then fresh servers in
# blocks of 3 s runs; `loadgen compare --ratios` puts every model's ratio to epoll side
# by side into OUT/summary.md. About 40 minutes on 2 cores.
#
#   scripts/validate-interleaved.sh OUT [BIN_DIR]
set -euo pipefail
out=${1:?usage: scripts/validate-interleaved.sh OUT [BIN_DIR]}
bins=${2:-target/release}
lg="$bins/loadgen"
[ -x "$lg" ] || { echo "no $lg: build with make release (or give BIN_DIR)" >&2; exit 2; }
[ -e "$out" ] && { echo "$out exists already" >&2; exit 2; }
mkdir -p "$out"
common=(--suite pingpong --twin --conns 100,1000 --seed 23 --bin-dir "$bins")
# measured ms, warm-up ms, rounds
for s in "30 20 120" "50 25 80" "100 50 40" "200 100 20" "500 100 8" "1000 200 5"; do
  set -- $s
  "$lg" bench "${common[@]}" --slice "$1ms" --slice-warmup "$2ms" --blocks "$3" \
    --out "$out/slice-$1ms" > "$out/slice-$1ms.log"
  "$lg" report "$out/slice-$1ms" > /dev/null
  tail -1 "$out/slice-$1ms.log"
done
"$lg" bench "${common[@]}" --design blocks --duration 3s --blocks 6 --out "$out/blocks-3s" > "$out/blocks-3s.log"
"$lg" report "$out/blocks-3s" > /dev/null
"$lg" compare --ratios "$out"/slice-30ms "$out"/slice-50ms "$out"/slice-100ms "$out"/slice-200ms \
  "$out"/slice-500ms "$out"/slice-1000ms "$out"/blocks-3s > "$out/summary.md"
echo "wrote $out/summary.md"
