"""Run records on disk: `runs/<claim-id>/<profile>/seed-<k>/run.json` beside the trainer's `metrics.csv`.

A record is written once, atomically (temporary file, fsync, rename), when a run ends: a crash leaves
either no record or a complete one. Reading never trusts a file blindly: a torn or malformed record is
reported as a problem naming the file and kept out of every statistic.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from trm.host import current_umask

FORMAT_VERSION = 1
RECORD_NAME = "run.json"
EXTERNAL_DIR = "external"
LAYOUTS = ("ours", "official")  # an evaluated checkpoint's key names: trm.state's or the official code's
WEIGHTS = ("ema", "raw")
STATUSES = ("completed", "failed")
# How trm.train states that it stopped a run on a non-finite loss ("non-finite loss nan at step 12").
DIVERGED_ERROR = re.compile(r"^non-finite loss \S+ at step (\d+)$")


def run_dir(runs_dir: Path, claim_id: str, profile: str, seed: int) -> Path:
    """Where one run lives. Claim ids are validated by the registry (no '..', no absolute parts)."""
    return Path(runs_dir) / claim_id / profile / f"seed-{seed}"


def evaluation_dir(runs_dir: Path, claim_id: str, profile: str, seed: int, sha256: str) -> Path:
    """Where the record of an evaluated checkpoint lives: beside the profile's trained runs, named by
    the checkpoint's digest and the seed whose config scored it, so it is never mistaken for one."""
    return Path(runs_dir) / claim_id / profile / f"checkpoint-{sha256[:16]}-seed-{seed}"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a run on the test split, as the claim's metric sees it."""

    step: int
    value: float  # percent of the claim's metric
    correct: Optional[float]  # examples (or summed task scores for ARC) counted correct
    total: Optional[float]  # examples (or tasks for ARC) scored
    metrics: dict


@dataclass(frozen=True)
class RunRecord:
    """A finished run (completed or failed), as stored in run.json."""

    claim_id: str
    profile: str
    seed: int
    status: str
    error: Optional[str]
    config: dict
    config_hash: str
    metric: str
    final: Optional[Evaluation]
    best: Optional[Evaluation]
    selected: str  # the checkpoint rule in force when the run was recorded (audit.evidence applies today's)
    evaluations: list
    environment: dict
    code: dict
    data: dict
    started: Optional[str]
    ended: Optional[str]
    wall_time_s: Optional[float]
    device_hours: Optional[float]
    steps: Optional[int]
    path: Path
    raw_final: Optional[Evaluation] = None  # the raw weights beside the EMA copy (train.eval_raw_weights)
    raw_best: Optional[Evaluation] = None
    checkpoint: Optional[dict] = None
    """for an evaluated checkpoint (`trm-audit evaluate`), which one: {path (as given), sha256, layout
    ('ours' | 'official'), step (or null when unknown), weights ('ema' | 'raw')}; None for a trained run"""

    @property
    def evaluated(self) -> bool:
        """Whether this record scores given weights (the weights reproduce) rather than a training run."""
        return self.checkpoint is not None

    @property
    def commit(self) -> Optional[str]:
        """The code's git commit when the record was made; None when not recorded (older records, no git)."""
        commit = self.code.get("commit")
        return commit if isinstance(commit, str) and commit else None

    @property
    def dirty(self) -> Optional[bool]:
        """Whether that checkout had uncommitted changes to tracked files; None when not recorded."""
        dirty = self.code.get("dirty")
        return dirty if isinstance(dirty, bool) else None

    @property
    def location(self) -> Path:
        """The directory this record belongs in, relative to its runs directory."""
        if self.checkpoint is None:
            return run_dir(Path(), self.claim_id, self.profile, self.seed)
        return evaluation_dir(Path(), self.claim_id, self.profile, self.seed, self.checkpoint["sha256"])

    @property
    def diverged_at(self) -> Optional[int]:
        """The step whose loss was non-finite, for a failed run the trainer stopped on it; else None.

        Its evaluations (final, best) were all made before that step, with finite losses."""
        match = DIVERGED_ERROR.match(self.error or "") if self.status == "failed" else None
        return int(match.group(1)) if match else None


class RecordError(ValueError):
    """A run.json that cannot be trusted (torn, malformed, inconsistent)."""


def parse_record(data: Any, path: Path) -> RunRecord:
    """Validate a run.json dict; raise RecordError naming the field and what is wrong with it.

    Every field read is type-checked here, so that a record that is valid JSON but wrong in shape
    (`seed: null`, `evaluations: 5`) is one named problem, never a crash of whoever reads it later.
    """
    if not isinstance(data, dict):
        raise RecordError("expected a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise RecordError(f"format_version: expected {FORMAT_VERSION}, got {data.get('format_version')!r}")
    for key in ("claim_id", "profile", "seed", "status", "config", "config_hash", "metric"):
        if key not in data:
            raise RecordError(f"{key}: missing")
    for key in ("claim_id", "profile", "config_hash", "metric"):
        _expect(data, key, str, "a string", optional=False)
    if not _is_int(data["seed"]) or data["seed"] < 0:
        raise RecordError(f"seed: expected a non-negative integer, got {data['seed']!r}")
    if data["status"] not in STATUSES:
        raise RecordError(f"status: expected one of {', '.join(STATUSES)}, got {data['status']!r}")
    _expect(data, "config", dict, "an object", optional=False)
    for key in ("environment", "code", "data"):
        _expect(data, key, dict, "an object")
    for key in ("error", "started", "ended"):
        _expect(data, key, str, "a string or null")
    for key in ("wall_time_s", "device_hours"):
        value = data.get(key)
        if value is not None and not (_is_number(value) and math.isfinite(value) and value >= 0):
            raise RecordError(f"{key}: expected a non-negative number or null, got {value!r}")
    for key in ("steps", "total_steps"):
        value = data.get(key)
        if value is not None and not (_is_int(value) and value >= 0):
            raise RecordError(f"{key}: expected a non-negative integer or null, got {value!r}")
    evaluations = data.get("evaluations")
    if evaluations is not None and not (isinstance(evaluations, list) and all(isinstance(e, dict) for e in evaluations)):
        raise RecordError(f"evaluations: expected a list of objects, got {_clip(evaluations)}")
    final, best, raw_final, raw_best = (_evaluation(data, name) for name in ("final", "best", "raw_final", "raw_best"))
    if data["status"] == "completed" and final is None:
        raise RecordError("final: a completed run needs its final evaluation")
    # A failed run's evaluations are checked too: a diverged run may be counted with them.
    for name, ev in (("final", final), ("best", best), ("raw_final", raw_final), ("raw_best", raw_best)):
        if ev is not None and not (math.isfinite(ev.value) and 0 <= ev.value <= 100):
            raise RecordError(f"{name}.value: expected a percentage, got {ev.value!r}")
        if ev is not None:
            _check_agreement(name, ev, str(data["metric"]))
    _check_absent((data.get("data") or {}).get("arc_absent"))
    checkpoint = _checkpoint(data.get("checkpoint"))
    selected = data.get("selected", "final")
    if selected not in ("final", "best"):
        raise RecordError(f"selected: expected 'final' or 'best', got {selected!r}")
    return RunRecord(
        claim_id=data["claim_id"], profile=data["profile"], seed=data["seed"],
        status=data["status"], error=data.get("error"), config=data["config"],
        config_hash=data["config_hash"], metric=data["metric"], final=final, best=best,
        selected=selected, evaluations=list(evaluations or []),
        environment=dict(data.get("environment") or {}), code=dict(data.get("code") or {}),
        data=dict(data.get("data") or {}), started=data.get("started"), ended=data.get("ended"),
        wall_time_s=data.get("wall_time_s"), device_hours=data.get("device_hours"),
        steps=data.get("steps"), path=path, raw_final=raw_final, raw_best=raw_best, checkpoint=checkpoint,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _clip(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expect(data: dict, key: str, kind: type, what: str, *, optional: bool = True) -> None:
    """data[key] must be of `kind` (or absent / null when optional)."""
    value = data.get(key)
    if (value is None and optional) or isinstance(value, kind):
        return
    raise RecordError(f"{key}: expected {what}, got {_clip(value)}")


def _evaluation(data: dict, name: str) -> Optional[Evaluation]:
    """data[name] as an Evaluation (None when absent): step an integer, value a number, correct and
    total numbers or null, metrics an object of numbers."""
    ev = data.get(name)
    if ev is None:
        return None
    if not isinstance(ev, dict):
        raise RecordError(f"{name}: expected an evaluation object or null, got {_clip(ev)}")
    if not _is_int(ev.get("step")) or ev["step"] < 0:
        raise RecordError(f"{name}.step: expected a non-negative integer, got {_clip(ev.get('step'))}")
    if not _is_number(ev.get("value")):
        raise RecordError(f"{name}.value: expected a number, got {_clip(ev.get('value'))}")
    for key in ("correct", "total"):
        if ev.get(key) is not None and not _is_number(ev[key]):
            raise RecordError(f"{name}.{key}: expected a number or null, got {_clip(ev[key])}")
    metrics = ev.get("metrics")
    if metrics is not None and not (isinstance(metrics, dict) and all(_is_number(v) for v in metrics.values())):
        raise RecordError(f"{name}.metrics: expected an object of numbers, got {_clip(metrics)}")
    return Evaluation(step=ev["step"], value=float(ev["value"]), correct=ev.get("correct"), total=ev.get("total"),
                      metrics=dict(metrics or {}))


def _checkpoint(value: Any) -> Optional[dict]:
    """data.checkpoint, when present: path a string, sha256 64 hex digits, layout and weights known, step
    a non-negative integer or null."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordError(f"checkpoint: expected an object or null, got {_clip(value)}")
    if not isinstance(value.get("path"), str):
        raise RecordError(f"checkpoint.path: expected a string, got {_clip(value.get('path'))}")
    if not (isinstance(value.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", value["sha256"])):
        raise RecordError(f"checkpoint.sha256: expected 64 hex digits, got {_clip(value.get('sha256'))}")
    for key, allowed in (("layout", LAYOUTS), ("weights", WEIGHTS)):
        if value.get(key) not in allowed:
            raise RecordError(f"checkpoint.{key}: expected one of {', '.join(allowed)}, got {_clip(value.get(key))}")
    step = value.get("step")
    if step is not None and not (_is_int(step) and step >= 0):
        raise RecordError(f"checkpoint.step: expected a non-negative integer or null, got {_clip(step)}")
    return dict(value)


def _check_absent(absent: Any) -> None:
    """data.arc_absent, when present: {"subsets": {name: groups > 0}, "train_groups": n >= those groups}."""
    if absent is None:
        return
    subsets = absent.get("subsets") if isinstance(absent, dict) else None
    total = absent.get("train_groups") if isinstance(absent, dict) else None
    if not (isinstance(subsets, dict) and subsets and isinstance(total, int)
            and all(isinstance(n, str) and isinstance(g, int) and g > 0 for n, g in subsets.items())
            and total >= sum(subsets.values())):
        raise RecordError(f"data.arc_absent: expected {{'subsets': {{name: groups}}, 'train_groups': n}}, "
                          f"got {absent!r}")


AGREEMENT_PP = 1e-6  # value, metrics[metric] and correct/total are one number written three ways


def _check_agreement(name: str, ev: Evaluation, metric: str) -> None:
    """An evaluation's percent must agree with its fraction and its counts: a damaged digit in any of
    them (bit rot, a hand edit) makes the record untrustworthy instead of silently changing a verdict."""
    try:
        fraction = ev.metrics.get(metric)
        if fraction is not None and abs(ev.value - 100.0 * float(fraction)) > AGREEMENT_PP:
            raise RecordError(f"{name}.value: {ev.value!r} disagrees with {name}.metrics.{metric} {fraction!r}")
        if ev.correct is not None and ev.total is not None:
            correct, total = float(ev.correct), float(ev.total)
            if not (total > 0 and 0 <= correct <= total):
                raise RecordError(f"{name}.correct/total: expected 0 <= correct <= total, total > 0, "
                                  f"got {ev.correct!r}/{ev.total!r}")
            if abs(ev.value - 100.0 * correct / total) > AGREEMENT_PP:
                raise RecordError(f"{name}.value: {ev.value!r} disagrees with {name}.correct/total "
                                  f"{ev.correct!r}/{ev.total!r}")
    except (TypeError, ValueError) as err:
        if isinstance(err, RecordError):
            raise
        raise RecordError(f"{name}: malformed evaluation ({err})") from None


def read_record(path: Path) -> RunRecord:
    """Read one run.json; raise RecordError('<path>: ...') if it is unreadable or malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(f"{path}: unreadable run record ({err})") from None
    try:
        return parse_record(data, Path(path))
    except RecordError as err:
        raise RecordError(f"{path}: {err}") from None


def read_records(runs_dir: Path) -> tuple[list[RunRecord], list[str]]:
    """Every readable record under runs_dir (external results excluded), sorted, and the problems found.

    A record whose location disagrees with its content (claim, profile, seed) is a problem too: it
    could otherwise be counted for the wrong claim. So is every symlink and every directory that
    cannot be read (see `record_paths`): nothing under runs_dir is left out without a word.
    """
    records: list[RunRecord] = []
    runs_dir = Path(runs_dir)
    paths, problems = record_paths(runs_dir)
    for path in paths:
        try:
            record = read_record(path)
        except RecordError as err:
            problems.append(str(err))
            continue
        expected = runs_dir / record.location / RECORD_NAME
        if path != expected:
            what = f"checkpoint {record.checkpoint['sha256'][:16]}, " if record.evaluated else ""
            problems.append(f"{path}: record says {record.claim_id} / {record.profile} / {what}seed {record.seed}, "
                            f"which belongs in {expected}")
            continue
        records.append(record)
    records.sort(key=lambda r: (r.claim_id, r.profile, r.seed))
    return records, sorted(problems)


def record_paths(runs_dir: Path) -> tuple[list[Path], list[str]]:
    """The run.json files under runs_dir (runs_dir/external/ excluded), sorted, and the problems of the walk.

    Symlinks are not followed: a linked run directory or record would be read as evidence while it
    lives elsewhere (and may change there, or be counted twice), so each one is a problem naming it.
    A directory that cannot be listed, or a run.json that is not a file, is a problem naming it too.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return [], []
    paths: list[Path] = []
    problems: list[str] = []

    def unreadable(err: OSError) -> None:
        problems.append(f"{err.filename}: unreadable directory ({err.strerror or err}); its runs are not counted")

    for top, dirs, files in os.walk(runs_dir, onerror=unreadable):
        here = Path(top)
        if here == runs_dir and EXTERNAL_DIR in dirs:
            dirs.remove(EXTERNAL_DIR)
        for name in sorted(dirs + files):
            if (here / name).is_symlink():
                problems.append(f"{here / name}: a symlink (to {os.readlink(here / name)}); not read: records must be "
                                "real files inside the runs directory")
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
        if RECORD_NAME in dirs:
            problems.append(f"{here / RECORD_NAME}: not a file (a directory); not read as a record")
            dirs.remove(RECORD_NAME)
        if RECORD_NAME in files and not (here / RECORD_NAME).is_symlink():
            paths.append(here / RECORD_NAME)
    return sorted(paths), problems


def symlink_on_run_path(directory: Path, claim_id: str) -> Optional[Path]:
    """The first symlink among a run directory's own components (claim id parts, profile, seed-k,
    run.json), or None: such a run is not read by `read_records`, so the plan must not call it done."""
    depth = len(Path(claim_id).parts) + 2
    directory = Path(directory)
    chain = [*reversed([directory, *directory.parents][:depth]), directory / RECORD_NAME]
    return next((p for p in chain if p.is_symlink()), None)


def write_bytes_atomic(path: Path, raw: bytes) -> None:
    """Write a file so that readers see the old one or the complete new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 would hide records from the group
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (sorted keys, no NaN)."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


def write_record(directory: Path, data: dict) -> RunRecord:
    """Validate and atomically write run.json into `directory`; returns the parsed record."""
    record = parse_record(data, Path(directory) / RECORD_NAME)
    write_json_atomic(Path(directory) / RECORD_NAME, data)
    return record
