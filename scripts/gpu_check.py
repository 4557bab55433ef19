#!/usr/bin/env python3
"""The GPU check: what to run first on a GPU machine (at most 8 minutes on one GPU), or `--device cpu` as a dry run.

    python scripts/gpu_check.py --device cuda --official /tmp/official-trm [--out reports/gpu-check.jsonl]
    python scripts/gpu_check.py --device cpu --official /tmp/official-trm     # dry run: small sizes, a few minutes

Stages, each in its own process with its own time cap (a failed or timed-out stage is recorded and
the next one runs; the whole check stops starting stages once --budget-s is spent):

1. fixtures: every official-equivalence fixture (tests/data/official) replayed on the device in
   float32 (TF32 off) by `trm.official.run_fixture`, compared with the official outputs
   (`compare_fixture`'s tolerances are the CPU's; on CUDA the max abs differences are the finding).
2. step: the bf16 training step of the paper profiles of Sudoku MLP and Sudoku attention
   (`paper:sudoku-extreme/trm-mlp`, `paper:sudoku-extreme/trm-att`, paper width) at batch 768 and 256
   (dry run: 4 and 2), ours (`trm.bench.Trainer`) then the official model code (the official step
   bench in ../shared/bench, launched by scripts/bench_vs_official.py's `official_command`, with
   torch's default device set to --device), and one evaluation pass each.
3. proxy: `trm-audit run --device D --nproc-per-node 1` on a tiny profile (tests/data/two_claims.yaml,
   toy/alpha smoke), in process.
4. torchrun: the same tiny run launched through torchrun (`audit.runner.train_with_torchrun`, one
   process per device; --nproc-per-node > 1 uses NCCL on CUDA, gloo on CPU; with one process the
   trainer opens no process group, so NCCL itself needs two GPUs).

Writes one JSON line per measurement to --out (appended), each with `stage`. Our training-step
lines (`stage` "train_step", `side` "ours", `source` "gpu_check") carry the step-cost keys of
reports/step-costs.jsonl (claim, profile, config_hash, device, device_name, dtype, global_batch_size,
threads, world_size, seconds_per_step, steps_timed, source, date, commit); the official code's lines
have `source` "gpu_check/official" so cost estimates never take them for ours.
scripts/make_performance_report.py renders the file as a section of reports/performance.md.

What it needs: torch with CUDA for --device cuda; for the official side a work tree of
https://github.com/SamsungSAILMontreal/TinyRecursiveModels (e.g. `git archive HEAD | tar -x -C
/tmp/official-trm`) given as --official, with `einops` and `pydantic` importable (pip install einops
pydantic), and ../shared/bench/official_step_bench.py. Without --official the official
measurements are recorded as skipped and everything else runs. CI never runs this script.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

CLAIMS = ("sudoku-extreme/trm-mlp", "sudoku-extreme/trm-att")
TINY_CLAIMS = REPO / "tests" / "data" / "two_claims.yaml"
TINY_CLAIM = "toy/alpha"
FIXTURES = REPO / "tests" / "data" / "official"

# Per-device sizes: the GPU check's (paper batches, enough steps for a stable median) and the dry
# run's (the same stages at sizes a loaded CPU finishes in minutes).
SIZES = {
    "cuda": dict(batches=(768, 256), warmup=3, steps=10, eval_steps=16, cap_s=120, budget_s=480),
    "cpu": dict(batches=(4, 2), warmup=1, steps=2, eval_steps=1, cap_s=240, budget_s=900),
}

# Prepended to the official bench's launcher (bench_vs_official._INJECT): the official training
# script builds its model under `with torch.device("cuda")`; the default device does the same here.
# Its bench draws batches from a CPU generator, so those draws are made on the CPU and moved.
_OFFICIAL_ON_DEVICE = """
import torch
torch.set_default_device({device!r})
_randint = torch.randint
def _randint_on_device(*args, **kwargs):  # torch.randint is no longer the default device's to patch: say it
    generator = kwargs.get("generator")
    if generator is not None and generator.device.type == "cpu" and "device" not in kwargs:
        return _randint(*args, device="cpu", **kwargs).to(torch.get_default_device())
    kwargs.setdefault("device", torch.get_default_device())
    return _randint(*args, **kwargs)
torch.randint = _randint_on_device
"""


# ---- stage bodies (each runs in a child process: `gpu_check.py _STAGE ...`, one JSON line out) ----

def fixtures_stage(device: str) -> list[dict]:
    """Each fixture replayed on `device` in float32: max abs differences per output and the problems
    compare_fixture finds at the CPU tolerances."""
    import torch

    from trm.official import compare_fixture, expected_file, run_fixture

    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(1)  # the fixtures were made with one thread
    lines = []
    for folder in sorted(p for p in FIXTURES.iterdir() if (p / "expected.pt").exists()):
        started = time.perf_counter()
        result = run_fixture(folder, device=device)
        expected = torch.load(expected_file(folder), weights_only=False)
        steps = min(result["num_steps"], expected["num_steps"])
        diffs = {key: max(float((result[key][i].double() - expected[key][i].double()).abs().max()) for i in range(steps))
                 for key in ("logits", "q_halt_logits", "q_continue_logits")}
        loss = max(abs(float(result["loss"][i]) - float(expected["loss"][i])) / abs(float(expected["loss"][i]))
                   for i in range(steps))
        train = result["train"]["grad_global_norm"], expected["train"]["grad_global_norm"]
        problems = compare_fixture(result, expected)
        lines.append({"fixture": folder.name, "expected": expected_file(folder).name, "dtype": "float32",
                      "num_steps": [result["num_steps"], expected["num_steps"]],
                      "max_abs_diff": diffs, "loss_max_rel_diff": loss,
                      "grad_norm_rel_diff": abs(float(train[0]) - float(train[1])) / abs(float(train[1])),
                      "within_cpu_tolerances": not problems, "problems": problems[:5],
                      "seconds": time.perf_counter() - started})
    return lines


def ours_stage(device: str, claim: str, batch: int, dtype: str, warmup: int, steps: int, eval_steps: int) -> dict:
    """Our trainer's update (trm.bench.Trainer: train_step + EMA) on `device`: median seconds per
    step over `steps` after `warmup`, and one evaluation pass (its first `eval_steps` ACT steps,
    scaled to N_sup)."""
    import math
    import statistics
    from dataclasses import replace

    import torch

    from audit.bench_setups import resolve_bench_setup
    from trm.bench import Trainer, synthetic_batches

    setup = replace(resolve_bench_setup(f"paper:{claim}"), batch_size=batch)
    if device == "cpu":
        torch.set_num_threads(1)
    trainer = Trainer(setup, dtype=dtype, device=device)
    batches = synthetic_batches(setup, 4, device=device)

    def synchronise():
        if device == "cuda":
            torch.cuda.synchronize()

    times, losses = [], []
    for i in range(warmup + steps):
        synchronise()
        start = time.perf_counter()
        losses.append(trainer.step(batches[i % 4])["loss"])  # reads the loss back: a sync on CUDA
        synchronise()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    n_sup = setup.model.halt_max_steps
    act_steps = min(eval_steps, n_sup)
    trainer.evaluate(batches[1], 1)  # the first no-grad call sets kernels up; not timed
    synchronise()
    start = time.perf_counter()
    trainer.evaluate(batches[0], act_steps)
    synchronise()
    eval_pass_s = (time.perf_counter() - start) / act_steps * n_sup
    out = {"seconds_per_step": statistics.median(times), "seconds_per_step_all": times, "steps_timed": steps,
           "loss_finite": all(math.isfinite(x) for x in losses),
           "eval_seconds_per_pass": eval_pass_s, "eval_act_steps_timed": act_steps, "threads": torch.get_num_threads()}
    if device == "cuda":
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def proxy_stage(device: str, runs_dir: Path) -> dict:
    """`trm-audit run --nproc-per-node 1` on the tiny profile; what its record says."""
    command = [sys.executable, "-c", "from audit.cli import main; main()", "run", str(TINY_CLAIMS),
               "--claim", TINY_CLAIM, "--seeds", "0", "--runs-dir", str(runs_dir),
               "--data-cache", str(runs_dir / "cache"), "--device", device,
               "--nproc-per-node", "1", "--threads", "1"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"trm-audit run exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    shown = [str(TINY_CLAIMS.relative_to(REPO)) if part == str(TINY_CLAIMS) else part for part in command[3:]]
    return _record_summary(next(runs_dir.rglob("run.json")), command="trm-audit " + " ".join(shown))


def torchrun_stage(device: str, runs_dir: Path, nproc: int) -> dict:
    """The tiny profile trained through torchrun by the runner's own launcher and recorded by `run_one`."""
    from audit.plan import expand_plan
    from audit.registry import load_registry
    from audit.runner import run_one, train_with_torchrun

    spec = expand_plan(load_registry([TINY_CLAIMS]), profile="smoke", seeds=[0], runs_dir=runs_dir,
                       claim_ids=(TINY_CLAIM,))[0]
    record = run_one(spec, lambda spec: train_with_torchrun(spec, nproc_per_node=nproc, device=device,
                                                            data_cache=runs_dir / "cache"))
    if record is None:
        raise RuntimeError("the run was not trained (locked or already done)")
    backend = "none (one process)" if nproc == 1 else ("nccl" if device == "cuda" else "gloo")
    return _record_summary(spec.directory / "run.json", launcher=f"torchrun --nproc-per-node={nproc}",
                           backend=backend)


def _record_summary(path: Path, **extra) -> dict:
    record = json.loads(path.read_text())
    final = record.get("final") or {}
    if record["status"] != "completed":
        raise RuntimeError(f"the run {record['status']}: {record.get('error')}")
    return {"status": record["status"], "metric": record["metric"], "value": final.get("value"),
            "steps": record["steps"], "wall_time_s": record["wall_time_s"],
            "world_size": record["environment"].get("world_size"), "run_device": record["environment"].get("device"),
            "config_hash": record["config_hash"], **extra}


COST_KEYS = ("claim", "profile", "config_hash", "step_hash", "device", "device_name", "dtype", "global_batch_size", "threads",
             "world_size", "seconds_per_step", "steps_timed", "source", "date", "commit")

CHILD_STAGES = {"fixtures": lambda p: {"fixtures": fixtures_stage(**p)}, "ours": lambda p: ours_stage(**p),
                "proxy": lambda p: proxy_stage(p["device"], Path(p["runs_dir"])),
                "torchrun": lambda p: torchrun_stage(p["device"], Path(p["runs_dir"]), p["nproc"])}
STAGES = ("fixtures", "step", "proxy", "torchrun")


# ---- the check: stages in child processes, one JSON line per measurement ----------------------

class Check:
    """Runs stage children under a time cap each and a budget overall; appends lines to `out`."""

    def __init__(self, args, device_name: str):
        from audit.runner import code_version

        self.args, self.out = args, args.out
        self.deadline = time.monotonic() + args.budget_s
        self.common = {"device": args.device, "device_name": device_name,
                       "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
                       "commit": code_version()["commit"], "dirty": code_version()["dirty"]}
        self.env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
        if args.official:
            self.env["OFFICIAL_TRM"] = str(args.official.resolve())
        self.failures = 0

    def run(self, command: list[str], cap_s: float) -> dict:
        """The child's last stdout line as JSON, or {'error': ...} (failed, timed out, or no budget left)."""
        from bench_vs_official import run_json

        left = self.deadline - time.monotonic()
        if left < 10:
            return {"error": f"not run: the check's budget of {self.args.budget_s:.0f} s is spent"}
        return run_json(command, self.env, min(cap_s, left))

    def child(self, stage: str, payload: dict, cap_s: float) -> dict:
        return self.run([sys.executable, str(Path(__file__).resolve()), "_child", stage, json.dumps(payload)], cap_s)

    def write(self, line: dict) -> None:
        """Append `line` to --out; our timed step at the profile's own batch also to --costs-out, in the
        step-cost shape (exactly COST_KEYS)."""
        line = {**line, **{k: v for k, v in self.common.items() if k not in line}}
        if "error" in line:
            self.failures += 1
        _append(self.out, line)
        is_cost = line["stage"] == "train_step" and line.get("source") == "gpu_check" and line.get("at_profile_batch")
        if self.args.costs_out and is_cost and "seconds_per_step" in line:
            _append(self.args.costs_out, {key: line[key] for key in COST_KEYS})
        print(describe(line), flush=True)


def _append(path: Path, line: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def step_lines(check: Check, claim: str, batch: int, sizes: dict) -> list[dict]:
    """Ours and the official code at one (claim, batch): the training-step and evaluation lines."""
    from audit.costs import step_hash
    from audit.registry import load_registry

    profile = load_registry([REPO / "claims"]).claim(claim).profiles["paper"]
    config = profile.config_for(profile.seeds[0])
    base = {"claim": claim, "profile": "paper", "config_hash": config.config_hash(), "step_hash": step_hash(config),
            "dtype": "bfloat16",
            "global_batch_size": batch, "world_size": 1, "at_profile_batch": batch == config.train.global_batch_size}
    ours = check.child("ours", {"device": check.args.device, "claim": claim, "batch": batch, "dtype": "bfloat16",
                                "warmup": sizes["warmup"], "steps": sizes["steps"], "eval_steps": sizes["eval_steps"]},
                       sizes["cap_s"])
    lines = [{"stage": "train_step", "side": "ours", "source": "gpu_check", **base,
              **_pick(ours, "threads", "seconds_per_step", "steps_timed", "seconds_per_step_all", "loss_finite",
                      "peak_memory_gib", "error")},
             {"stage": "eval", "side": "ours", "source": "gpu_check", **base,
              **_pick(ours, "eval_seconds_per_pass", "eval_act_steps_timed", "error")}]
    official = official_step(check, claim, batch, sizes)
    lines.append({"stage": "train_step", "side": "official", "source": "gpu_check/official", **base,
                  **_pick(official, "threads", "seconds_per_step", "steps_timed", "loss_finite", "error", "skipped")})
    lines.append({"stage": "eval", "side": "official", "source": "gpu_check/official", **base,
                  **_pick(official, "eval_seconds_per_pass", "eval_act_steps_timed", "error", "skipped")})
    return lines


def official_step(check: Check, claim: str, batch: int, sizes: dict) -> dict:
    """The official step bench on the device (bench_vs_official's command, the default device set first)."""
    from bench_vs_official import DEFAULT_OFFICIAL_BENCH, official_command

    if check.args.official is None:
        return {"skipped": "no --official work tree given"}
    bench = check.args.official_bench or DEFAULT_OFFICIAL_BENCH
    if not bench.is_file():
        return {"skipped": f"the official step bench is not at {bench} (give --official-bench)"}
    options = argparse.Namespace(batch_size=batch, warmup=sizes["warmup"], steps=sizes["steps"], eval=True,
                                 eval_steps=sizes["eval_steps"], threads=1 if check.args.device == "cpu" else None,
                                 official_bench=bench)
    command = official_command(options, f"paper:{claim}", "bfloat16")
    assert command[1] == "-c", command[:2]  # a registry profile: the injected launcher
    command[2] = _OFFICIAL_ON_DEVICE.format(device=check.args.device) + command[2]
    result = check.run(command, sizes["cap_s"])
    if "error" in result:
        return result
    return {"threads": result.get("torch_num_threads"), "seconds_per_step": result["train_step_ms"]["median"] / 1e3,
            "steps_timed": result["train_step_ms"]["n"], "loss_finite": result.get("loss_finite"),
            "eval_seconds_per_pass": result["eval_pass_ms_extrapolated"] / 1e3,
            "eval_act_steps_timed": result.get("eval_act_steps_run")}


def _pick(result: dict, *keys: str) -> dict:
    return {key: result[key] for key in keys if key in result}


def describe(line: dict) -> str:
    """One line of the check's console summary."""
    what = line["stage"] + (f" {line['side']} {line['claim']} B={line['global_batch_size']}" if "side" in line else "")
    if "fixture" in line:
        what += f" {line['fixture']}"
    if "error" in line:
        return f"{what}: FAILED {line['error']}"
    if "skipped" in line:
        return f"{what}: skipped ({line['skipped']})"
    if "max_abs_diff" in line:
        diffs = ", ".join(f"{k} {v:.2g}" for k, v in line["max_abs_diff"].items())
        return f"{what}: max abs diff {diffs}; within CPU tolerances: {line['within_cpu_tolerances']}"
    if "seconds_per_step" in line:
        return f"{what}: {line['seconds_per_step'] * 1e3:.1f} ms/step over {line['steps_timed']} steps"
    if "eval_seconds_per_pass" in line:
        return f"{what}: {line['eval_seconds_per_pass'] * 1e3:.1f} ms per evaluation pass of one batch"
    return f"{what}: {line.get('status')} {line.get('metric')} {line.get('value')} in {line.get('wall_time_s', 0):.1f} s"


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["_child"]:
        print(json.dumps(CHILD_STAGES[argv[1]](json.loads(argv[2]))), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", required=True, choices=sorted(SIZES))
    parser.add_argument("--official", type=Path, default=None, help="work tree of the official repository")
    parser.add_argument("--official-bench", type=Path, default=None, help="default: ../shared/bench/official_step_bench.py")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "gpu-check.jsonl", help="JSON lines appended here")
    parser.add_argument("--costs-out", type=Path, default=None,
                        help="also append our step timings at each profile's own batch here, in the step-cost shape "
                             "(e.g. reports/step-costs.jsonl)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--claims", default=",".join(CLAIMS), help="paper profiles timed in the step stage")
    parser.add_argument("--batches", default=None, help="step-stage batch sizes (default: 768,256 on CUDA, 4,2 on CPU)")
    parser.add_argument("--nproc-per-node", type=int, default=1, help="torchrun stage: processes (GPUs)")
    parser.add_argument("--budget-s", type=float, default=None, help="the whole check (default: 480 on CUDA, 900 on CPU)")
    args = parser.parse_args(argv)
    sizes = dict(SIZES[args.device])
    batches = [int(b) for b in args.batches.split(",")] if args.batches else list(sizes["batches"])
    args.budget_s = args.budget_s or sizes["budget_s"]
    stages = [s for s in args.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"--stages: unknown {sorted(unknown)}; choose from {', '.join(STAGES)}")
    if args.official is not None and not (args.official / "models").is_dir():
        parser.error(f"--official {args.official}: not a work tree of the official repository (no models/)")

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.exit(2, "error: --device cuda: torch sees no CUDA device here (use --device cpu for the dry run)\n")
    from trm.host import cpu_name

    check = Check(args, torch.cuda.get_device_name(0) if args.device == "cuda" else cpu_name())
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    if "fixtures" in stages:
        result = check.child("fixtures", {"device": args.device}, 60 if args.device == "cuda" else 180)
        for line in result.get("fixtures") or [_pick(result, "error")]:
            check.write({"stage": "fixtures", **line})
    if "step" in stages:
        for claim in args.claims.split(","):
            for batch in batches:
                for line in step_lines(check, claim, batch, sizes):
                    check.write(line)
    if "proxy" in stages:
        check.write({"stage": "proxy", **check.child("proxy", {"device": args.device, "runs_dir": str(work / "proxy")},
                                                     sizes["cap_s"])})
    if "torchrun" in stages:
        check.write({"stage": "torchrun", **check.child("torchrun", {"device": args.device, "nproc": args.nproc_per_node,
                                                                     "runs_dir": str(work / "torchrun")}, sizes["cap_s"])})
    shutil.rmtree(work, ignore_errors=True)
    print(f"gpu check on {check.common['device_name']}: {check.failures} failed measurements, "
          f"{time.monotonic() - started:.0f} s; lines appended to {args.out}", flush=True)
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
