#!/usr/bin/env python3
"""Write reports/performance.md from the JSON lines of scripts/bench_vs_official.py (and scripts/gpu_check.py).

    python scripts/make_performance_report.py [--runs reports/performance-runs.jsonl] [--out reports/performance.md]
        [--gpu-check reports/gpu-check.jsonl]

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


def _own_defaults(row: dict) -> bool:
    """True for rows in which ours ran with other threads or OpenMP settings than the official side."""
    return (row["our_threads"], row["our_policy"]) != (row["threads"], row["policy"])


def _settings(row: dict) -> str:
    """Ours' kernels, and every setting in which this row departs from the common set-up."""
    parts = [row["matmul"] if row["dtype"] == "float32" else "oneDNN (bf16)"]
    if row["compiled"]:
        parts.append(f"compiled (warm-up {row['warmup_ours']:.0f} s)")
    if row["eval_batch"] != row["batch"]:
        parts.append(f"ours' eval batch {row['eval_batch']}")
    if _own_defaults(row):
        parts.append(f"ours {row['our_threads']} thread(s), OMP {row['our_policy'].lower()} / official "
                     f"{row['threads']} threads, OMP {row['policy'].lower()}")
    elif row["policy"] != "PASSIVE":
        parts.append(f"OMP {row['policy'].lower()}")
    return ", ".join(parts)


def _train_table(rows: list[dict], with_target: bool) -> list[str]:
    out = ["| config | dtype | batch | ours' settings | official samples/s | ours samples/s | ratio (pairs: min–max) | "
           "ratio per CPU-s | target | met | utilisation ours (official) | ours >= 50% | eff_cores official / ours | "
           "peak RSS MiB official / ours | RSS <= official |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["ratio_range"]
        target = r["target"] if with_target else None
        paper = r["config"] in PAPER
        out.append(
            f"| {r['config']} | {r['dtype']} | {r['batch']} | {_settings(r)} | {_fmt(r['official_sps'])} | "
            f"{_fmt(r['ours_sps'])} | x{r['ratio']:.2f} ({r['pairs']}: {lo:.2f}–{hi:.2f}) | x{r['ratio_per_cpu']:.2f} | "
            f"{_fmt(target, '.1f', 'x') if target else '–'} | {_verdict(r['ratio'], target)} | "
            f"{_fmt(100 * r['utilisation'], '.0f', '%')} ({_fmt(100 * r['official_utilisation'], '.0f', '%')}) | "
            f"{_verdict(r['utilisation'], 0.5) if paper else '–'} | "
            f"{r['cores_official']:.2f} / {r['cores_ours']:.2f} | {r['rss_official']:.0f} / {r['rss_ours']:.0f} | "
            f"{_verdict(r['rss_ours'], r['rss_official'], higher_is_better=False)} |")
    return out


def _eval_table(rows: list[dict], with_target: bool) -> list[str]:
    out = ["| config | dtype | batch | ours' settings | steps timed / N_sup | official samples/s | ours samples/s | "
           "ratio | target | met |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['config']} | {r['dtype']} | {r['batch']} | {_settings(r)} | "
                   f"{r['eval_steps']:.0f} / {r['n_sup']:.0f} | {_fmt(r['eval_official'])} | {_fmt(r['eval_ours'])} | "
                   f"x{r['eval_ratio']:.2f} | {'2.0x' if with_target else '–'} | "
                   f"{_verdict(r['eval_ratio'], 2.0 if with_target else None)} |")
    return out


def render(rows: list[dict], runs: list[dict], source: str) -> str:
    same = [r for r in rows if not _own_defaults(r)]
    own = [r for r in rows if _own_defaults(r)]
    loads = [r["loadavg_before"][0] for r in runs if r.get("loadavg_before")]
    out = ["# Performance: our trainer against the official code on this machine", "",
           f"Generated by `scripts/make_performance_report.py` from `{source}` (the JSON lines of "
           "`scripts/bench_vs_official.py`); do not edit by hand.", "",
           "## Set-up", "",
           f"- {len(runs)} official/ours pairs, each pair two processes run back to back (official first), one "
           "process at a time. Both sides run the trainer's whole step (forward and loss, loss/B backward, "
           "optimisers, EMA; the official bench with --ema and AdamW in place of the CUDA-only AdamATan2) on "
           "synthetic batches, the carry persisting.",
           f"- Load average (1 min) before the pairs: {min(loads):.1f} to {max(loads):.1f} on a 2-core machine shared "
           "with other engineers: compare ratios, not seconds. `eff_cores` is a process's CPU-seconds per "
           "wall-second; `ratio per CPU-s` divides it out (work per core-second received).",
           "- Ours' settings: `torch` / `onednn` is ours' float32 CPU matmul kernel (`ModelConfig.cpu_matmul`): "
           "`torch` is MKL, bit for bit the official float32 computation; `onednn` is the same maths in another "
           "summation order. bfloat16 runs on oneDNN on both sides.",
           "- Utilisation: analytic matmul FLOPs per second (the official bench's counting) over the best matmul "
           "rate measured in ours' process, same dtype and threads (max of torch's kernel and oneDNN at the model's "
           "channel shapes and a 1024 square); the official side's is divided by the same ceiling.",
           "- Evaluation: N_sup supervision steps of one batch without gradient; paper widths time 2 of the 16 steps "
           "and extrapolate (as the official bench does), smoke profiles run all 6.", "",
           "## Same settings on both sides (2 threads, OMP_WAIT_POLICY=PASSIVE)", "",
           "The code-level comparison: the same config, batch, dtype, threads and environment.", ""]
    out += _train_table(same, with_target=True)
    eval_same = [r for r in same if r["eval_ratio"] is not None]
    if eval_same:
        out += ["", "Evaluation:", ""] + _eval_table(eval_same, with_target=True)
    if own:
        out += ["", "## Each side with its own defaults", "",
                "The official side as its scripts run it (torch's default threads, OpenMP's default spin-waiting); "
                "ours with the settings we recommend for the trainer: threads from the cores the load leaves "
                "(`trm.host.threads_for_load`), OMP_WAIT_POLICY=PASSIVE, oneDNN for float32. Not a code "
                "comparison (targets are not scored here): it shows what the settings are worth on this shared "
                "machine.", ""]
        out += _train_table(own, with_target=False)
        out += ["", "Evaluation:", ""] + _eval_table([r for r in own if r["eval_ratio"] is not None], with_target=False)
    paper = [r for r in rows if r["config"] in PAPER]
    if paper:
        out += ["", "## Matmul ceilings measured in ours' benchmark processes", "",
                "| config | dtype | batch | ours' settings | ceiling GFLOP/s (median over pairs) |", "|---|---|---|---|---|"]
        out += [f"| {r['config']} | {r['dtype']} | {r['batch']} | {_settings(r)} | {r['ceiling']:.0f} |" for r in paper]
    profiled = [r for r in rows if r["profile"]]
    if profiled:
        out += ["", "## Where ours spends a step (torch.profiler, one extra step, top operators by self CPU time)"]
        for r in profiled:
            out += ["", f"{r['config']} {r['dtype']} batch {r['batch']} ({_settings(r)}):", "",
                    "| operator | calls | self ms | self % |", "|---|---|---|---|"]
            out += [f"| `{p['op']}` | {p['calls']} | {p['self_ms']:.1f} | {p['self_pct']:.1f} |" for p in r["profile"]]
    out += ["", "## Commands", "", "One `bench_vs_official.py` line per row above (each appends its pairs to the runs file).", "",
            "```", "git clone https://github.com/SamsungSAILMontreal/TinyRecursiveModels",
            "git -C TinyRecursiveModels archive HEAD | tar -x -C /tmp/official-trm",
            ".venv/bin/pip install einops pydantic   # the official code's imports; benchmarking only"]
    out += sorted({_command(r) for r in runs if "train_ratio" in r})
    out += [f"python scripts/make_performance_report.py --runs {source}", "```", ""]
    return "\n".join(out)


def _command(run: dict) -> str:
    """The bench_vs_official.py command line that produces a pair like this one."""
    ours = run.get("ours") or {}
    parts = ["python scripts/bench_vs_official.py --official /tmp/official-trm", f"--configs {run['config']}",
             f"--dtypes {run['dtype']}", f"--batch-size {run['batch_size']}"]
    if run.get("threads"):
        parts.append(f"--threads {run['threads']}")
    parts.append(f"--warmup {run.get('warmup', 1)} --steps {run.get('steps', 3)}")  # lines before 12/2026: 1 and 3
    if "eval" in ours:
        parts.append(f"--eval --eval-steps {ours['eval']['act_steps_timed']}")
        if ours["eval"]["batch_size"] != run["batch_size"]:
            parts.append(f"--our-eval-batch-size {ours['eval']['batch_size']}")
    if run.get("cpu_matmul") and run["dtype"] == "float32":
        parts.append(f"--cpu-matmul {run['cpu_matmul']}")
    if run.get("compile"):
        parts.append("--compile")
    parts.append(f"--omp-wait-policy {(run.get('omp_wait_policy') or 'unset').lower()}")
    if "our_threads" in run and run["our_threads"] != run.get("threads"):
        parts.append("--our-threads auto")
    if "our_omp_wait_policy" in run and run["our_omp_wait_policy"] != run.get("omp_wait_policy"):
        parts.append(f"--our-omp-wait-policy {(run['our_omp_wait_policy'] or 'unset').lower()}")
    return " ".join(parts) + " --out reports/performance-runs.jsonl"


def _shown(path: Path) -> str:
    """A path as the report names it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def latest_checks(lines: list[dict]) -> list[list[dict]]:
    """The lines of the newest gpu_check run on each device name (one run's lines share its `date`)."""
    newest: dict[str, str] = {}
    for line in lines:
        newest[line["device_name"]] = max(newest.get(line["device_name"], ""), line["date"])
    return [[line for line in lines if (line["device_name"], line["date"]) == (name, date)]
            for name, date in sorted(newest.items())]


def _ms(line: dict | None, key: str) -> str:
    if line is None:
        return "–"
    if "error" in line or "skipped" in line:
        return "failed" if "error" in line else "skipped"
    return _fmt(1e3 * line[key], ".1f")


def _timing_table(check: list[dict], stage: str, key: str) -> list[str]:
    out = [f"| claim | batch | ours ms | official ms | official / ours |", "|---|---|---|---|---|"]
    timed = [line for line in check if line["stage"] == stage]
    for claim, batch in dict.fromkeys((line["claim"], line["global_batch_size"]) for line in timed):
        sides = {line["side"]: line for line in timed if (line["claim"], line["global_batch_size"]) == (claim, batch)}
        ours, official = sides.get("ours"), sides.get("official")
        both = all(line is not None and key in line for line in (ours, official))
        out.append(f"| {claim} | {batch} | {_ms(ours, key)} | {_ms(official, key)} | "
                   f"{_fmt(official[key] / ours[key], '.2f', 'x') if both else '–'} |")
    return out


def render_gpu_check(lines: list[dict], source: str) -> list[str]:
    """The GPU-check section: the newest check per device (fixtures, bf16 step and evaluation against the
    official code, the tiny runs), or a note that none has run on a GPU."""
    out = ["", "## GPU check (`scripts/gpu_check.py`)", ""]
    if not any(line.get("device") == "cuda" for line in lines):
        out += ["Not run on a GPU yet. On a GPU machine: `python scripts/gpu_check.py --device cuda --official "
                f"/tmp/official-trm` appends its lines to `{source}`; this section then shows them.", ""]
    for check in latest_checks(lines):
        first = check[0]
        out += [f"### {first['device_name']} ({first['device']}), {first['date']}, commit {str(first.get('commit'))[:10]}"
                + (" (dirty tree)" if first.get("dirty") else ""), "",
                *(["A CPU dry run (small batches, few steps): it shows every stage works, not how fast.", ""]
                  if first["device"] == "cpu" else []),
                "Official fixtures replayed in float32 (max abs difference over the ACT steps; tolerances are the CPU's):", "",
                "| fixture | logits | q_halt | q_continue | loss (relative) | within CPU tolerances |", "|---|---|---|---|---|---|"]
        for line in (line for line in check if line["stage"] == "fixtures"):
            if "error" in line:
                out.append(f"| – | failed: {line['error']} | | | | |")
                continue
            diff = line["max_abs_diff"]
            out.append(f"| {line['fixture']} | {diff['logits']:.2g} | {diff['q_halt_logits']:.2g} | "
                       f"{diff['q_continue_logits']:.2g} | {line['loss_max_rel_diff']:.2g} | "
                       f"{'yes' if line['within_cpu_tolerances'] else '**no**'} |")
        out += ["", "Training step, bfloat16, median over the timed steps:", ""]
        out += _timing_table(check, "train_step", "seconds_per_step")
        out += ["", "Evaluation pass of one batch (N_sup supervision steps, no gradient):", ""]
        out += _timing_table(check, "eval", "eval_seconds_per_pass")
        out += ["", "Tiny runs through the harness:", "", "| stage | status | metric | steps | wall s | world size |",
                "|---|---|---|---|---|---|"]
        for line in (line for line in check if line["stage"] in ("proxy", "torchrun")):
            status = f"failed: {line['error']}" if "error" in line else line["status"]
            out.append(f"| {line['stage']} | {status} | {_fmt(line.get('value'), '.2f', '%')} | {line.get('steps', '–')} | "
                       f"{_fmt(line.get('wall_time_s'), '.1f')} | {line.get('world_size', '–')} |")
        out.append("")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=REPO / "reports" / "performance-runs.jsonl")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "performance.md")
    parser.add_argument("--gpu-check", type=Path, default=REPO / "reports" / "gpu-check.jsonl",
                        help="JSON lines of scripts/gpu_check.py (absent: the section says it has not run)")
    args = parser.parse_args(argv)
    runs = load_runs(args.runs)
    checks = load_runs(args.gpu_check) if args.gpu_check.exists() else []
    args.out.write_text(render(summarise(runs), runs, _shown(args.runs))
                        + "\n".join(render_gpu_check(checks, _shown(args.gpu_check))))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
