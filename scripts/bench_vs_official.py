#!/usr/bin/env python3
"""Time our trainer and the official TRM/HRM code side by side, interleaved A B A B.

    python scripts/bench_vs_official.py --official /tmp/official-trm \\
        --configs sudoku-mlp-full smoke:sudoku-extreme/trm-mlp --dtypes bfloat16 float32 \\
        --batch-size 16 --threads 2 --pairs 2 --steps 3 --eval --out reports/performance-runs.jsonl

For each configuration and dtype, each pair runs the official step bench (--official-bench,
default `bench/official_step_bench.py` in the shared folder `../shared` next to the repository,
with OFFICIAL_TRM pointing at a work tree of the official repository) and then ours
(`python -m trm.bench`, or `python -m audit.bench_setups` for a registry profile), one process at
a time, at the same config, batch, dtype, threads and environment, and prints the ratio of
samples/s pair by pair: on a shared machine the load drifts, so only ratios of neighbouring runs
mean something.

Both sides run the trainer's whole step: forward with the loss, backward, the optimisers and the
EMA update (the official bench with --ema; its AdamW stands in for the CUDA-only AdamATan2).
Registry profiles (`smoke:CLAIM-ID`, looked up by `audit.bench_setups`) are not among the official
bench's names; they are added to its CONFIGS table in the subprocess, translated by
`trm.bench.official_bench_config`.
Each pair appends one JSON line (both results and the ratios) to --out.

The official code needs `einops` and `pydantic` importable (pip install einops pydantic); the
work tree comes from a clone of https://github.com/SamsungSAILMontreal/TinyRecursiveModels with
    git -C TinyRecursiveModels archive HEAD | tar -x -C /tmp/official-trm
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OFFICIAL_BENCH = REPO.parent / "shared" / "bench" / "official_step_bench.py"

# Runs the official bench with one more entry in its CONFIGS table (a registry profile).
_INJECT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("official_step_bench", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
name, cfg = sys.argv[2], json.loads(sys.argv[3])
bench.CONFIGS[name] = cfg
sys.argv = [sys.argv[1], name] + sys.argv[4:]
bench.main()
"""


def official_command(args, config: str, dtype: str) -> list[str]:
    """The official bench's command line for one run (paper names directly, profiles injected)."""
    from audit.bench_setups import resolve_bench_setup
    from trm.bench import PAPER_SETUPS, official_bench_config

    setup = resolve_bench_setup(config)
    options = ["--dtype", dtype, "--batch-size", str(args.batch_size or setup.batch_size),
               "--puzzle-emb-ndim", str(setup.model.puzzle_emb_ndim), "--warmup", str(args.warmup),
               "--min-steps", str(args.steps), "--floor-steps", str(args.steps), "--min-seconds", "0", "--ema",
               "--eval-steps", str(_eval_steps(args, setup) if args.eval else 0)]
    if args.threads:
        options += ["--threads", str(args.threads)]
    if config in PAPER_SETUPS:
        return [sys.executable, str(args.official_bench), config] + options
    table_entry = official_bench_config(setup)
    table_entry.pop("puzzle_emb_ndim")  # the bench takes it from --puzzle-emb-ndim
    return [sys.executable, "-c", _INJECT, str(args.official_bench), config, json.dumps(table_entry)] + options


def our_command(args, config: str, dtype: str) -> list[str]:
    from audit.bench_setups import resolve_bench_setup
    from trm.bench import PAPER_SETUPS

    module = "trm.bench" if config in PAPER_SETUPS else "audit.bench_setups"  # the latter knows the registry
    command = [sys.executable, "-m", module, config, "--dtype", dtype, "--warmup", str(args.warmup),
               "--steps", str(args.steps)]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    threads = args.our_threads or args.threads
    if threads:
        command += ["--threads", str(threads)]
    if args.eval:
        command += ["--eval", "--eval-steps", str(_eval_steps(args, resolve_bench_setup(config)))]
        if args.our_eval_batch_size:
            command += ["--eval-batch-size", str(args.our_eval_batch_size)]
    if args.cpu_matmul:
        command += ["--cpu-matmul", args.cpu_matmul]
    if args.compile:
        command.append("--compile")
    if args.profile:
        command += ["--profile", str(args.profile)]
    return command


def _eval_steps(args, setup) -> int:
    return min(args.eval_steps or setup.model.halt_max_steps, setup.model.halt_max_steps)


def run_json(command: list[str], env: dict, timeout: float) -> dict:
    """Run one benchmark process; its last stdout line as JSON, or {'error': ...}."""
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}", "wall_s": wall}
    result = json.loads(lines[-1])
    result["process_wall_s"] = wall
    return result


def main(argv=None) -> int:
    from trm.host import loadavg

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", required=True, type=Path, help="work tree of the official repository")
    parser.add_argument("--official-bench", type=Path, default=DEFAULT_OFFICIAL_BENCH)
    parser.add_argument("--configs", nargs="+", required=True, help="paper names or PROFILE:CLAIM-ID")
    parser.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"], choices=["bfloat16", "float32"])
    parser.add_argument("--batch-size", type=int, default=None, help="default: each config's own")
    parser.add_argument("--threads", type=int, default=None, help="torch threads on both sides (default: torch's)")
    parser.add_argument("--pairs", type=int, default=2, help="official/ours pairs per config and dtype")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed training steps first")
    parser.add_argument("--eval", action="store_true", help="also time evaluation (N_sup steps, no grad)")
    parser.add_argument("--eval-steps", type=int, default=None, help="evaluation steps timed (extrapolated to N_sup)")
    parser.add_argument("--cpu-matmul", choices=["torch", "onednn"], default=None, help="ours: float32 CPU matmuls")
    parser.add_argument("--compile", action="store_true", help="ours: torch.compile the blocks (the official side stays eager, "
                        "as its bench runs on CPU)")
    parser.add_argument("--profile", type=int, default=0, help="ours: list the TOP operators of one more step")
    parser.add_argument("--omp-wait-policy", choices=["passive", "active", "unset"], default="unset",
                        help="OMP_WAIT_POLICY for both sides (unset: as the environment has it)")
    parser.add_argument("--our-threads", default=None,
                        help="ours only: N or 'auto' (threads from the cores the load leaves); default --threads")
    parser.add_argument("--our-omp-wait-policy", choices=["passive", "active", "unset"], default=None,
                        help="ours only: OMP_WAIT_POLICY (unset: removed; default: as --omp-wait-policy)")
    parser.add_argument("--our-eval-batch-size", type=int, default=None, help="ours only: evaluation batch")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark process")
    parser.add_argument("--out", type=Path, default=None, help="append one JSON line per pair here")
    args = parser.parse_args(argv)

    if not (args.official / "models").is_dir():
        parser.error(f"--official {args.official}: not a work tree of the official repository (no models/)")
    env = dict(os.environ, OFFICIAL_TRM=str(args.official.resolve()))
    if args.omp_wait_policy != "unset":
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    our_env = dict(env)
    if args.our_omp_wait_policy:
        our_env.pop("OMP_WAIT_POLICY", None)
        if args.our_omp_wait_policy != "unset":
            our_env["OMP_WAIT_POLICY"] = args.our_omp_wait_policy.upper()
    failures = 0
    for config in args.configs:
        for dtype in args.dtypes:
            ratios = []
            for pair in range(args.pairs):
                load_before = loadavg() or []
                official = run_json(official_command(args, config, dtype), env, args.timeout)
                ours = run_json(our_command(args, config, dtype), our_env, args.timeout)
                record = {"config": config, "dtype": dtype, "pair": pair, "threads": args.threads,
                          "warmup": args.warmup, "steps": args.steps,
                          "our_threads": ours.get("threads"), "our_omp_wait_policy": our_env.get("OMP_WAIT_POLICY"),
                          "batch_size": ours.get("batch_size", official.get("batch_size")),
                          "cpu_matmul": ours.get("cpu_matmul"), "compile": args.compile,
                          "omp_wait_policy": env.get("OMP_WAIT_POLICY"), "loadavg_before": load_before,
                          "loadavg_after": loadavg() or [], "official": official, "ours": ours}
                if "error" in official or "error" in ours:
                    failures += 1
                    print(f"{config} {dtype} pair {pair}: FAILED official={official.get('error')} "
                          f"ours={ours.get('error')}", flush=True)
                else:
                    record["train_ratio"] = ours["samples_per_s"] / official["train_samples_per_s"]
                    if args.eval:
                        record["eval_ratio"] = ours["eval"]["samples_per_s"] / official["eval_samples_per_s"]
                    ratios.append(record["train_ratio"])
                    print(f"{config} {dtype} B={record['batch_size']} pair {pair}: official "
                          f"{official['train_samples_per_s']:.2f} samples/s, ours {ours['samples_per_s']:.2f} "
                          f"-> train x{record['train_ratio']:.2f}"
                          + (f", eval x{record['eval_ratio']:.2f}" if args.eval else "")
                          + f" (load {load_before[:1]} -> {record['loadavg_after'][:1]})", flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(record) + "\n")
            if ratios:
                print(f"{config} {dtype}: median train ratio x{statistics.median(ratios):.2f} over {len(ratios)} pairs",
                      flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
