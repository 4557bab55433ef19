"""Offline stand-ins for the hub data, written in the hub CSV layout (docs/data-formats.md §6).

The generated files are read back by the same reader and builder as the real ones. Rows carry a
distinct `source` value, and the generator's name, parameters, timing and rating distribution go
into build.json together with the ways the stand-in differs from the paper's data.

Sizes: `train_size` puzzles (None: the paper's 1000) and `test_size` (None: as many as train).
Sudoku (`grid_size` 4, 6, 8 or 9): `difficulty` = givens per puzzle (None: minimal puzzles); 9x9
puzzles get the hard tail (3 in 4 hill-climbed towards a high rating). Maze (any side): `difficulty`
= minimum shortest-path length in moves (None: 111 on 30x30, scaled by area).
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from trm.config import DataConfig
from trm.data.hub_csv import write_hub_csv
from trm.data.maze_generator import generate_mazes, paper_min_moves
from trm.data.sudoku_generator import SudokuRecipe, generate_sudokus
from trm.data.sudoku_solver import geometry_for_side
from trm.errors import ConfigError

SUDOKU_SOURCE = "standin_sudoku_v1"
MAZE_SOURCE = "standin_maze_v1"
PAPER_SIZE = 1000
# Sudoku-Extreme is about three quarters hard puzzles (docs/data-formats.md §2.1, §6.1).
HARD_FRACTION = 0.75
CLIMB_STEPS = 100


def standin_sizes(cfg: DataConfig) -> tuple[int, int]:
    train = PAPER_SIZE if cfg.train_size is None else cfg.train_size
    return train, train if cfg.test_size is None else cfg.test_size


def sudoku_recipe(cfg: DataConfig) -> SudokuRecipe:
    geometry = geometry_for_side(cfg.grid_size)
    hard = cfg.grid_size == 9
    return SudokuRecipe(geometry, cfg.difficulty, HARD_FRACTION if hard else 0.0, CLIMB_STEPS if hard else 0)


def rating_summary(ratings: np.ndarray) -> dict:
    """Quantiles, mean, share rated 0 and a coarse histogram of ratings."""
    edges = [0, 1, 2, 3, 6, 11, 21, 51, 101]
    labels = ["0", "1", "2", "3-5", "6-10", "11-20", "21-50", "51-100", "101+"]
    counts = np.histogram(ratings, bins=edges + [np.inf])[0]
    quantiles = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
    return {"n": int(ratings.size), "mean": round(float(ratings.mean()), 3),
            "zero_share": round(float((ratings == 0).mean()), 4),
            "quantiles": {str(q): float(np.quantile(ratings, q)) for q in quantiles},
            "histogram": dict(zip(labels, counts.tolist()))}


def write_standin_csvs(cfg: DataConfig, directory: Path, rng: np.random.Generator) -> tuple[Path, dict]:
    """Generate train.csv and test.csv into `directory`; returns (directory, generator info)."""
    train, test = standin_sizes(cfg)
    started = time.perf_counter()
    if cfg.task == "sudoku":
        rows, info = _sudoku_rows(cfg, train + test, rng)
    else:
        rows, info = _maze_rows(cfg, train + test, rng)
    info["seconds"] = round(time.perf_counter() - started, 3)
    if cfg.task == "sudoku":
        info["deviations"].append(f"test split: {test} generated puzzles (the paper tests on all 422,786 of test.csv)")
    elif test != PAPER_SIZE:
        info["deviations"].append(f"test split: {test} generated mazes (the paper: {PAPER_SIZE})")
    ratings = np.asarray([r[3] for r in rows], dtype=np.float64)
    info["ratings"] = {"train": rating_summary(ratings[:train]), "test": rating_summary(ratings[train:])}
    write_hub_csv(directory / "train.csv", rows[:train])
    write_hub_csv(directory / "test.csv", rows[train:])
    return directory, info


def _sudoku_rows(cfg: DataConfig, count: int, rng: np.random.Generator) -> tuple[list, dict]:
    recipe = sudoku_recipe(cfg)
    side = recipe.geometry.side
    with _difficulty_out_of_reach():
        puzzles = generate_sudokus(recipe, count, rng)
    rows = [(SUDOKU_SOURCE, _digits_text(p.puzzle), _digits_text(p.solution), p.rating) for p in puzzles]
    deviations = ["offline stand-in: generated puzzles with a unique solution; rating = our solver's backtrack "
                  "count (rating-like, not tdoku)"]
    if side != 9:
        deviations.append(f"{side}x{side} Sudoku with {recipe.geometry.box_rows}x{recipe.geometry.box_cols} boxes, not 9x9"
                          + ("" if recipe.geometry.box_rows == recipe.geometry.box_cols else "; no transpose augmentation"))
    if cfg.difficulty is not None:
        deviations.append(f"{cfg.difficulty} givens per puzzle (Sudoku-Extreme test puzzles have 17-36)")
    info = {"name": "trm.data.sudoku_generator", "source_value": SUDOKU_SOURCE, "side": side,
            "box": [recipe.geometry.box_rows, recipe.geometry.box_cols], "givens": cfg.difficulty,
            "hard_fraction": recipe.hard_fraction, "climb_steps": recipe.climb_steps,
            "mean_givens": round(float(np.mean([sum(1 for d in p.puzzle if d) for p in puzzles])), 3),
            "deviations": deviations}
    return rows, info


@contextlib.contextmanager
def _difficulty_out_of_reach() -> Iterator[None]:
    """A generator that gave up (its attempts never reached the difficulty) as a ConfigError on that field.

    `DataConfig.validate` refuses the difficulties no puzzle can have; this catches those its bounds
    let through that the generator's attempts never reach (3 givens on 4x4: the true minimum is 4).
    """
    try:
        yield
    except ValueError as err:  # the generators' only ValueError: "could not dig ..." / "no ... maze ..."
        raise ConfigError("data.difficulty", str(err)) from None


def _digits_text(digits) -> str:
    return "".join(str(d) if d else "." for d in digits)


def _maze_rows(cfg: DataConfig, count: int, rng: np.random.Generator) -> tuple[list, dict]:
    side = cfg.grid_size
    min_moves = paper_min_moves(side) if cfg.difficulty is None else cfg.difficulty
    with _difficulty_out_of_reach():
        mazes = generate_mazes(side, count, rng, min_moves)
    rows = [(MAZE_SOURCE, m.question, m.answer, m.rating) for m in mazes]
    deviations = ["offline stand-in: random-wall mazes with a unique shortest path (the original generator was "
                  "never released); rating = path length in moves"]
    if side != 30 or min_moves != 111:
        deviations.append(f"{side}x{side} mazes with paths of >= {min_moves} moves (Maze-Hard: 30x30, > 110)")
    info = {"name": "trm.data.maze_generator", "source_value": MAZE_SOURCE, "side": side,
            "min_moves": min_moves, "deviations": deviations}
    return rows, info
