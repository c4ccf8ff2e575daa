#!/usr/bin/env python3
"""Cut the small benches that loadgen/tests/summary.rs renders out of committed results.

Each fixture keeps a few models, points and blocks of one committed raw.json, so that its
summary.md is short enough to read in a snapshot while every section of the summary is
rendered by at least one fixture. Run from the repository root:

    python3 scripts/summary-fixtures.py      # rewrites loadgen/tests/fixtures/benches/*/raw.json
"""
import json
import os

OUT = "loadgen/tests/fixtures/benches"

# name: (source raw.json, models kept, (suite, point) kept, highest block kept)
FIXTURES = {
    # Interleaved ping-pong with a twin, fixed rate, plans and frames with the loopback rows.
    "interleaved": ("results/2026-12-05-vm/bench-5/bench/raw.json",
                    ["epoll", "epoll-twin", "tokio", "uring", "iperf3", "loadgen-stream"],
                    [("pingpong", "100"), ("pingpong", "rate-50000"), ("plans", "100x1000"),
                     ("frames", "loopback"), ("frames", "1MiB")], 8),
    # A second bench of the same design, for `loadgen compare A B`.
    "interleaved-again": ("results/2026-12-05-vm/bench-4/bench/raw.json",
                          ["epoll", "epoll-twin", "tokio", "uring", "iperf3", "loadgen-stream"],
                          [("pingpong", "100"), ("pingpong", "rate-50000"), ("plans", "100x1000"),
                           ("frames", "loopback"), ("frames", "1MiB")], 8),
    # Before/after builds as variants of one model.
    "variants": ("results/2026-12-05-vm/ab-known-cost/bench/raw.json",
                 ["epoll", "epoll-copy", "epoll-300ns"],
                 [("pingpong", "100"), ("pingpong", "rate-50000")], 8),
    # Fresh-server blocks where models fail: the errors verdicts.
    "errors": ("results/2026-12-02-vm/bench-60k/raw.json",
               ["thread", "epoll", "tokio", "uring"],
               [("pingpong", "60000"), ("pingpong", "rate-50000")], 3),
    # Python baselines beside the studies' published ratios.
    "baselines": ("results/2026-12-02-vm/bench-baselines/raw.json",
                  ["epoll", "tokio", "py-asyncio", "py-uvloop", "iperf3", "loadgen-stream"],
                  [("pingpong", "100"), ("pingpong", "rate-10000"), ("plans", "100x1000"),
                   ("frames", "loopback"), ("frames", "1MiB")], 3),
    # Per-request work: the mixed suite's sweep and caps.
    "mixed": ("results/2026-11-22-vm/bench-mixed/raw.json",
              ["thread", "epoll", "tokio"],
              [("mixed", "1"), ("mixed", "11"), ("mixed", "23"), ("mixed", "50"),
               ("mixed", "50-max12")], 3),
    # Processes and accept modes: the spread suite.
    "spread": ("results/2026-12-02-vm/bench-spread/raw.json",
               ["thread", "epoll", "tokio", "uring"],
               [("spread", p) for p in ["p2-shared", "p2-exclusive", "p2-reuseport", "p4-shared"]],
               2),
}


def block_of(run):
    return run.get("block", run.get("round", 1))


def main():
    for name, (source, models, points, blocks) in FIXTURES.items():
        with open(source) as f:
            bench = json.load(f)
        bench["runs"] = [
            r for r in bench["runs"]
            if r["model"] in models and (r["suite"], r["point"]) in points
            and block_of(r) <= blocks
        ]
        config = bench["config"]
        config["models"] = [m for m in config["models"] if m in models]
        config["suites"] = [s for s in config["suites"] if any(s == p[0] for p in points)]
        if "variants" in config:
            config["variants"] = [v for v in config["variants"] if v["name"] in models]
        key = "rounds" if "rounds" in config else "blocks"  # older benches said rounds
        config[key] = min(config.get(key, blocks), blocks)
        if config.get("slice_rounds"):
            config["slice_rounds"] = min(config["slice_rounds"], blocks)
        os.makedirs(f"{OUT}/{name}", exist_ok=True)
        with open(f"{OUT}/{name}/raw.json", "w") as f:
            json.dump(bench, f, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: {len(bench['runs'])} runs from {source}")


if __name__ == "__main__":
    main()
