"""A small exact Sudoku solver for any box shape: counts solutions and rates difficulty.

Cells are numbered row-major on an N x N grid, N = box_rows * box_cols (4x4 with 2x2 boxes,
6x6 with 2x3 boxes, 9x9 with 3x3 boxes). A grid is a sequence of N*N ints, 0 = blank, 1..N = digit.
Candidates are bitmasks (bit d set = digit d still possible).

Propagation runs to a fixpoint with naked singles (a cell with one candidate removes it from its
peers) and hidden singles (a digit with one place left in a unit goes there). Search branches on a
cell with the fewest candidates, trying digits in increasing order. The number of failed branches
before the first solution is our difficulty rating: in the spirit of the tdoku backtrack count that
Sudoku-Extreme's `rating` column holds (docs/data-formats.md §2.1), not the same number.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from trm.config import SUDOKU_BOXES

# The elimination recursion follows chains of forced cells; a 9x9 grid needs far less than this.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))


@dataclass(frozen=True)
class Geometry:
    """The shape of a Sudoku: boxes of box_rows x box_cols cells, side N = box_rows * box_cols."""

    box_rows: int
    box_cols: int

    @property
    def side(self) -> int:
        return self.box_rows * self.box_cols

    @property
    def cells(self) -> int:
        return self.side * self.side

    @property
    def full_mask(self) -> int:
        return ((1 << self.side) - 1) << 1


def geometry_for_side(side: int) -> Geometry:
    """The standard box shape for a side: 4 -> 2x2, 6 -> 2x3, 8 -> 2x4, 9 -> 3x3 (one-character digits)."""
    if side not in SUDOKU_BOXES:  # a config with such a side is refused by DataConfig.validate
        raise ValueError(f"no standard Sudoku box shape for side {side} (known: {sorted(SUDOKU_BOXES)})")
    return Geometry(*SUDOKU_BOXES[side])


@functools.lru_cache(maxsize=None)
def _tables(geometry: Geometry) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[tuple[int, ...], ...], ...]]:
    """(peers of each cell, the three units of each cell)."""
    n, br, bc = geometry.side, geometry.box_rows, geometry.box_cols
    rows = [tuple(r * n + c for c in range(n)) for r in range(n)]
    cols = [tuple(r * n + c for r in range(n)) for c in range(n)]
    boxes = [tuple((b0 + i) * n + s0 + j for i in range(br) for j in range(bc))
             for b0 in range(0, n, br) for s0 in range(0, n, bc)]
    cell_units = []
    peers = []
    for cell in range(n * n):
        r, c = divmod(cell, n)
        box = (r // br) * (n // bc) + c // bc
        units = (rows[r], cols[c], boxes[box])
        cell_units.append(units)
        peers.append(tuple(sorted({p for u in units for p in u} - {cell})))
    return tuple(peers), tuple(cell_units)


def _eliminate(cands: list[int], cell: int, digit: int, peers, cell_units) -> bool:
    """Remove `digit` from `cell` and propagate singles; False on a contradiction."""
    bit = 1 << digit
    if not cands[cell] & bit:
        return True
    remaining = cands[cell] & ~bit
    cands[cell] = remaining
    if not remaining:
        return False
    if not remaining & (remaining - 1):  # naked single: the last candidate leaves every peer
        last = remaining.bit_length() - 1
        for peer in peers[cell]:
            if not _eliminate(cands, peer, last, peers, cell_units):
                return False
    for unit in cell_units[cell]:  # hidden single: `digit` has one place left in this unit
        places = [c for c in unit if cands[c] & bit]
        if not places:
            return False
        if len(places) == 1 and cands[places[0]] != bit:
            if not _assign(cands, places[0], digit, peers, cell_units):
                return False
    return True


def _assign(cands: list[int], cell: int, digit: int, peers, cell_units) -> bool:
    others = cands[cell] & ~(1 << digit)
    d = 0
    while others:
        if others & 1:
            if not _eliminate(cands, cell, d, peers, cell_units):
                return False
        others >>= 1
        d += 1
    return True


def initial_candidates(grid: Sequence[int], geometry: Geometry) -> Optional[list[int]]:
    """Candidate masks after placing the givens and propagating; None if the givens contradict."""
    peers, cell_units = _tables(geometry)
    cands = [geometry.full_mask] * geometry.cells
    for cell, digit in enumerate(grid):
        if digit and not _assign(cands, cell, int(digit), peers, cell_units):
            return None
    return cands


@dataclass
class _Search:
    peers: tuple
    cell_units: tuple
    limit: int
    rng: Optional[np.random.Generator]
    solutions: list
    backtracks: int = 0

    def run(self, cands: list[int]) -> None:
        best, best_count = -1, 99
        for cell, mask in enumerate(cands):
            if mask & (mask - 1):
                count = mask.bit_count()
                if count < best_count:
                    best, best_count = cell, count
                    if count == 2:
                        break
        if best < 0:
            self.solutions.append([m.bit_length() - 1 for m in cands])
            return
        digits = [d for d in range(1, len(cands)) if cands[best] >> d & 1]
        if self.rng is not None:
            self.rng.shuffle(digits)
        for digit in digits:
            child = cands[:]
            if _assign(child, best, digit, self.peers, self.cell_units):
                self.run(child)
            if not self.solutions:
                self.backtracks += 1  # a failed branch before the first solution
            if len(self.solutions) >= self.limit:
                return


@dataclass(frozen=True)
class SearchResult:
    """Up to `limit` solutions (each a list of N*N digits) and the failed branches before the first."""

    solutions: tuple[tuple[int, ...], ...]
    backtracks: int


def search(grid: Sequence[int], geometry: Geometry, *, limit: int = 2,
           rng: Optional[np.random.Generator] = None,
           cands: Optional[list[int]] = None) -> SearchResult:
    """Find up to `limit` solutions of `grid` (digits tried in increasing order unless `rng`).

    `cands` may pass a prepared candidate state instead of the grid's givens (used to ask "is
    there a solution with this cell different?").
    """
    peers, cell_units = _tables(geometry)
    start = cands if cands is not None else initial_candidates(grid, geometry)
    state = _Search(peers, cell_units, limit, rng, [])
    if start is not None:
        state.run(start)
    return SearchResult(tuple(tuple(s) for s in state.solutions), state.backtracks)


def count_solutions(grid: Sequence[int], geometry: Geometry, limit: int = 2) -> int:
    """Number of solutions, counted up to `limit` (2 answers "is it unique?")."""
    return len(search(grid, geometry, limit=limit).solutions)


def rating(grid: Sequence[int], geometry: Geometry) -> int:
    """Failed branches before the first solution (0 = singles alone solve it). Needs a solvable grid."""
    result = search(grid, geometry, limit=1)
    if not result.solutions:
        raise ValueError("the grid has no solution")
    return result.backtracks


def is_valid_solution(solution: Sequence[int], geometry: Geometry) -> bool:
    """Every row, column and box holds each digit 1..N exactly once."""
    _, cell_units = _tables(geometry)
    wanted = set(range(1, geometry.side + 1))
    units = {u for per_cell in cell_units for u in per_cell}
    return len(solution) == geometry.cells and all({solution[c] for c in u} == wanted for u in units)


def other_solution_exists(givens: Sequence[int], solution: Sequence[int], cell: int,
                          geometry: Geometry) -> bool:
    """Whether `givens` (cell blank) has a solution whose `cell` differs from `solution`.

    Cheaper than counting to 2: the search starts with the known digit struck from that cell.
    """
    peers, cell_units = _tables(geometry)
    cands = initial_candidates(givens, geometry)
    if cands is None:
        return False
    if not _eliminate(cands, cell, int(solution[cell]), peers, cell_units):
        return False
    return bool(search(givens, geometry, limit=1, cands=cands).solutions)
