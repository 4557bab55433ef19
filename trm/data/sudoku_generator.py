"""Offline Sudoku-Extreme stand-in: unique-solution puzzles with a backtrack-count rating.

Recipe (docs/data-formats.md §6.1): fill a random complete grid by randomized search, then blank the
cells in random order whenever the puzzle stays uniquely solvable, until the target number of
givens is reached (or, with no target, until no clue can go: a minimal puzzle). Random minimal
puzzles are mostly easy, while Sudoku-Extreme is mostly hard; so a `hard_fraction` of the puzzles
is hill-climbed: swap one clue for another cell of the solution, keep the swap when the puzzle
stays unique and its rating does not fall, and return the best-rated puzzle seen.

The grids are already uniformly random (random fill, random digging order), so the card's
"randomly permuted by row, column, box and digit" step would change nothing in distribution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from trm.data.sudoku_solver import Geometry, other_solution_exists, rating, search

# A digging pass that cannot reach the wanted number of givens starts over with a new grid.
_MAX_ATTEMPTS = 200


@dataclass(frozen=True)
class SudokuRecipe:
    """How to make one stand-in puzzle.

    geometry: box shape (side = box_rows * box_cols); givens: clues left (None = minimal puzzle);
    hard_fraction: share of puzzles hill-climbed towards a high rating; climb_steps: swaps tried.
    """

    geometry: Geometry
    givens: Optional[int] = None
    hard_fraction: float = 0.0
    climb_steps: int = 0


@dataclass(frozen=True)
class GeneratedSudoku:
    """One puzzle: row-major digits (0 = blank), its unique solution, and its rating."""

    puzzle: tuple[int, ...]
    solution: tuple[int, ...]
    rating: int


def random_solution(geometry: Geometry, rng: np.random.Generator) -> list[int]:
    """A uniformly shuffled search over the empty grid: a random complete, valid grid."""
    result = search([0] * geometry.cells, geometry, limit=1, rng=rng)
    return list(result.solutions[0])


def dig(solution: list[int], geometry: Geometry, rng: np.random.Generator,
        givens: Optional[int]) -> Optional[list[int]]:
    """Blank cells in random order while the solution stays unique.

    Returns the puzzle with exactly `givens` clues (None: a minimal puzzle), or None when this
    solution's digging order cannot get down to `givens`.
    """
    puzzle = list(solution)
    clues = geometry.cells
    for cell in rng.permutation(geometry.cells):
        if givens is not None and clues == givens:
            break
        cell = int(cell)
        puzzle[cell] = 0
        if other_solution_exists(puzzle, solution, cell, geometry):
            puzzle[cell] = solution[cell]
        else:
            clues -= 1
    if givens is not None and clues != givens:
        return None
    return puzzle


def climb(puzzle: list[int], solution: list[int], geometry: Geometry, rng: np.random.Generator,
          steps: int) -> tuple[list[int], int]:
    """Hill-climb the rating by clue swaps that keep the solution unique; (best puzzle, its rating)."""
    current, current_rating = list(puzzle), rating(puzzle, geometry)
    best, best_rating = list(current), current_rating
    for _ in range(steps):
        clues = [c for c, d in enumerate(current) if d]
        blanks = [c for c, d in enumerate(current) if not d]
        if not clues or not blanks:
            break
        out_cell = clues[int(rng.integers(len(clues)))]
        in_cell = blanks[int(rng.integers(len(blanks)))]
        candidate = list(current)
        candidate[out_cell] = 0
        candidate[in_cell] = solution[in_cell]
        if len(search(candidate, geometry, limit=2).solutions) != 1:
            continue
        candidate_rating = rating(candidate, geometry)
        if candidate_rating >= current_rating:  # plateaus are walked: most ratings start at 0
            current, current_rating = candidate, candidate_rating
            if current_rating > best_rating:
                best, best_rating = list(current), current_rating
    return best, best_rating


def generate_sudoku(recipe: SudokuRecipe, rng: np.random.Generator) -> GeneratedSudoku:
    """One puzzle with a unique solution, following `recipe`."""
    geometry = recipe.geometry
    for _ in range(_MAX_ATTEMPTS):
        solution = random_solution(geometry, rng)
        puzzle = dig(solution, geometry, rng, recipe.givens)
        if puzzle is None:
            continue
        harden = recipe.climb_steps > 0 and rng.random() < recipe.hard_fraction
        if harden:
            puzzle, score = climb(puzzle, solution, geometry, rng, recipe.climb_steps)
        else:
            score = rating(puzzle, geometry)
        return GeneratedSudoku(tuple(puzzle), tuple(solution), score)
    raise ValueError(f"could not dig a {geometry.side}x{geometry.side} Sudoku down to {recipe.givens} givens "
                     f"in {_MAX_ATTEMPTS} attempts; ask for more givens")


def generate_sudokus(recipe: SudokuRecipe, count: int, rng: np.random.Generator,
                     exclude: Optional[set] = None) -> list[GeneratedSudoku]:
    """`count` distinct puzzles (exact de-duplication, also against the puzzles in `exclude`)."""
    seen = set(exclude or ())
    out: list[GeneratedSudoku] = []
    while len(out) < count:
        item = generate_sudoku(recipe, rng)
        if item.puzzle in seen:
            continue
        seen.add(item.puzzle)
        out.append(item)
    return out
