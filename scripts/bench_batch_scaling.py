#!/usr/bin/env python3
"""How a training step's cost grows with its batch, at one config: the most that batching could buy.

    python scripts/bench_batch_scaling.py --configs proxy:sudoku-extreme/trm-mlp --factor 4 \\
        --batch-size 64 --threads 1 --pairs 3

For each config, each pair runs our step bench (`python -m audit.bench_setups`, one process at a
time) at batch B and then at batch factor x B, and prints samples/s of each and their ratio pair by
pair (on a shared machine only neighbouring runs compare). A ratio near 1 means the step is paid per
sample (matmul and element-wise work), near `factor` that it is paid per call (Python, dispatch and
launch overhead, which a bigger batch amortises).

Why it matters: the idea of training K seeds in one step (their weights stacked, one kernel per
op for all of them) can at best buy what a K-times larger batch buys, since the stacked step does
the same FLOPs and element-wise work over K x B samples, plus per-seed weights. Where the ratio is
near 1 that idea cannot make the proxy audit faster.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench(config: str, batch: int, threads: int, samples: int) -> dict:
    """One bench process at `batch`; timed steps chosen so each side times about `samples` samples."""
    steps = max(3, samples // batch)
    command = [sys.executable, "-m", "audit.bench_setups", config, "--batch-size", str(batch),
               "--threads", str(threads), "--steps", str(steps), "--warmup", "2", "--ceiling-seconds", "0.05"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", required=True, help="PROFILE:CLAIM-ID of the registry")
    parser.add_argument("--batch-size", type=int, default=64, help="the smaller batch, B")
    parser.add_argument("--factor", type=int, default=4, help="the larger batch is factor x B")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1280, help="samples timed per side")
    args = parser.parse_args(argv)
    if args.factor < 2 or args.batch_size < 1 or args.pairs < 1:
        parser.exit(2, "error: --factor must be at least 2, --batch-size and --pairs at least 1\n")
    big = args.batch_size * args.factor
    for config in args.configs:
        ratios = []
        for pair in range(1, args.pairs + 1):
            small_run = bench(config, args.batch_size, args.threads, args.samples)
            big_run = bench(config, big, args.threads, args.samples)
            ratio = big_run["samples_per_s"] / small_run["samples_per_s"]
            ratios.append(ratio)
            print(f"{config} pair {pair}: batch {args.batch_size} {small_run['samples_per_s']:.1f} samples/s "
                  f"(utilisation {small_run['utilisation']:.0%}), batch {big} {big_run['samples_per_s']:.1f} samples/s "
                  f"(utilisation {big_run['utilisation']:.0%}): x{ratio:.2f}", flush=True)
        print(f"{config}: batch x{args.factor} gives x{statistics.median(ratios):.2f} samples/s "
              f"(median of {len(ratios)} pairs, {min(ratios):.2f}-{max(ratios):.2f}) at {args.threads} thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
