#!/usr/bin/env bash
# Re-render every committed bench (results/**/raw.json) into a scratch folder with the given
# loadgen and compare what comes out with what is committed: summary.md and every SVG.
# A refactor of the report must leave them byte-identical, save where a change is intended.
#
#   scripts/rerender-check.sh [LOADGEN]     # default target/release/loadgen
#
# Prints one line per bench (same / differs: files) and exits 1 when any differs.
set -euo pipefail
loadgen=${1:-target/release/loadgen}
[[ -x $loadgen ]] || { echo "rerender-check: no executable loadgen at $loadgen" >&2; exit 2; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
while IFS= read -r raw; do
    dir=$(dirname "$raw")
    out="$scratch/$dir"
    mkdir -p "$out"
    cp "$raw" "$out/raw.json"
    if ! "$loadgen" report "$out" >/dev/null 2>"$out/stderr"; then
        echo "$dir: report failed: $(head -1 "$out/stderr")"; status=1; continue
    fi
    differs=()
    for f in "$dir"/summary.md "$dir"/*.svg; do
        [[ -e $f ]] || continue
        cmp -s "$f" "$out/$(basename "$f")" || differs+=("$(basename "$f")")
    done
    for f in "$out"/*.svg; do
        [[ -e $f ]] || continue
        [[ -e $dir/$(basename "$f") ]] || differs+=("new:$(basename "$f")")
    done
    if ((${#differs[@]})); then
        echo "$dir: differs: ${differs[*]}"; status=1
    else
        echo "$dir: same"
    fi
done < <(find results -name raw.json | sort)
exit $status
