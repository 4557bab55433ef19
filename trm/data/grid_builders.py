"""Sudoku and Maze: checked raw cells -> one processed split (the official recipes, seeded).

Both have one example per puzzle and identifier 0 everywhere. A group is one original item and
its augmented versions, the original first (docs/data-formats.md §2.2, §3.2):
* Sudoku train: 1 + num_aug versions per puzzle, each a fresh random shuffle (symmetry.py).
* Maze train: the 8 dihedral versions when `dihedral_aug` (official `--aug`), else 1.
The test splits are never augmented. dataset.json repeats the official quirk total_puzzles =
number of groups, with mean_puzzle_examples = 1, so the trainer's step formula matches.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from trm.data.encoding import maze_tokens, sudoku_tokens
from trm.data.processed import DatasetMeta, SplitArrays
from trm.data.sudoku_solver import Geometry
from trm.data.symmetry import dihedral, sudoku_shuffles


def subsample(total: int, wanted: Optional[int], rng: np.random.Generator, *, keep_order: bool) -> np.ndarray:
    """Row indices: all rows when `wanted` is None or >= total, else a uniform draw without
    replacement (the official builders' train subsample; in drawn order unless `keep_order`)."""
    if wanted is None or wanted >= total:
        return np.arange(total)
    rows = rng.choice(total, size=wanted, replace=False)
    return np.sort(rows) if keep_order else rows


def _meta(vocab_size: int, seq_len: int, groups: int) -> DatasetMeta:
    return DatasetMeta(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=vocab_size,
                       seq_len=seq_len, num_puzzle_identifiers=1, total_groups=groups,
                       mean_puzzle_examples=1.0, total_puzzles=groups, sets=("all",))


def _single_example_arrays(inputs: np.ndarray, labels: np.ndarray, versions: int) -> SplitArrays:
    rows = inputs.shape[0]
    return SplitArrays(inputs=inputs, labels=labels,
                       puzzle_identifiers=np.zeros(rows, dtype=np.int32),
                       puzzle_indices=np.arange(rows + 1, dtype=np.int32),
                       group_indices=np.arange(0, rows + 1, versions, dtype=np.int32))


def sudoku_split(questions: np.ndarray, answers: np.ndarray, geometry: Geometry, num_aug: int,
                 rng: np.random.Generator) -> tuple[DatasetMeta, SplitArrays]:
    """(G, N*N) digits (0 = blank) -> a split of G groups x (1 + num_aug) puzzles, uint8 tokens."""
    groups, cells = questions.shape
    versions = 1 + num_aug
    inputs = np.empty((groups * versions, cells), dtype=np.uint8)
    labels = np.empty_like(inputs)
    for g in range(groups):
        first = g * versions
        inputs[first], labels[first] = sudoku_tokens(questions[g]), sudoku_tokens(answers[g])
        if num_aug:
            shuffles = sudoku_shuffles(geometry, num_aug, rng)  # one map for puzzle and solution
            inputs[first + 1:first + versions] = sudoku_tokens(shuffles.apply(questions[g].astype(np.int64)))
            labels[first + 1:first + versions] = sudoku_tokens(shuffles.apply(answers[g].astype(np.int64)))
    meta = _meta(vocab_size=geometry.side + 2, seq_len=cells, groups=groups)
    return meta, _single_example_arrays(inputs, labels, versions)


def maze_split(questions: np.ndarray, answers: np.ndarray, side: int,
               dihedral_aug: bool) -> tuple[DatasetMeta, SplitArrays]:
    """(G, side*side) ASCII cells -> a split of G groups x (8 if dihedral_aug else 1) puzzles."""
    groups = questions.shape[0]
    tids = range(8) if dihedral_aug else range(1)
    q = maze_tokens(questions).reshape(groups, side, side)
    a = maze_tokens(answers).reshape(groups, side, side)
    inputs = np.stack([dihedral(q[g], t).reshape(-1) for g in range(groups) for t in tids])
    labels = np.stack([dihedral(a[g], t).reshape(-1) for g in range(groups) for t in tids])
    meta = _meta(vocab_size=6, seq_len=side * side, groups=groups)
    return meta, _single_example_arrays(inputs, labels, len(tids))
