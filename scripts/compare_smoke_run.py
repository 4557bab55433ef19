#!/usr/bin/env python3
"""CI check: a fresh smoke run must learn as the committed one did.

Usage: compare_smoke_run.py FRESH_RUNS_DIR COMMITTED_RUNS_DIR CLAIM_ID [--seed 0] [--tolerance-pp 10]

Reads the two records of (claim, smoke, seed) and fails (exit 1) unless the fresh run completed and
its result is within the tolerance of the committed one. On the same CPU type the two are equal to
the last bit; across CPUs float rounding may move a proxy by a few points, hence the tolerance.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audit.evidence import selected_evaluation
from audit.records import read_record, run_dir
from audit.registry import load_registry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fresh", type=Path)
    parser.add_argument("committed", type=Path)
    parser.add_argument("claim")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance-pp", type=float, default=10.0)
    parser.add_argument("--claims", type=Path, default=Path("claims"))
    args = parser.parse_args()
    claim = load_registry([args.claims]).claim(args.claim)
    fresh = read_record(run_dir(args.fresh, args.claim, "smoke", args.seed) / "run.json")
    committed = read_record(run_dir(args.committed, args.claim, "smoke", args.seed) / "run.json")
    if fresh.status != "completed":
        print(f"fresh smoke run of {args.claim} failed: {fresh.error}")
        return 1
    # the claim's checkpoint rule picks each run's result, as the report does
    new, old = selected_evaluation(fresh, claim).value, selected_evaluation(committed, claim).value
    gap = new - old
    print(f"{args.claim} smoke seed {args.seed}: fresh {new:.2f}% vs committed {old:.2f}% "
          f"({gap:+.2f} pp; identical: {new == old})")
    if abs(gap) > args.tolerance_pp:
        print(f"the fresh run is more than {args.tolerance_pp} pp from the committed one: learning changed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
