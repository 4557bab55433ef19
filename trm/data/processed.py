"""The official processed ("puzzle dataset") directory: write it atomically, read it back checked.

Layout (docs/data-formats.md §1): `identifiers.json`, ARC's `test_puzzles.json`, and per split
`dataset.json` plus five arrays `all__{inputs,labels,puzzle_identifiers,puzzle_indices,group_indices}.npy`
in a group -> puzzle -> example hierarchy. Token arrays may have any integer dtype (the official
Sudoku train split is int64); we write uint8.

Our builders add `build.json`: source, seed, sizes, vocabulary, deviations and the SHA-256 content
hash of every other file, so a changed byte is caught on load. Directories from the official
builders have no build.json and are checked for structure only.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

import numpy as np

from trm.data.errors import DataError

SPLITS = ("train", "test")
ARRAYS = ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")
BUILD_INFO = "build.json"
IDENTIFIERS = "identifiers.json"
TEST_PUZZLES = "test_puzzles.json"


@dataclass(frozen=True)
class DatasetMeta:
    """A split's dataset.json, field for field in the official order."""

    pad_id: int
    ignore_label_id: Optional[int]
    blank_identifier_id: int
    vocab_size: int
    seq_len: int
    num_puzzle_identifiers: int
    total_groups: int
    mean_puzzle_examples: float
    total_puzzles: int
    sets: tuple[str, ...]

    @classmethod
    def from_json(cls, data: object, file: Path) -> "DatasetMeta":
        if not isinstance(data, dict):
            raise DataError(file, None, "expected a JSON object")
        values = {}
        for f in fields(cls):
            if f.name not in data:
                raise DataError(file, f"field {f.name}", "missing")
            value = data[f.name]
            if f.name == "sets":
                if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
                    raise DataError(file, "field sets", f"expected a non-empty list of names, got {value!r}")
                value = tuple(value)
            elif f.name == "mean_puzzle_examples":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise DataError(file, f"field {f.name}", f"expected a positive number, got {value!r}")
                value = float(value)
            elif not (value is None and f.name == "ignore_label_id"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise DataError(file, f"field {f.name}", f"expected an integer >= 0, got {value!r}")
            values[f.name] = value
        return cls(**values)

    def to_json(self) -> dict:
        out = asdict(self)
        out["sets"] = list(self.sets)
        return out


@dataclass(frozen=True)
class SplitArrays:
    """One split's arrays: inputs/labels (E, seq_len) tokens; puzzle_identifiers (P,) int32;
    puzzle_indices (P+1,) and group_indices (G+1,) int32 CSR offsets."""

    inputs: np.ndarray
    labels: np.ndarray
    puzzle_identifiers: np.ndarray
    puzzle_indices: np.ndarray
    group_indices: np.ndarray

    @property
    def num_examples(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def num_puzzles(self) -> int:
        return int(self.puzzle_identifiers.shape[0])

    @property
    def num_groups(self) -> int:
        return int(self.group_indices.shape[0] - 1)


@dataclass(frozen=True)
class ProcessedDataset:
    """Everything a builder produces, before it is written."""

    splits: dict            # split name -> (DatasetMeta, SplitArrays)
    identifiers: list       # index = puzzle identifier, 0 = "<blank>"
    info: dict              # build.json body (the content hash is added on writing)
    test_puzzles: Optional[dict] = None
    extra_files: dict = field(default_factory=dict)   # relative name -> file to copy in (raw stand-in CSVs)


def write_processed(dataset: ProcessedDataset, out_dir: Path, *, replace: bool = False) -> str:
    """Write `dataset` to `out_dir` atomically (a temporary sibling, then one rename); return its hash.

    An existing `out_dir` raises DataError unless `replace`. If another process finishes the same
    directory first, its copy is kept and ours is discarded.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not replace:
        raise DataError(out_dir, None, "already exists; remove it or choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        _write_files(dataset, tmp)
        digest = content_hash(tmp)
        with open(tmp / BUILD_INFO, "w") as handle:
            json.dump({**dataset.info, "content_hash": digest}, handle, indent=1)
        if replace and out_dir.exists():
            shutil.rmtree(out_dir)
        try:
            os.rename(tmp, out_dir)
        except OSError:
            if not (out_dir / BUILD_INFO).exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return digest


def _write_files(dataset: ProcessedDataset, root: Path) -> None:
    for name, source in dataset.extra_files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / name)
    with open(root / IDENTIFIERS, "w") as handle:
        json.dump(list(dataset.identifiers), handle)
    if dataset.test_puzzles is not None:
        with open(root / TEST_PUZZLES, "w") as handle:
            json.dump(dataset.test_puzzles, handle)
    for split, (meta, arrays) in dataset.splits.items():
        (root / split).mkdir()
        with open(root / split / "dataset.json", "w") as handle:
            json.dump(meta.to_json(), handle)
        for name in ARRAYS:
            np.save(root / split / f"{meta.sets[0]}__{name}.npy", getattr(arrays, name))


def _hashed_files(root: Path) -> list[Path]:
    files = [root / IDENTIFIERS, root / TEST_PUZZLES]
    for split in SPLITS:
        files.append(root / split / "dataset.json")
        files.extend(sorted((root / split).glob("*.npy")))
    files.extend(sorted((root / "source").glob("*")))
    return [f for f in files if f.exists()]


def content_hash(root: Path) -> str:
    """SHA-256 over every data file (relative name, then bytes), build.json excluded."""
    digest = hashlib.sha256()
    for path in _hashed_files(Path(root)):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
    return digest.hexdigest()


def read_build_info(root: Path) -> Optional[dict]:
    """build.json, or None for a directory written by the official builders."""
    path = Path(root) / BUILD_INFO
    if not path.exists():
        return None
    info = _load_json(path)
    if not isinstance(info, dict):
        raise DataError(path, None, f"expected a JSON object, got {type(info).__name__}")
    return info


def verify_content(root: Path) -> Optional[dict]:
    """Check the stored content hash; DataError if any data file changed. Returns build.json (or None)."""
    info = read_build_info(root)
    if info is None:
        return None
    stored = info.get("content_hash")
    actual = content_hash(root)
    if stored != actual:
        raise DataError(Path(root) / BUILD_INFO, "content_hash",
                        f"the data files changed since the build (stored {str(stored)[:12]}..., now {actual[:12]}...)")
    return info


def read_meta(root: Path, split: str) -> DatasetMeta:
    path = Path(root) / split / "dataset.json"
    if not path.exists():
        raise DataError(path, None, "missing (not a processed dataset directory?)")
    return DatasetMeta.from_json(_load_json(path), path)


def _load_json(path: Path):
    """A JSON file of a processed directory; DataError naming it when it is not UTF-8 JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, f"line {err.lineno}", f"not valid JSON: {err.msg}") from None
    except UnicodeDecodeError as err:
        raise DataError(path, None, f"not UTF-8 text (byte {err.start})") from None


def read_identifiers(root: Path) -> list:
    path = Path(root) / IDENTIFIERS
    if not path.exists():
        raise DataError(path, None, "missing")
    names = _load_json(path)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(path, None, "expected a list of names")
    return names


def read_test_puzzles(root: Path) -> dict:
    """ARC's test_puzzles.json: {task id: {"train": [...], "test": [{"input", "output"}, ...]}}.

    Checked where it is read, so a damaged file names itself, the task and the field instead of
    failing later in scoring with a bare KeyError or JSONDecodeError.
    """
    from trm.data.arc_sources import check_grid

    path = Path(root) / TEST_PUZZLES
    if not path.exists():
        raise DataError(path, None, "missing: not an ARC processed directory")
    tasks = _load_json(path)
    if not isinstance(tasks, dict) or not tasks:
        raise DataError(path, None, "expected a non-empty object mapping task ids to tasks")
    for task_id, task in tasks.items():
        pairs = task.get("test") if isinstance(task, dict) else None
        if not isinstance(pairs, list) or not pairs:
            raise DataError(path, f"task {task_id} field test", "expected a non-empty list of test pairs")
        for k, pair in enumerate(pairs):
            for field in ("input", "output"):
                if not isinstance(pair, dict) or field not in pair:
                    raise DataError(path, f"task {task_id} test[{k}]", f"missing {field!r}")
                check_grid(pair[field], path, f"task {task_id} test[{k}].{field}")
    return tasks


def load_split(root: Path, split: str, *, mmap: bool = True) -> tuple[DatasetMeta, SplitArrays]:
    """Read one split and check it against its dataset.json; DataError names file and problem.

    Token arrays are memory-mapped when `mmap` (the index arrays are always read in).
    """
    meta = read_meta(root, split)
    if len(meta.sets) != 1:
        raise DataError(Path(root) / split / "dataset.json", "field sets",
                        f"one set per split is supported (every official builder writes ['all']), got {list(meta.sets)}")
    arrays = {}
    for name in ARRAYS:
        path = Path(root) / split / f"{meta.sets[0]}__{name}.npy"
        if not path.exists():
            raise DataError(path, None, "missing array: the processed directory is incomplete")
        try:
            array = np.load(path, mmap_mode="r" if mmap and name in ("inputs", "labels") else None)
        except (ValueError, OSError) as err:
            raise DataError(path, None, f"not a readable .npy array ({err})") from None
        if not np.issubdtype(array.dtype, np.integer):
            raise DataError(path, None, f"expected an integer array, got dtype {array.dtype}")
        arrays[name] = array
    data = SplitArrays(**arrays)
    _check_split(Path(root) / split, meta, data)
    return meta, data


def _check_split(where: Path, meta: DatasetMeta, data: SplitArrays) -> None:
    def fail(name: str, problem: str):
        raise DataError(where / f"{meta.sets[0]}__{name}.npy", None, problem)

    if data.inputs.ndim != 2 or data.inputs.shape[1] != meta.seq_len:
        fail("inputs", f"expected shape (examples, {meta.seq_len}) from dataset.json seq_len, got {data.inputs.shape}")
    if data.labels.shape != data.inputs.shape:
        fail("labels", f"expected the inputs' shape {data.inputs.shape}, got {data.labels.shape}")
    for name in ("puzzle_identifiers", "puzzle_indices", "group_indices"):
        if getattr(data, name).ndim != 1:
            fail(name, f"expected a 1-D array, got shape {getattr(data, name).shape}")
    for name, total, count in (("puzzle_indices", data.num_examples, data.num_puzzles),
                               ("group_indices", data.num_puzzles, None)):
        offsets = getattr(data, name)
        if offsets.size < 2 or offsets[0] != 0 or offsets[-1] != total or np.any(np.diff(offsets) < 0):
            fail(name, f"expected non-decreasing offsets from 0 to {total}, got "
                       f"{offsets.size} values from {offsets[:1].tolist()} to {offsets[-1:].tolist()}")
        if count is not None and offsets.size != count + 1:
            fail(name, f"expected {count + 1} offsets (one per puzzle, plus 1), got {offsets.size}")
    if data.num_groups != meta.total_groups:
        fail("group_indices", f"{data.num_groups} groups, but dataset.json total_groups is {meta.total_groups}")
    ids = data.puzzle_identifiers
    if ids.size and (ids.min() < 0 or ids.max() >= meta.num_puzzle_identifiers):
        fail("puzzle_identifiers", f"identifiers must lie in [0, {meta.num_puzzle_identifiers}) "
                                   f"(num_puzzle_identifiers), got {ids.min()}..{ids.max()}")
    for name in ("inputs", "labels"):
        tokens = getattr(data, name)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= meta.vocab_size):
            fail(name, f"tokens must lie in [0, {meta.vocab_size}) (vocab_size), got {tokens.min()}..{tokens.max()}")
