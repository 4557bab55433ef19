"""Measured seconds per optimizer step, and the cost estimates of a plan made from them.

The measurements live in `reports/step-costs.jsonl` (committed), one JSON object per line:

    claim              claim id whose profile was timed, e.g. "sudoku-extreme/trm-mlp"
    profile            the profile as recorded, e.g. "smoke@max-steps-20" or "paper"
    config_hash        TrainConfig.config_hash() of the timed config (provenance)
    step_hash          `step_hash(config)`: digest of what sets the work of one step (matching)
    device             "cpu" | "cuda"
    device_name        trm.host.cpu_name() or torch.cuda.get_device_name()
    dtype              the forward dtype the step ran in ("float32" | "bfloat16")
    global_batch_size  examples per optimizer step over all processes
    threads            torch intra-op threads of a process
    world_size         processes (devices) the step ran on
    seconds_per_step   float, wall seconds of one optimizer step (the first step, a warm-up, excluded)
    steps_timed        int, steps the mean is over
    source             how it was measured: "run --max-steps" (trm-audit run), "gpu_check" (scripts/gpu_check.py)
    date               ISO 8601 UTC time of the measurement
    commit             git sha of the code that ran (null when unknown)
    deviations         optional list of strings: how the timed setup differs from the profile's

Writers build a line with `measurement_for(config, ...)` and add it with `append_measurement`;
readers call `read_measurements` and `best_match`. A measurement answers a profile when their
`step_hash` agree: the model, the sequence (task, grid side) and the batch are what a step costs,
while epochs, seeds and data sizes only change how many steps there are.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Optional

from audit.errors import InputError
from trm.config import TrainConfig

COSTS_FILE = Path("reports") / "step-costs.jsonl"
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Measurement:
    """One line of the costs file (see the module docstring for each field)."""

    claim: str
    profile: str
    config_hash: str
    step_hash: str
    device: str
    device_name: str
    dtype: str
    global_batch_size: int
    threads: int
    world_size: int
    seconds_per_step: float
    steps_timed: int
    source: str
    date: str
    commit: Optional[str]
    deviations: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """One line for people: '12.3 s/step on cpu (AMD EPYC ..., 1 thread, float32, batch 64; run --max-steps, 2026-...)'."""
        where = f"{self.world_size}x {self.device_name}" if self.world_size > 1 else self.device_name
        return (f"{self.seconds_per_step:.3g} s/step measured on {self.device} ({where}, {self.threads} threads, "
                f"{self.dtype}, batch {self.global_batch_size}; {self.source}, {self.date[:10]}, "
                f"{self.steps_timed} steps timed)")


def step_hash(config: TrainConfig) -> str:
    """Digest of the parts of `config` that set the work of one optimizer step: the model section,
    the sequence (data task and grid side) and the batch (global size, accumulation, compile)."""
    data, train = config.data, config.train
    key = {"model": config.to_dict()["model"], "task": data.task, "grid_size": data.grid_size,
           "global_batch_size": train.global_batch_size, "grad_accum_steps": train.grad_accum_steps,
           "compile": train.compile}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def resolved_dtype(config: TrainConfig, device: str) -> str:
    """The dtype a step runs in: forward_dtype, with 'auto' as trm.config says (bfloat16 on CUDA, float32 on CPU)."""
    dtype = config.model.forward_dtype
    if dtype == "auto":
        return "bfloat16" if device == "cuda" else "float32"
    return dtype


def measurement_for(config: TrainConfig, *, claim: str, profile: str, device: str, device_name: str, threads: int,
                    world_size: int, seconds_per_step: float, steps_timed: int, source: str,
                    commit: Optional[str], deviations: Iterable[str] = (), date: Optional[str] = None) -> Measurement:
    """A Measurement of `config` timed at `seconds_per_step` (wall seconds, mean over `steps_timed` steps)."""
    if device not in DEVICES:
        raise InputError(f"device: expected one of {', '.join(DEVICES)}, got {device!r}")
    when = date or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    return Measurement(claim=claim, profile=profile, config_hash=config.config_hash(), step_hash=step_hash(config),
                       device=device, device_name=device_name, dtype=resolved_dtype(config, device),
                       global_batch_size=config.train.global_batch_size, threads=int(threads),
                       world_size=int(world_size), seconds_per_step=float(seconds_per_step),
                       steps_timed=int(steps_timed), source=source, date=when, commit=commit,
                       deviations=tuple(deviations))


def append_measurement(path: Path, measurement: Measurement) -> None:
    """Add one line to the costs file at `path` (created with its directory when missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({**asdict(measurement), "deviations": list(measurement.deviations)}, sort_keys=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def read_measurements(path: Path) -> list[Measurement]:
    """Every measurement of the costs file at `path` ([] when it does not exist).

    A line that is not a JSON object of the format raises InputError naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        return []
    names = {f.name for f in fields(Measurement)}
    required = names - {"deviations"}
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: line {number}: not JSON ({err.msg})") from None
        if not isinstance(data, dict) or required - data.keys():
            missing = sorted(required - data.keys()) if isinstance(data, dict) else sorted(required)
            raise InputError(f"{path}: line {number}: missing {', '.join(missing)}")
        if data["device"] not in DEVICES or not _positive_number(data["seconds_per_step"]):
            raise InputError(f"{path}: line {number}: expected device cpu or cuda and a positive seconds_per_step, "
                             f"got {data['device']!r} and {data['seconds_per_step']!r}")
        kept = {key: value for key, value in data.items() if key in names}
        found.append(Measurement(**{**kept, "deviations": tuple(data.get("deviations") or ())}))
    return found


def _positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def best_match(measurements: Iterable[Measurement], config: TrainConfig) -> Optional[Measurement]:
    """The measurement that best answers what a step of `config` costs: one of the same `step_hash`,
    on a GPU when one has been measured, else on the CPU; the newest among equals. None when none matches."""
    wanted = step_hash(config)
    matching = [m for m in measurements if m.step_hash == wanted]
    if not matching:
        return None
    return max(matching, key=lambda m: (m.device == "cuda", m.date))


def device_hours(steps: int, measurement: Measurement) -> float:
    """Device-hours of `steps` optimizer steps at the measurement's rate on its number of devices."""
    return steps * measurement.seconds_per_step * measurement.world_size / 3600.0


class StepTimer:
    """A trainer progress callback (step, total) that times the optimizer steps, then calls `inner`.

    The trainer calls it after every update; the time from the first call to the last over the steps
    between them is the mean step time, so the first step (warm-up, allocations) is left out. A CUDA
    step is timed whole: the trainer reads the step's loss on the host before it calls back.
    """

    def __init__(self, inner: Optional[Callable[[int, int], None]] = None, clock: Callable[[], float] = time.monotonic):
        self.inner = inner
        self.clock = clock
        self.first: Optional[tuple[int, float]] = None
        self.last: Optional[tuple[int, float]] = None

    def __call__(self, step: int, total: int) -> None:
        now = (step, self.clock())
        if self.first is None:
            self.first = now
        self.last = now
        if self.inner is not None:
            self.inner(step, total)

    def close(self) -> None:
        if self.inner is not None and hasattr(self.inner, "close"):
            self.inner.close()

    @property
    def steps_timed(self) -> int:
        """Steps between the first and the last call (0 before two calls)."""
        return 0 if self.first is None else self.last[0] - self.first[0]

    @property
    def seconds_per_step(self) -> Optional[float]:
        """Mean wall seconds per step over `steps_timed` steps; None before two calls."""
        if not self.steps_timed:
            return None
        return (self.last[1] - self.first[1]) / self.steps_timed


def measurement_of_run(spec, record, timer: "StepTimer", device: str) -> Optional[Measurement]:
    """What a run timed by `timer` measured (source 'run --max-steps'): spec an audit.plan.RunSpec, record
    its RunRecord, device 'cpu' or 'cuda' (this process's); None when fewer than two steps were timed.
    The profile's deviations travel with it (a budget cut's among them). Imports torch."""
    import torch

    from audit.runner import code_version
    from trm.host import cpu_name

    if timer.seconds_per_step is None:
        return None
    return measurement_for(spec.config, claim=spec.claim.id, profile=spec.profile, device=device,
                           device_name=torch.cuda.get_device_name(0) if device == "cuda" else cpu_name(),
                           threads=torch.get_num_threads(),
                           world_size=int((record.environment or {}).get("world_size") or 1),
                           seconds_per_step=timer.seconds_per_step, steps_timed=timer.steps_timed,
                           source="run --max-steps", commit=code_version()["commit"],
                           deviations=spec.claim.profiles[spec.profile].deviations)


def steps_per_run(config: TrainConfig) -> Optional[int]:
    """Optimizer steps a run of `config` makes (the trainer's budget, trm.train.planned_steps), when the
    config alone says: Sudoku and Maze builds of `train_size` groups, one example each per epoch. None
    where the data decides (ARC, a processed directory, train_size null) and no max_steps caps it."""
    from trm.train import planned_steps

    data = config.data
    if data.task in ("sudoku", "maze") and data.source != "processed" and data.train_size is not None:
        return planned_steps(config, data.train_size, 1.0)
    return config.train.max_steps


def _grouped(planned: list, key: Callable) -> dict:
    """The plan's runs (audit.plan.PlannedRun) grouped by `key(run.spec)`, in plan order."""
    groups: dict = {}
    for run in planned:
        groups.setdefault(key(run.spec), []).append(run)
    return groups


def plan_cost_lines(planned: list, measurements: list[Measurement], costs_file: Path) -> list[str]:
    """Per claim of the plan (audit.plan.PlannedRun list): the authors' stated hardware and time,
    the steps per run, and our estimate of device-hours per run and for the runs still to train,
    from `best_match`; then the plan's total. Every number from a measurement says it is an estimate
    and which measurement it came from; a claim with none says 'none measured yet'."""
    lines, total_hours, unestimated, to_train_all = [], 0.0, 0, 0
    for claim_id, runs in _grouped(planned, lambda spec: spec.claim.id).items():
        spec = runs[0].spec
        profile = spec.claim.profiles[spec.profile]
        stated = ", ".join(x for x in (profile.hardware, profile.time) if x) or "not stated"
        steps = steps_per_run(spec.config)
        to_train = sum(run.needs_training for run in runs)
        to_train_all += to_train
        found = best_match(measurements, spec.config)
        step_text = f"{steps:,} steps per run" if steps is not None else "steps per run set by the data (ARC: known once built)"
        if found is not None and steps is not None:
            per_run = device_hours(steps, found)
            total_hours += per_run * to_train
            estimate = (f"our estimate: {per_run:.3g} device-hours per run, {per_run * to_train:.3g} for the "
                        f"{to_train} runs to train (an estimate from {found.describe()})")
        else:
            unestimated += to_train
            if found is not None:
                why = f"none until the data is built (a step: {found.describe()})"
            else:
                note = f"; the registry notes: {profile.estimate}" if profile.estimate else ""
                why = f"none measured yet (no line of {costs_file} has this step{note})"
            estimate = f"our estimate: {why}"
        lines.append(f"  {claim_id}: authors: {stated}; {step_text}; {estimate}")
    if unestimated == to_train_all:
        lines.append(f"  whole plan: no estimate (none measured yet for its {to_train_all} runs to train)")
    else:
        left_out = f"; {unestimated} runs without an estimate not included" if unestimated else ""
        lines.append(f"  whole plan: our estimate {total_hours:.3g} device-hours for the {to_train_all - unestimated} "
                     f"runs to train that have one{left_out}")
    return lines


def timed_runs_lines(planned: list, parallel: int) -> list[str]:
    """What a plan's runs still to train will take, from the wall time of its completed runs: per
    claim and profile with runs to train, the mean `wall_time_s` of that claim and profile's `done`
    records in the plan (the same config, trained on the machine that wrote them), then the plan's
    total in hours one run after another and in wall hours at `parallel` runs at a time (a lower
    bound: it assumes the lanes stay full), and what the completed runs took. Empty when no run left
    to train has a completed run of its claim and profile to time it by (nothing measured to say)."""
    lines, total_s, timed, untimed, done_s, done_n = [], 0.0, 0, 0, 0.0, 0
    for (claim_id, profile), runs in _grouped(planned, lambda spec: (spec.claim.id, spec.profile)).items():
        walls = [run.wall_time_s for run in runs if run.state == "done" and run.wall_time_s]
        done_s, done_n = done_s + sum(walls), done_n + len(walls)
        to_train = sum(run.needs_training for run in runs)
        if not to_train:
            continue
        if walls:
            per_run = sum(walls) / len(walls)
            total_s += per_run * to_train
            timed += to_train
            lines.append(f"  {claim_id} ({profile}): {to_train} to train x {per_run / 60:.1f} min (the mean wall time "
                         f"of its {len(walls)} completed run{'s' if len(walls) > 1 else ''})")
        else:
            untimed += to_train
            lines.append(f"  {claim_id} ({profile}): {to_train} to train, no completed run to time")
    if not timed:  # nothing measured to say (a first run of every claim)
        return []
    lanes = max(parallel, 1)
    left_out = f"; {untimed} untimed run{'s' if untimed > 1 else ''} not included" if untimed else ""
    runs = f"{timed} timed run{'s' if timed != 1 else ''}"
    lines.append(f"  whole plan: {total_s / 3600:.2f} h one run after another for the {runs}, about "
                 f"{total_s / 3600 / lanes:.2f} h wall at --parallel {lanes} if every lane stays busy{left_out}")
    if done_n:  # what the whole plan costs, the part already paid included
        lines.append(f"  already trained: {done_n} runs, {done_s / 3600:.2f} h one run after another")
    return ["time to train, from the wall time of the plan's completed runs:"] + lines
