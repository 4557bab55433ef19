"""Tools of the reliability suite: run `trm-audit` as a child process with a fault planted in it,
compare runs, snapshot and damage files.

The faults live here, not in the product: the child is `python reliability_kit.py [--fault NAME:N]
[--count FILE] -- <trm-audit arguments>`, which wraps one library function so that its N-th call
SIGKILLs the process at a chosen moment (mid-write, before a rename, mid-evaluation), then hands
over to the real `trm-audit` entry point. `--count FILE` appends one line per call of
`trm.train.train` (pid and run directory), so a test can count how often each run was trained.

Used by tests/reliability/ (a few faults, fast) and scripts/reliability.py (many, with figures).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
KILL_PLAN = DATA / "kill_plan.yaml"
PYTHON = sys.executable
KILLED = -signal.SIGKILL

# Fields of run.json that legitimately differ between two runs of the same seed: clocks, the
# checkout's state, where the data cache happened to be.
TIMING_FIELDS = ("started", "ended", "wall_time_s", "device_hours", "code")

FAULTS = {
    "train-step": "after the N-th optimizer update, before any checkpoint of it",
    "evaluation": "in the N-th evaluation, after its first test batch",
    "checkpoint-write": "half-way through writing the N-th checkpoint file",
    "checkpoint-rename": "after the N-th checkpoint is written, before its rename",
    "checkpoint-cleanup": "after the N-th checkpoint's rename, before older ones are deleted",
    "metrics-row": "half-way through appending the N-th block of metrics.csv rows",
    "record-write": "after the N-th run.json is written to its temporary file, before the rename",
    "record-done": "right after the N-th run.json is in place",
    "data-build": "after the N-th processed dataset is written, before its rename into the cache",
}


# ---- the child process ------------------------------------------------------------------------

def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install_fault(spec: str) -> None:
    """Plant fault NAME:N (see FAULTS) in this process."""
    name, _, nth_text = spec.partition(":")
    if name not in FAULTS:
        raise SystemExit(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
    nth = int(nth_text or 1)
    calls = itertools.count(1)

    def due() -> bool:
        return next(calls) == nth

    if name == "train-step":
        import trm.train

        real_step = trm.train.train_step

        def train_step(*args, **kwargs):
            out = real_step(*args, **kwargs)
            if due():
                _die()
            return out

        trm.train.train_step = train_step
    elif name == "evaluation":
        from trm.data.dataset import PuzzleDataset

        real_batches = PuzzleDataset.test_batches

        def test_batches(self, *args, **kwargs):
            dying = due()
            for index, batch in enumerate(real_batches(self, *args, **kwargs)):
                if dying and index == 1:
                    _die()
                yield batch
            if dying:
                _die()

        PuzzleDataset.test_batches = test_batches
    elif name == "checkpoint-write":
        import io

        import torch

        real_save = torch.save

        def save(obj, f, *args, **kwargs):
            if not due():
                return real_save(obj, f, *args, **kwargs)
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            f.flush()
            os.fsync(f.fileno())
            _die()

        torch.save = save
    elif name in ("checkpoint-rename", "checkpoint-cleanup", "record-write", "record-done"):
        real_replace = os.replace
        wanted = "run.json" if name.startswith("record") else "ckpt-"
        after = name in ("checkpoint-cleanup", "record-done")

        def replace(src, dst, *args, **kwargs):
            if not Path(dst).name.startswith(wanted) or not due():
                return real_replace(src, dst, *args, **kwargs)
            if after:
                real_replace(src, dst, *args, **kwargs)
            _die()

        os.replace = replace
    elif name == "metrics-row":
        from trm.result import MetricsLog

        real_write = MetricsLog.write

        def write(self, step, split, metrics):
            if not self.enabled or not due():
                return real_write(self, step, split, metrics)
            rows = "".join(f"{step},{split},{key},{float(metrics[key])!r}\n" for key in sorted(metrics))
            with open(self.path, "a") as handle:
                handle.write(rows[: len(rows) // 2])
            _die()

        MetricsLog.write = write
    elif name == "data-build":
        import trm.data.processed

        real_files = trm.data.processed._write_files

        def write_files(*args, **kwargs):
            real_files(*args, **kwargs)
            if due():
                _die()

        trm.data.processed._write_files = write_files


def install_counter(path: str) -> None:
    """Append '<pid> <run_dir>' to `path` at every call of trm.train.train."""
    import trm.train

    real_train = trm.train.train

    def train(cfg, run_dir, *args, **kwargs):
        with open(path, "a") as handle:
            handle.write(f"{os.getpid()} {Path(run_dir).resolve()}\n")
        return real_train(cfg, run_dir, *args, **kwargs)

    trm.train.train = train


def child_main(argv: list[str]) -> None:
    fault = counter = None
    while argv and argv[0] != "--":
        flag, value, argv = argv[0], argv[1], argv[2:]
        if flag == "--fault":
            fault = value
        elif flag == "--count":
            counter = value
        else:
            raise SystemExit(f"unknown option {flag}")
    if fault:
        install_fault(fault)
    if counter:
        install_counter(counter)
    from audit.cli import main

    sys.argv = ["trm-audit", *argv[1:]]
    main()


# ---- the parent side --------------------------------------------------------------------------

def child_env() -> dict:
    """One intra-op thread: the tiny models run faster and the machine is shared."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def trm_audit_command(args: list[str], *, fault: Optional[str] = None, count: Optional[Path] = None) -> list[str]:
    extra = (["--fault", fault] if fault else []) + (["--count", str(count)] if count else [])
    return [PYTHON, str(Path(__file__).resolve()), *extra, "--", *map(str, args)]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def killed(self) -> bool:
        return self.returncode == KILLED

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr


def trm_audit(args: list[str], cwd: Path, *, fault: Optional[str] = None, count: Optional[Path] = None,
              timeout: float = 300) -> Outcome:
    """Run `trm-audit ARGS` in `cwd` (with a fault planted, if given) and wait for it."""
    Path(cwd).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = subprocess.run(trm_audit_command(args, fault=fault, count=count), cwd=cwd, env=child_env(),
                          capture_output=True, text=True, timeout=timeout)
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def trm_audit_killed_after(args: list[str], cwd: Path, delay_s: float, *, timeout: float = 300) -> Outcome:
    """Start `trm-audit ARGS`, SIGKILL it after `delay_s` seconds unless it ended first."""
    Path(cwd).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    child = subprocess.Popen(trm_audit_command(args), cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = child.communicate(timeout=delay_s)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        stdout, stderr = child.communicate(timeout=timeout)
    return Outcome(child.returncode, stdout, stderr, time.monotonic() - started)


def trm_audit_killed_when(args: list[str], cwd: Path, should_kill, *, poll_s: float = 0.01,
                          timeout: float = 300) -> Outcome:
    """Start `trm-audit ARGS`, SIGKILL it as soon as `should_kill()` is true (polled), unless it ends first."""
    Path(cwd).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    child = subprocess.Popen(trm_audit_command(args), cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    while child.poll() is None and time.monotonic() - started < timeout:
        if should_kill():
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(poll_s)
    stdout, stderr = child.communicate(timeout=timeout)
    return Outcome(child.returncode, stdout, stderr, time.monotonic() - started)


def metrics_rows(runs_dir: Path) -> int:
    """Data rows logged so far in every metrics.csv under runs_dir (the plan's progress)."""
    total = 0
    for path in Path(runs_dir).rglob("metrics.csv"):
        try:
            total += max(0, path.read_bytes().count(b"\n") - 1)
        except OSError:
            pass
    return total


def plan_args(runs_dir: Path, cache: Path, seeds: str = "0,1", claims: Path = KILL_PLAN) -> list[str]:
    # One thread, not the default chosen from the machine's load: runs compared bit for bit (and
    # their records' environment.threads) must not depend on how busy the machine was at each run.
    return ["run", str(claims), "--seeds", seeds, "--runs-dir", str(runs_dir), "--data-cache", str(cache),
            "--device", "cpu", "--threads", "1"]


# ---- comparing runs ---------------------------------------------------------------------------

def record_signature(run_dir: Path) -> dict:
    """What two runs of the same seed must share bit for bit: run.json without its clocks (and the
    data cache's location), and the bytes of metrics.csv."""
    record = json.loads((Path(run_dir) / "run.json").read_text())
    for name in TIMING_FIELDS:
        record.pop(name, None)
    record.get("data", {}).pop("processed_dir", None)
    metrics = (Path(run_dir) / "metrics.csv").read_bytes()
    return {"record": record, "metrics_sha256": hashlib.sha256(metrics).hexdigest()}


def plan_signatures(runs_dir: Path) -> dict[str, dict]:
    """Relative run directory -> record_signature, for every run.json under runs_dir."""
    runs_dir = Path(runs_dir)
    return {str(p.parent.relative_to(runs_dir)): record_signature(p.parent) for p in sorted(runs_dir.rglob("run.json"))}


def differences(expected: dict, actual: dict, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON-like values differ (floats compared exactly)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in expected or key not in actual:
                out.append(f"{prefix}{key}: only in {'actual' if key in actual else 'expected'}")
            else:
                out.extend(differences(expected[key], actual[key], f"{prefix}{key}."))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (a, b) in enumerate(zip(expected, actual)) for d in differences(a, b, f"{prefix}{i}.")]
    return [] if expected == actual and type(expected) is type(actual) else [f"{prefix.rstrip('.')}: {expected!r} != {actual!r}"]


def torn_files(runs_dir: Path) -> list[str]:
    """Every file under runs_dir that a reader would find damaged: run.json that does not parse as a
    record, metrics.csv with a malformed row, a checkpoint whose digest does not match its name."""
    from audit.records import RecordError, read_record
    from trm.checkpoint import _NAME, _file_digest

    problems = []
    for path in sorted(Path(runs_dir).rglob("*")):
        if not path.is_file():
            continue
        if path.name == "run.json":
            try:
                read_record(path)
            except RecordError as err:
                problems.append(str(err))
        elif path.name == "metrics.csv":
            lines = path.read_text().split("\n")
            if lines[0] != "step,split,metric,value" or lines[-1] != "":
                problems.append(f"{path}: header or last line torn")
            for number, line in enumerate(lines[1:-1], start=2):
                step, split, _, value = (line.split(",") + [None] * 4)[:4]
                try:
                    int(step), float(value)
                    assert split in ("train", "test") and line.count(",") == 3
                except (TypeError, ValueError, AssertionError):
                    problems.append(f"{path}: line {number} malformed: {line!r}")
                    break
        elif _NAME.match(path.name) and _file_digest(path) != _NAME.match(path.name).group(2):
            problems.append(f"{path}: checkpoint digest mismatch")
    return problems


# ---- files and trees --------------------------------------------------------------------------

def tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root (directories not listed)."""
    root = Path(root)
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def truncate(path: Path, fraction: float = 0.5) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])


def flip_byte(path: Path, offset: Optional[int] = None, seed: int = 0) -> int:
    """XOR one byte with 0xFF (at `offset`, or a seeded random one); returns the offset."""
    data = bytearray(Path(path).read_bytes())
    where = offset if offset is not None else random.Random(seed).randrange(len(data))
    data[where] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    return where


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    child_main(sys.argv[1:])
