"""A processed split as batches: the official training sampler and the in-order test walk.

Training (docs/data-formats.md §1.4, docs/model-spec.md §4): loader iteration i chains `epochs_per_iter`
random permutations of the groups, using Philox seeded with `seed + i + 1` (the official loader
counts iterations from 1, so iteration 0 here draws exactly the official first iteration's group
order and versions). Each visit picks one puzzle (version) of the group uniformly, then adds its
examples in random order, only as many as still fit; batches hold exactly `global_batch_size`
examples and the last, partial one is dropped. Each rank yields its slice of every global batch.

One difference from the official loader: it orders a puzzle's examples with NumPy's unseeded
global generator; we use a second seeded stream (Sudoku and Maze, one example per puzzle, are
unaffected; their batches equal the official ones for the same seed).

Test: example rows in file order, in chunks of the global batch; a rank takes its slice and the
last batch is padded (inputs PAD, labels -100, identifier = blank).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from trm.data.processed import DatasetMeta, load_split

IGNORE_LABEL = -100


class PuzzleDataset:
    """One split of a processed directory. `meta` is its dataset.json (DatasetMeta).

    Loading checks the arrays against dataset.json; the content hash is checked by
    `prepare_dataset` / `check_processed`, which is how the trainer gets its directory.
    """

    def __init__(self, root: Path, split: str):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.root = Path(root)
        self.split = split
        self.meta: DatasetMeta
        self.meta, self.arrays = load_split(self.root, split)

    @property
    def num_examples(self) -> int:
        return self.arrays.num_examples

    def train_batches(self, global_batch_size: int, *, seed: int, iteration: int, epochs_per_iter: int,
                      rank: int = 0, world_size: int = 1) -> Iterator[dict]:
        """Yield this rank's slice of every full global batch of loader iteration `iteration` (0-based).

        Each dict holds torch tensors: inputs int32 (B, S), labels int64 (B, S) with -100 where
        ignored, puzzle_identifiers int32 (B,), with B = global_batch_size / world_size.
        """
        local = _local_size(global_batch_size, world_size, rank)
        rng = np.random.Generator(np.random.Philox(seed=seed + iteration + 1))
        order_rng = np.random.Generator(np.random.Philox(seed=[seed + iteration + 1, 1]))
        groups = self.arrays.group_indices
        visits = np.concatenate([rng.permutation(self.arrays.num_groups) for _ in range(epochs_per_iter)])
        # One version per visit, drawn in visit order: the same stream as the official per-group draws.
        puzzles = rng.integers(groups[visits], groups[visits + 1])
        for rows, puzzle_of_row in _pack(puzzles, self.arrays.puzzle_indices, global_batch_size, order_rng):
            mine = slice(rank * local, (rank + 1) * local)
            yield self._collate(rows[mine], self.arrays.puzzle_identifiers[puzzle_of_row[mine]], local)

    def test_batches(self, batch_size: int, *, rank: int = 0, world_size: int = 1) -> Iterator[dict]:
        """Yield the rows in order: this rank's slice of each global chunk of `batch_size`, padded."""
        local = _local_size(batch_size, world_size, rank)
        puzzle_of_row = np.repeat(np.arange(self.arrays.num_puzzles), np.diff(self.arrays.puzzle_indices))
        for start in range(0, self.num_examples, batch_size):
            end = min(start + batch_size, self.num_examples)
            lo, hi = min(start + rank * local, end), min(start + (rank + 1) * local, end)
            rows = np.arange(lo, hi)
            yield self._collate(rows, self.arrays.puzzle_identifiers[puzzle_of_row[rows]], local)

    def _collate(self, rows: np.ndarray, identifiers: np.ndarray, size: int) -> dict:
        import torch

        meta = self.meta
        inputs = np.full((size, meta.seq_len), meta.pad_id, dtype=np.int32)
        labels = np.full((size, meta.seq_len), IGNORE_LABEL, dtype=np.int64)
        ids = np.full(size, meta.blank_identifier_id, dtype=np.int32)
        n = len(rows)
        inputs[:n] = self.arrays.inputs[rows]
        labels[:n] = self.arrays.labels[rows]
        if meta.ignore_label_id is not None:
            labels[:n][self.arrays.labels[rows] == meta.ignore_label_id] = IGNORE_LABEL
        ids[:n] = identifiers
        return {"inputs": torch.from_numpy(inputs), "labels": torch.from_numpy(labels),
                "puzzle_identifiers": torch.from_numpy(ids)}


def _local_size(global_size: int, world_size: int, rank: int) -> int:
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of size {world_size}")
    if global_size % world_size:
        raise ValueError(f"global batch size {global_size} must be a multiple of world size {world_size}")
    return global_size // world_size


def _pack(puzzles: np.ndarray, puzzle_indices: np.ndarray, batch_size: int,
          order_rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Full batches of example rows from the chosen puzzles, in visit order.

    A puzzle adds min(its examples, room left) rows, in random order; a batch that is not full
    when the visits run out is dropped. Yields (rows (B,), puzzle of each row (B,)).
    """
    starts = puzzle_indices[puzzles].astype(np.int64)
    sizes = puzzle_indices[puzzles + 1].astype(np.int64) - starts
    if np.all(sizes == 1):  # Sudoku and Maze: one row per visit, no truncation, no ordering draws
        for first in range(0, len(puzzles) - batch_size + 1, batch_size):
            yield starts[first:first + batch_size], puzzles[first:first + batch_size]
        return
    rows, owners, filled = [], [], 0
    for puzzle, start, size in zip(puzzles.tolist(), starts.tolist(), sizes.tolist()):
        take = min(size, batch_size - filled)
        chosen = order_rng.choice(size, take, replace=False) if size > 1 else np.zeros(1, dtype=np.int64)
        rows.append(start + chosen[:take])
        owners.append(np.full(take, puzzle))
        filled += take
        if filled == batch_size:
            yield np.concatenate(rows), np.concatenate(owners)
            rows, owners, filled = [], [], 0
