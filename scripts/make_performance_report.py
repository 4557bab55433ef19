#!/usr/bin/env python3
"""Write reports/performance.md from the JSON lines of scripts/bench_vs_official.py.

    python scripts/make_performance_report.py [--runs reports/performance-runs.jsonl] [--out reports/performance.md]

Rows group the pairs of one configuration, dtype, batch, matmul kernel and settings. A ratio is the
median of the pair-by-pair ratios (each pair ran back to back, so load drift cancels within it);
"per CPU-s" divides each side's samples/s by its CPU-seconds per wall-second, i.e. compares the
work done per core-second actually received, which is what a shared machine bills. Targets are
issue 9's. The output depends only on the input file.
"""
from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAPER = {"sudoku-mlp-full", "sudoku-att-full", "maze-att-full", "sudoku-mlp-small", "hrm-sudoku-att"}


def train_target(config: str, dtype: str) -> float | None:
    """Issue 9's training-step speed-up for a configuration (None: no target)."""
    if config.startswith("smoke:"):
        return 2.0
    if config in ("sudoku-mlp-full", "sudoku-att-full"):
        return 2.0 if dtype == "bfloat16" else 1.5
    if config == "hrm-sudoku-att":
        return 1.5
    return None


def load_runs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def group_key(run: dict) -> tuple:
    ours = run.get("ours") or {}
    return (run["config"], run["dtype"], run["batch_size"], run.get("threads"), run.get("cpu_matmul") or "torch",
            bool(run.get("compile")), run.get("omp_wait_policy") or "default",
            run.get("our_threads", run.get("threads")), run.get("our_omp_wait_policy", run.get("omp_wait_policy")) or "default",
            (ours.get("eval") or {}).get("batch_size", run["batch_size"]))


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value, spec: str = ".2f", suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def _verdict(value, target, higher_is_better: bool = True) -> str:
    if value is None or target is None:
        return ""
    return "yes" if (value >= target if higher_is_better else value <= target) else "**no**"


def summarise(runs: list[dict]) -> list[dict]:
    """One row per group: medians over its successful pairs."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        if "train_ratio" in run:
            groups[group_key(run)].append(run)
    rows = []
    for key, pairs in groups.items():
        config, dtype, batch, threads, matmul, compiled, policy, our_threads, our_policy, eval_batch = key
        off, our = [p["official"] for p in pairs], [p["ours"] for p in pairs]
        per_cpu = [(o["samples_per_s"] / o["eff_cores"]) / (f["train_samples_per_s"] / f["train_effective_cores"])
                   for f, o in zip(off, our)]
        row = dict(config=config, dtype=dtype, batch=batch, threads=threads, matmul=matmul, compiled=compiled,
                   policy=policy, our_threads=our_threads, our_policy=our_policy, eval_batch=eval_batch,
                   pairs=len(pairs),
                   official_sps=_median(f["train_samples_per_s"] for f in off),
                   ours_sps=_median(o["samples_per_s"] for o in our),
                   ratio=_median(p["train_ratio"] for p in pairs),
                   ratio_range=(min(p["train_ratio"] for p in pairs), max(p["train_ratio"] for p in pairs)),
                   ratio_per_cpu=_median(per_cpu),
                   utilisation=_median(o["utilisation"] for o in our),
                   official_utilisation=_median(f["train_achieved_gflops"] / o["matmul_ceiling_gflops"]
                                                for f, o in zip(off, our)),
                   ceiling=_median(o["matmul_ceiling_gflops"] for o in our),
                   cores_official=_median(f["train_effective_cores"] for f in off),
                   cores_ours=_median(o["eff_cores"] for o in our),
                   rss_official=_median(f["peak_rss_mib"] for f in off),
                   rss_ours=_median(o["peak_rss_mib"] for o in our),
                   warmup_ours=_median(o.get("warmup_s") for o in our),
                   eval_ratio=_median(p.get("eval_ratio") for p in pairs),
                   eval_official=_median(f.get("eval_samples_per_s") for f in off),
                   eval_ours=_median((o.get("eval") or {}).get("samples_per_s") for o in our),
                   eval_steps=_median((o.get("eval") or {}).get("act_steps_timed") for o in our),
                   n_sup=_median((o.get("eval") or {}).get("act_steps") for o in our),
                   load=[p["loadavg_before"][0] for p in pairs if p.get("loadavg_before")],
                   profile=next((o["profile_top_self_cpu"] for o in our if o.get("profile_top_self_cpu")), None),
                   target=train_target(config, dtype))
        rows.append(row)
    order = {"smoke": 1}
    rows.sort(key=lambda r: (order.get(r["config"].split(":")[0], 0), r["config"], r["dtype"], r["matmul"],
                             r["compiled"], r["policy"], str(r["our_threads"]), r["our_policy"], r["eval_batch"]))
    return rows


def _settings(row: dict) -> str:
    """Ours' kernels, and every setting in which this row departs from the common set-up."""
    parts = [row["matmul"] if row["dtype"] == "float32" else "oneDNN (bf16)"]
    if row["compiled"]:
        parts.append("compiled")
    if row["policy"] != "PASSIVE":
        parts.append(f"OMP {row['policy'].lower()}")
    if (row["our_threads"], row["our_policy"]) != (row["threads"], row["policy"]):
        parts.append(f"ours: {row['our_threads']} thread(s), OMP {row['our_policy'].lower()}; official: "
                     f"{row['threads']} threads, OMP {row['policy'].lower()}")
    if row["eval_batch"] != row["batch"]:
        parts.append(f"ours' eval batch {row['eval_batch']}")
    return ", ".join(parts)


def render(rows: list[dict], runs: list[dict], source: str) -> str:
    out = ["# Performance: our trainer against the official code on this machine", "",
           f"Generated by `scripts/make_performance_report.py` from `{source}` (the JSON lines of "
           "`scripts/bench_vs_official.py`); do not edit by hand.", ""]
    our_runs = [r["ours"] for r in runs if "train_ratio" in r]
    if our_runs:
        loads = [r["loadavg_before"][0] for r in runs if r.get("loadavg_before")]
        policies = sorted({r.get("omp_wait_policy") or "default" for r in runs})
        out += ["## Set-up", "",
                f"- {len(runs)} official/ours pairs, each pair two processes run back to back (official first), "
                "one process at a time; both sides run the trainer's whole step (forward and loss, loss/B "
                "backward, optimisers, EMA) on synthetic batches with the carry persisting.",
                f"- Load average (1 min) before the pairs: {min(loads):.1f} to {max(loads):.1f} on a machine shared "
                "with other engineers, so compare ratios, not seconds.",
                f"- OMP_WAIT_POLICY: {', '.join(policies)} (both sides alike). Threads: "
                f"{', '.join(sorted({str(r.get('threads')) for r in runs}))}.",
                "- `matmul`: ours' float32 CPU matmul kernels (`ModelConfig.cpu_matmul`): `torch` is MKL, bit for bit "
                "the official float32 computation; `onednn` is the same maths in another summation order. "
                "bfloat16 runs on oneDNN on both sides.",
                "- Utilisation: analytic matmul FLOPs per second (the official bench's counting) over the best "
                "matmul rate measured in the same process, dtype and threads (max of torch's kernel and oneDNN "
                "at the model's channel shapes and a 1024 square).", ""]
    out += ["## Training step", "",
            "| config | dtype | batch | matmul | official samples/s | ours samples/s | ratio (pairs: min–max) | "
            "ratio per CPU-s | target | met | utilisation ours (official) | eff_cores official / ours | "
            "peak RSS MiB official / ours |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["ratio_range"]
        out.append(
            f"| {r['config']} | {r['dtype']} | {r['batch']} | {_settings(r)} | {_fmt(r['official_sps'])} | "
            f"{_fmt(r['ours_sps'])} | x{r['ratio']:.2f} ({r['pairs']}: {lo:.2f}–{hi:.2f}) | x{r['ratio_per_cpu']:.2f} | "
            f"{_fmt(r['target'], '.1f', 'x') if r['target'] else '–'} | {_verdict(r['ratio'], r['target'])} | "
            f"{_fmt(100 * r['utilisation'], '.0f', '%')} ({_fmt(100 * r['official_utilisation'], '.0f', '%')}) | "
            f"{r['cores_official']:.2f} / {r['cores_ours']:.2f} | {r['rss_official']:.0f} / {r['rss_ours']:.0f} |")
    eval_rows = [r for r in rows if r["eval_ratio"] is not None]
    if eval_rows:
        out += ["", "## Evaluation (N_sup supervision steps, no grad, same batch)", "",
                "| config | dtype | batch | matmul | steps timed / N_sup | official samples/s | ours samples/s | "
                "ratio | target | met |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in eval_rows:
            out.append(f"| {r['config']} | {r['dtype']} | {r['batch']} | {_settings(r)} | "
                       f"{r['eval_steps']:.0f} / {r['n_sup']:.0f} | {_fmt(r['eval_official'])} | {_fmt(r['eval_ours'])} | "
                       f"x{r['eval_ratio']:.2f} | 2.0x | {_verdict(r['eval_ratio'], 2.0)} |")
    paper = [r for r in rows if r["config"] in PAPER]
    if paper:
        out += ["", "## Matmul ceilings measured in the benchmark processes", "",
                "| config | dtype | batch | matmul | ceiling GFLOP/s (median over pairs) |", "|---|---|---|---|---|"]
        for r in paper:
            out.append(f"| {r['config']} | {r['dtype']} | {r['batch']} | {_settings(r)} | {r['ceiling']:.0f} |")
    profiled = [r for r in rows if r["profile"]]
    if profiled:
        out += ["", "## Where ours spends a step (torch.profiler, one extra step, top operators by self CPU time)"]
        for r in profiled:
            out += ["", f"{r['config']} {r['dtype']} batch {r['batch']} ({_settings(r)}):", "",
                    "| operator | calls | self ms | self % |", "|---|---|---|---|"]
            out += [f"| `{p['op']}` | {p['calls']} | {p['self_ms']:.1f} | {p['self_pct']:.1f} |" for p in r["profile"]]
    out += ["", "## Commands", "", "```",
            "git -C /work/.mirror/SamsungSAILMontreal+TinyRecursiveModels/repo archive HEAD | tar -x -C /tmp/official-trm",
            ".venv/bin/pip install einops pydantic   # the official code's imports; benchmarking only"]
    for command in sorted({_command(r) for r in runs}):
        out.append(command)
    out += [f"python scripts/make_performance_report.py --runs {source}", "```", ""]
    return "\n".join(out)


def _command(run: dict) -> str:
    """The bench_vs_official.py command line that produces a run like this one (one pair)."""
    parts = ["python scripts/bench_vs_official.py --official /tmp/official-trm", f"--configs {run['config']}",
             f"--dtypes {run['dtype']}", f"--batch-size {run['batch_size']}"]
    if run.get("threads"):
        parts.append(f"--threads {run['threads']}")
    parts.append("--warmup 1 --steps 3")
    ours = run.get("ours") or {}
    if "eval" in ours:
        parts.append(f"--eval --eval-steps {ours['eval']['act_steps_timed']}")
    if run.get("cpu_matmul"):
        parts.append(f"--cpu-matmul {run['cpu_matmul']}")
    if run.get("compile"):
        parts.append("--compile")
    if run.get("omp_wait_policy"):
        parts.append(f"--omp-wait-policy {run['omp_wait_policy'].lower()}")
    return " ".join(parts) + " --out <runs.jsonl>"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=REPO / "reports" / "performance-runs.jsonl")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "performance.md")
    args = parser.parse_args(argv)
    runs = load_runs(args.runs)
    try:
        source = str(args.runs.resolve().relative_to(REPO))
    except ValueError:
        source = str(args.runs)
    args.out.write_text(render(summarise(runs), runs, source))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
