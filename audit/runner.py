"""Running planned specs: one lock per run directory, the trainer called as a library, one record per run.

`run_one` is the unit every launcher uses (in-process, under torchrun through `audit.worker`, in a
Slurm job through submitit): it takes the directory's lock, re-checks the record (another process
may have finished the run meanwhile), trains or resumes, and writes run.json atomically. A run that
diverges or raises ends as a `failed` record with its reason; an interrupt leaves no record, and the
next attempt resumes from the trainer's checkpoint.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Callable, Iterator, Optional

from audit.errors import InputError
from audit.evidence import checkpoint_rule
from audit.plan import RunSpec, assess
from audit.records import FORMAT_VERSION, RECORD_NAME, RunRecord, parse_record, write_json_atomic, write_record
from trm.errors import ConfigError, ResumeConfigMismatch, ResumeWorldSizeMismatch, TrmError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
RESULT_NAME = "result.json"  # what audit.worker leaves for the parent when training ran in other processes


class RunLocked(Exception):
    """Another process holds this run directory."""


@contextlib.contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    """Exclusive, non-blocking lock on a run directory; released when the process dies, even by SIGKILL."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_NAME, "a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(str(directory)) from None
        yield
    finally:
        handle.close()


def lock_held(directory: Path) -> bool:
    """Whether a process holds `directory`'s `run_lock` now (a run in progress), probed without creating
    anything: no lock file means no run ever took it. The probe holds a shared lock for an instant; a
    runner starting in that instant skips the run as taken by another process (the next run trains it)."""
    try:
        handle = open(Path(directory) / LOCK_NAME, "r")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
    """The git commit of this checkout and whether its tree had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> Optional[str]:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def record_evaluation(result_eval: Optional[dict], metric: str) -> Optional[dict]:
    """The trainer's evaluation (fractions) as the record's (percent of the claim's metric, with counts)."""
    if result_eval is None or metric not in result_eval["metrics"]:
        return None
    correct, total = (result_eval.get("counts") or {}).get(metric, (None, None))
    return {"step": result_eval["step"], "epoch": result_eval.get("epoch"),
            "value": 100.0 * float(result_eval["metrics"][metric]),
            "correct": correct, "total": total, "metrics": result_eval["metrics"]}


def build_record(spec: RunSpec, result: dict, *, started: str, ended: str) -> dict:
    """run.json content from a spec and the trainer's RunResult dict.

    `data` is the trainer's provenance (source, processed directory and its content hash
    `processed_hash`, sizes) plus `data_seed`, the profile's policy: 'run' (this seed's own data
    draw, config.data.seed = data.seed + seed) or 'fixed' (every seed of the profile on one draw).
    A run that scored its raw weights beside the EMA copy (train.eval_raw_weights) also gets
    `raw_final` / `raw_best`, shaped like `final` / `best`; other records have neither key.
    """
    metric = spec.claim.metric
    environment = dict(result.get("environment") or {})
    devices = int(environment.get("world_size") or 1)
    wall = float(result.get("wall_time_s") or 0.0)
    final = record_evaluation(result.get("final"), metric)
    raw = {key: record_evaluation(result[key], metric) for key in ("raw_final", "raw_best") if result.get(key)}
    status = result["status"]
    error = result.get("error")
    if status == "completed" and final is None:
        status, error = "failed", f"the run ended without an evaluation of {metric!r}"
    elif status == "completed" and not result.get("steps"):
        status, error = "failed", _no_steps_reason(spec, result)
    return {
        "format_version": FORMAT_VERSION,
        "claim_id": spec.claim.id,
        "profile": spec.profile,
        "seed": spec.seed,
        "status": status,
        "error": error,
        "config": spec.config.to_dict(),
        "config_hash": spec.config.config_hash(),
        "metric": metric,
        "code": code_version(),
        "data": {**(result.get("data") or {}), "data_seed": spec.claim.profiles[spec.profile].data_seed},
        "environment": environment,
        "started": started,
        "ended": ended,
        "wall_time_s": wall,
        "device_hours": wall * devices / 3600.0,
        "steps": result.get("steps"),
        "total_steps": result.get("total_steps"),
        "evaluations": result.get("evaluations") or [],
        "final": final,
        "best": record_evaluation(result.get("best"), metric),
        "selected": checkpoint_rule(spec.claim),
        **raw,
    }


def _no_steps_reason(spec: RunSpec, result: dict) -> str:
    """Why a run that trained 0 optimizer steps is not evidence: its score is the untrained model's."""
    examples = (result.get("data") or {}).get("train_examples")
    size = f"{examples} training examples" if examples is not None else "the training set"
    return (f"0 optimizer steps: {size} over {spec.config.train.epochs} epochs do not fill one global batch of "
            f"{spec.config.train.global_batch_size} (check data.train_size and the data file's rows)")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


Trainer = Callable[[RunSpec], dict]
"""Trains (or resumes) one spec and returns the trainer's RunResult as a dict."""


def train_in_process(spec: RunSpec, *, device: str = "cpu", data_cache: Optional[Path] = None,
                     progress=None, tracking=None) -> dict:
    """Call the trainer as a library in this process (tracking: a trm.tracking.Tracking or None)."""
    from trm.train import train

    return train(spec.config, spec.directory, device, data_cache=data_cache, progress=progress,
                 tracking=tracking).to_dict()


def train_with_torchrun(spec: RunSpec, *, nproc_per_node: int, device: str = "cpu",
                        data_cache: Optional[Path] = None, tracking=None) -> dict:
    """Train under torchrun (one process per device); rank 0 leaves result.json for us to read."""
    import json

    spec_file = spec.directory / "spec.json"
    write_json_atomic(spec_file, {"config": spec.config.to_dict(), "device": device,
                                  "data_cache": str(data_cache) if data_cache else None,
                                  "tracking": tracking.to_dict() if tracking else None})
    (spec.directory / RESULT_NAME).unlink(missing_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc_per_node}",
               "-m", "audit.worker", str(spec_file)]
    completed = subprocess.run(command, cwd=Path.cwd())
    result_path = spec.directory / RESULT_NAME
    if completed.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"torchrun exited with code {completed.returncode} and no result")
    return json.loads(result_path.read_text())


def run_one(spec: RunSpec, trainer: Trainer, *, rerun_stale: bool = False) -> Optional[RunRecord]:
    """Train one spec unless it is done (or stale) or another process holds it; write its record.

    A stale spec is retrained only with `rerun_stale`; its checkpoints and old record are kept aside.
    A failed or damaged record that a retry replaces is kept aside too (run.superseded-<n>.json).

    Returns the new record, or None when nothing was run. Bad input (e.g. unusable data) raises
    InputError and leaves no record; any other exception becomes a failed record with its reason.
    """
    try:
        with run_lock(spec.directory):
            _remove_interrupted_writes(spec.directory)
            state = assess(spec)  # re-checked under the lock: another process may have finished it
            if state.state == "done" or (state.state == "stale" and not rerun_stale):
                return None
            if state.state == "stale":  # retrained because the claim changed: keep what answered the old one
                _set_aside_checkpoints(spec, state.note)
                _set_aside_record(spec, state.note)
            elif (spec.directory / RECORD_NAME).exists():  # a failed or damaged record, about to be replaced
                _set_aside_record(spec, state.note, with_metrics=False)  # the retry may resume its log
            started = _now()
            result = _attempt(spec, trainer)
            return _write_record_or_failure(spec, build_record(spec, result, started=started, ended=_now()))
    except RunLocked:
        log.info("%s is being run by another process; skipped", spec.name)
        return None


def _attempt(spec: RunSpec, trainer: Trainer) -> dict:
    """The trainer's result, or a failed result with the reason; bad input raises InputError."""
    try:
        return trainer(spec)
    except InputError:
        raise
    except ResumeConfigMismatch as err:
        if not (spec.directory / "checkpoint").exists():
            return _failure(err)
        # An unfinished run of an earlier version of the profile: its checkpoints cannot be
        # resumed under this config. Keep them aside and start this config from scratch.
        _set_aside_checkpoints(spec, str(err))
        return _attempt(spec, trainer)
    except ResumeWorldSizeMismatch as err:  # its checkpoints stay: a rerun with their world size resumes them
        return _failure(err)
    except TrmError as err:  # a config or data problem: no training of this spec can succeed
        raise _input_error(spec, err) from None
    except Exception as err:  # out of memory, a full disk at a checkpoint, a dead worker, a bug
        return _failure(err)  # this run fails with its reason; the plan's other runs go on


def _input_error(spec: RunSpec, err: TrmError) -> InputError:
    """The trainer's bad-input error as the harness's, naming the claims file, the claim and the profile."""
    where = ": ".join(part for part in (spec.claim.file, spec.claim.id) if part)
    profile = f"profiles.{spec.profile}"
    detail = err.prefixed(profile) if isinstance(err, ConfigError) else f"{profile}: {err}"
    return InputError(f"{where}: {detail}")


def _set_aside_checkpoints(spec: RunSpec, why: str) -> None:
    """Move `checkpoint/` to `checkpoint.superseded-<n>/` (kept, never resumed) and say so."""
    source = spec.directory / "checkpoint"
    if not source.exists():
        return
    number = 1
    while (spec.directory / f"checkpoint.superseded-{number}").exists():
        number += 1
    target = spec.directory / f"checkpoint.superseded-{number}"
    os.replace(source, target)
    log.warning("%s: %s; its checkpoints moved to %s, training starts from scratch", spec.name, why, target)


def _set_aside_record(spec: RunSpec, why: str, *, with_metrics: bool = True) -> None:
    """Move a run's `run.json` (and, `with_metrics`, its `metrics.csv`) to `run.superseded-<n>.json`
    (and `metrics.superseded-<n>.csv`): kept for the record, never read as evidence (read_records
    and the plan look for run.json only). A stale run moves its log too, so the retrained run starts
    a fresh one; a failed or damaged record's retry may resume from its checkpoint and keeps the log."""
    number = 1
    while (spec.directory / f"run.superseded-{number}.json").exists():
        number += 1
    moves = [(RECORD_NAME, f"run.superseded-{number}.json")]
    if with_metrics:
        moves.append(("metrics.csv", f"metrics.superseded-{number}.csv"))
    for name, target in moves:
        if (spec.directory / name).exists():
            os.replace(spec.directory / name, spec.directory / target)
    log.warning("%s: %s; its record moved to run.superseded-%d.json, retrained", spec.name, why or "replaced", number)


def _write_record_or_failure(spec: RunSpec, data: dict) -> RunRecord:
    """Write run.json; if that fails (a full disk), write a short failed record that says why instead.

    The trainer's final checkpoint stays, so the next `trm-audit run` retries the run and only has
    to write its record. If even the failed record cannot be written, it is returned unwritten, for
    the caller to print, and the plan goes on.
    """
    try:
        return write_record(spec.directory, data)
    except OSError as err:
        reason = f"its record could not be written ({type(err).__name__}: {err})"
        log.error("%s: %s", spec.name, reason)
        failed = dict(data, status="failed", error=reason[:500], evaluations=[])
        try:
            return write_record(spec.directory, failed)
        except OSError:
            return parse_record(failed, spec.directory / RECORD_NAME)


def _remove_interrupted_writes(directory: Path) -> None:
    """Delete the temporary files of atomic writes that a killed process left in a run directory.

    Only a process holding the directory's lock writes there, so under the lock any `.*.tmp` is
    the remains of an interrupted write (the complete file was never renamed into place).
    """
    for leftover in directory.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def _failure(err: BaseException) -> dict:
    log.error("run failed: %s", "".join(traceback.format_exception_only(type(err), err)).strip())
    reason = f"{type(err).__name__}: {err}".strip()
    return {"status": "failed", "error": reason.splitlines()[0][:500], "steps": None, "final": None, "best": None,
            "environment": {"world_size": int(os.environ.get("WORLD_SIZE", 1))}}
