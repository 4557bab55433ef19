"""ARC tasks -> the processed train and test splits (TRM's recipe, docs/data-formats.md §4.2, seeded).

* Every task's demonstration pairs go to the train split; its test pairs go to the test split if
  its subset is held out, else to the train split as well.
* Each task gets its original version plus up to `num_aug` distinct versions (colour map, then
  dihedral transform), drawn from at most 5 x num_aug candidates; a candidate whose transformed
  pairs equal an existing version's (compared as a sorted list of pair hashes) is rejected.
* A version keeps one identifier in both splits (ids by first appearance over train, then test;
  0 = "<blank>"), so the test split reuses embeddings learned on the demonstrations.
* Train examples are translated to a random offset on the canvas, except one per version that stays
  at (0, 0); the test split is untranslated (the evaluator's crop relies on it).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from trm.data.arc_sources import ArcPair, ArcTask
from trm.data.encoding import arc_canvas, grid_hash
from trm.data.processed import DatasetMeta, SplitArrays
from trm.data.symmetry import ArcVersion, random_arc_version

RETRIES_PER_VERSION = 5


@dataclass(frozen=True)
class ArcPuzzle:
    """One version of a task in one split: its examples, already transformed."""

    version: ArcVersion
    examples: tuple[ArcPair, ...]


@dataclass(frozen=True)
class ArcBuild:
    """The two splits' groups (each a list of puzzles), identifiers and held-out ground truth."""

    train: list            # list of groups; a group is a list of ArcPuzzle
    test: list
    identifiers: list      # index = identifier
    test_puzzles: dict     # task id -> task JSON with test outputs
    short_tasks: dict      # task id -> versions found, for tasks below 1 + num_aug


def _task_hash(pairs: Iterable[ArcPair]) -> str:
    keys = sorted(f"{grid_hash(p.input)}|{grid_hash(p.output)}" for p in pairs)
    return hashlib.sha256("|".join(keys).encode()).hexdigest()


def _transformed(version: ArcVersion, pairs: Iterable[ArcPair]) -> tuple[ArcPair, ...]:
    return tuple(ArcPair(version.apply(p.input), version.apply(p.output)) for p in pairs)


def task_versions(task: ArcTask, num_aug: int, rng: np.random.Generator) -> list[ArcVersion]:
    """The original, then up to `num_aug` versions whose transformed task is new."""
    versions = [ArcVersion(task.task_id)]
    seen = {_task_hash(task.train + task.test)}
    for _ in range(RETRIES_PER_VERSION * num_aug):
        if len(versions) > num_aug:
            break
        candidate = random_arc_version(task.task_id, rng)
        digest = _task_hash(_transformed(candidate, task.train + task.test))
        if digest not in seen:
            seen.add(digest)
            versions.append(candidate)
    return versions


def group_tasks(subsets: list[tuple[str, list[ArcTask]]], held_out: set, num_aug: int,
                rng: np.random.Generator) -> ArcBuild:
    """Versions and split assignment for `subsets` (processed in order, tasks shuffled within each)."""
    train, test, test_puzzles, short = [], [], {}, {}
    for subset, tasks in subsets:
        for index in rng.permutation(len(tasks)):
            task = tasks[int(index)]
            versions = task_versions(task, num_aug, rng)
            if len(versions) < num_aug + 1:
                short[task.task_id] = len(versions)
            into_train = task.train if subset in held_out else task.train + task.test
            train.append([ArcPuzzle(v, _transformed(v, into_train)) for v in versions])
            if subset in held_out:
                test.append([ArcPuzzle(v, _transformed(v, task.test)) for v in versions])
                test_puzzles[task.task_id] = task.to_json()
    identifiers = ["<blank>"]
    known = {}
    for group in train + test:
        for puzzle in group:
            if puzzle.version.name not in known:
                known[puzzle.version.name] = len(identifiers)
                identifiers.append(puzzle.version.name)
    return ArcBuild(train, test, identifiers, test_puzzles, short)


def arc_split(groups: list, identifiers: list, canvas: int, *, translate: bool,
              rng: np.random.Generator) -> tuple[DatasetMeta, SplitArrays]:
    """Encode groups of puzzles on a canvas x canvas sheet; `translate` for the train split."""
    index = {name: i for i, name in enumerate(identifiers)}
    inputs, labels, ids, puzzle_indices, group_indices = [], [], [], [0], [0]
    for group in groups:
        for puzzle in group:
            fixed = int(rng.integers(len(puzzle.examples)))  # this example keeps offset (0, 0)
            for k, pair in enumerate(puzzle.examples):
                row = col = 0
                if translate and k != fixed:
                    row = int(rng.integers(0, canvas - max(pair.input.shape[0], pair.output.shape[0]) + 1))
                    col = int(rng.integers(0, canvas - max(pair.input.shape[1], pair.output.shape[1]) + 1))
                inputs.append(arc_canvas(pair.input, canvas, row, col))
                labels.append(arc_canvas(pair.output, canvas, row, col))
            puzzle_indices.append(len(inputs))
            ids.append(index[puzzle.version.name])
        group_indices.append(len(ids))
    seq_len = canvas * canvas
    meta = DatasetMeta(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=12, seq_len=seq_len,
                       num_puzzle_identifiers=len(identifiers), total_groups=len(groups),
                       mean_puzzle_examples=len(inputs) / max(len(ids), 1), total_puzzles=len(ids), sets=("all",))
    empty = np.zeros((0, seq_len), dtype=np.uint8)
    arrays = SplitArrays(inputs=np.stack(inputs) if inputs else empty, labels=np.stack(labels) if labels else empty,
                         puzzle_identifiers=np.asarray(ids, dtype=np.int32),
                         puzzle_indices=np.asarray(puzzle_indices, dtype=np.int32),
                         group_indices=np.asarray(group_indices, dtype=np.int32))
    return meta, arrays
