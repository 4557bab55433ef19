"""The augmentations of the official builders, as invertible maps.

* Dihedral transforms 0..7 of a grid (docs/data-formats.md §3.2 table), used by Maze (`--aug`) and ARC.
* Sudoku shuffles (§2.2): digit relabelling, transpose (square boxes only), band/row and
  stack/column permutations; drawn many at a time as index maps so a 1000-fold build is vectorized.
* ARC versions (§4.2): colour map (0 fixed, 1..9 permuted) then a dihedral transform, named
  `<task>|||t<t>|||<m0..m9>`, and the inverse used by the evaluator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from trm.data.sudoku_solver import Geometry

DIHEDRAL_INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)
VERSION_SEPARATOR = "|||"


def dihedral(grid: np.ndarray, tid: int) -> np.ndarray:
    """Transform id `tid` of a 2-D grid: 0 identity, 1-3 rotations by 90/180/270 degrees
    counter-clockwise, 4 left-right mirror, 5 top-bottom mirror, 6 transpose, 7 anti-transpose."""
    if tid == 0:
        return grid
    if tid in (1, 2, 3):
        return np.rot90(grid, k=tid)
    if tid == 4:
        return np.fliplr(grid)
    if tid == 5:
        return np.flipud(grid)
    if tid == 6:
        return grid.T
    if tid == 7:
        return np.fliplr(np.rot90(grid, k=1))
    raise ValueError(f"dihedral transform id must be 0..7, got {tid}")


def inverse_dihedral(grid: np.ndarray, tid: int) -> np.ndarray:
    return dihedral(grid, DIHEDRAL_INVERSE[tid])


@dataclass(frozen=True)
class SudokuShuffles:
    """K validity-preserving Sudoku maps: out = digit_maps[k][src[cell_maps[k]]].

    cell_maps: (K, N*N) source cell of each output cell; digit_maps: (K, N+1) with 0 -> 0.
    """

    cell_maps: np.ndarray
    digit_maps: np.ndarray

    def apply(self, grids: np.ndarray) -> np.ndarray:
        """(N*N,) digits of one grid -> (K, N*N): every shuffle applied to it."""
        moved = grids[self.cell_maps]
        return np.take_along_axis(self.digit_maps, moved, axis=1)


def _grouped_permutations(count: int, groups: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(count, groups*size) orders of lines: a random order of the groups (bands or stacks),
    and inside each output group an independent random order of its lines."""
    group_order = np.argsort(rng.random((count, groups)), axis=1)
    inside = np.argsort(rng.random((count, groups, size)), axis=2)
    return (group_order[:, :, None] * size + inside).reshape(count, groups * size)


def sudoku_shuffles(geometry: Geometry, count: int, rng: np.random.Generator) -> SudokuShuffles:
    """Draw `count` independent shuffles (docs/data-formats.md §2.2, generalised to any box shape).

    Rows move within bands of box_rows rows and bands move as wholes; columns likewise within
    stacks of box_cols columns. Transpose (probability 1/2) exists only for square boxes: on 2x3
    boxes it would break the box constraint.
    """
    n = geometry.side
    digit_maps = np.zeros((count, n + 1), dtype=np.int64)
    digit_maps[:, 1:] = np.argsort(rng.random((count, n)), axis=1) + 1
    square = geometry.box_rows == geometry.box_cols
    transpose = rng.random(count) < 0.5 if square else np.zeros(count, dtype=bool)
    rows = _grouped_permutations(count, n // geometry.box_rows, geometry.box_rows, rng)
    cols = _grouped_permutations(count, n // geometry.box_cols, geometry.box_cols, rng)
    plain = rows[:, :, None] * n + cols[:, None, :]       # (K, N, N) source (R[r], C[c])
    swapped = cols[:, None, :] * n + rows[:, :, None]     # transposed source: (C[c], R[r])
    cell_maps = np.where(transpose[:, None, None], swapped, plain).reshape(count, n * n)
    return SudokuShuffles(cell_maps, digit_maps)


@dataclass(frozen=True)
class ArcVersion:
    """One ARC task version: colour map (colour_map[old] = new, 0 -> 0) then dihedral `tid`."""

    task_id: str
    tid: int = 0
    colour_map: Optional[tuple[int, ...]] = None   # None: the original version

    @property
    def name(self) -> str:
        if self.colour_map is None:
            return self.task_id
        digits = "".join(str(c) for c in self.colour_map)
        return f"{self.task_id}{VERSION_SEPARATOR}t{self.tid}{VERSION_SEPARATOR}{digits}"

    def apply(self, grid: np.ndarray) -> np.ndarray:
        if self.colour_map is None:
            return grid
        return np.ascontiguousarray(dihedral(np.asarray(self.colour_map, dtype=np.uint8)[grid], self.tid))

    def invert(self, grid: np.ndarray) -> np.ndarray:
        """Undo `apply`: the inverse dihedral transform, then the inverse colour map."""
        if self.colour_map is None:
            return grid
        inverse_colours = np.argsort(np.asarray(self.colour_map)).astype(np.uint8)
        return np.ascontiguousarray(inverse_colours[inverse_dihedral(grid, self.tid)])


def random_arc_version(task_id: str, rng: np.random.Generator) -> ArcVersion:
    """A dihedral id uniform in 0..7 and a colour map fixing 0 and permuting 1..9 uniformly."""
    tid = int(rng.integers(0, 8))
    colours = (0,) + tuple(int(c) for c in rng.permutation(np.arange(1, 10)))
    return ArcVersion(task_id, tid, colours)


def parse_arc_version(name: str) -> ArcVersion:
    """Read a version name back (`abc12345` or `abc12345|||t3|||0471...`); ValueError if malformed."""
    if VERSION_SEPARATOR not in name:
        return ArcVersion(name)
    parts = name.split(VERSION_SEPARATOR)
    if len(parts) != 3 or not parts[1].startswith("t") or not parts[1][1:].isdigit():
        raise ValueError(f"malformed ARC version name {name!r}")
    tid, digits = int(parts[1][1:]), parts[2]
    if tid > 7 or len(digits) != 10 or sorted(digits) != list("0123456789"):
        raise ValueError(f"malformed ARC version name {name!r}")
    return ArcVersion(parts[0], tid, tuple(int(d) for d in digits))
