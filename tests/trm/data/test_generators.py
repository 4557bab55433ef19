"""Stand-in generators: unique Sudoku solutions and unique shortest maze paths, checked independently."""
from collections import deque

import numpy as np
import pytest

from trm.data.maze_generator import generate_maze, generate_mazes, paper_min_moves
from trm.data.sudoku_generator import SudokuRecipe, generate_sudoku, generate_sudokus
from trm.data.sudoku_solver import Geometry, count_solutions, geometry_for_side, rating, search


# ---- an independent Sudoku checker: plain backtracking, no propagation, no shared code ------------

def reference_solutions(grid, box_rows, box_cols, limit=2):
    """All solutions up to `limit`, by trying every digit in the emptiest-looking cell."""
    n = box_rows * box_cols
    cells = list(grid)
    found = []

    def allowed(cell):
        r, c = divmod(cell, n)
        used = {cells[r * n + k] for k in range(n)} | {cells[k * n + c] for k in range(n)}
        r0, c0 = r - r % box_rows, c - c % box_cols
        used |= {cells[(r0 + i) * n + c0 + j] for i in range(box_rows) for j in range(box_cols)}
        return [d for d in range(1, n + 1) if d not in used]

    def walk():
        blanks = [k for k, v in enumerate(cells) if v == 0]
        if not blanks:
            found.append(tuple(cells))
            return
        options = {k: allowed(k) for k in blanks}
        cell = min(blanks, key=lambda k: len(options[k]))
        for digit in options[cell]:
            cells[cell] = digit
            walk()
            cells[cell] = 0
            if len(found) >= limit:
                return

    walk()
    return found


def reference_valid(solution, box_rows, box_cols):
    n = box_rows * box_cols
    grid = np.asarray(solution).reshape(n, n)
    boxes = grid.reshape(n // box_rows, box_rows, n // box_cols, box_cols).transpose(0, 2, 1, 3).reshape(n, n)
    want = list(range(1, n + 1))
    return all(sorted(line) == want for block in (grid, grid.T, boxes) for line in block)


@pytest.mark.parametrize("side,count", [(4, 20), (6, 20), (9, 3)])
def test_generated_sudokus_have_exactly_one_solution(side, count):
    geometry = geometry_for_side(side)
    puzzles = generate_sudokus(SudokuRecipe(geometry), count, np.random.default_rng(side))
    assert len({p.puzzle for p in puzzles}) == count
    for p in puzzles:
        solutions = reference_solutions(p.puzzle, geometry.box_rows, geometry.box_cols)
        assert solutions == [p.solution]
        assert reference_valid(p.solution, geometry.box_rows, geometry.box_cols)
        assert all(g in (0, s) for g, s in zip(p.puzzle, p.solution))


def test_minimal_puzzles_lose_uniqueness_when_any_clue_goes():
    geometry = geometry_for_side(6)
    p = generate_sudoku(SudokuRecipe(geometry), np.random.default_rng(3))
    for cell in (k for k, v in enumerate(p.puzzle) if v):
        fewer = list(p.puzzle)
        fewer[cell] = 0
        assert len(reference_solutions(fewer, 2, 3)) == 2


def test_givens_is_the_number_of_clues():
    geometry = geometry_for_side(6)
    for p in generate_sudokus(SudokuRecipe(geometry, givens=20), 10, np.random.default_rng(0)):
        assert sum(1 for d in p.puzzle if d) == 20
        assert len(reference_solutions(p.puzzle, 2, 3)) == 1


def test_impossible_givens_fail_with_a_message():
    with pytest.raises(ValueError, match="givens"):
        generate_sudoku(SudokuRecipe(geometry_for_side(4), givens=1), np.random.default_rng(0))


def test_hill_climbed_puzzles_stay_unique():
    geometry = geometry_for_side(9)
    p = generate_sudoku(SudokuRecipe(geometry, hard_fraction=1.0, climb_steps=15), np.random.default_rng(1))
    assert reference_solutions(p.puzzle, 3, 3) == [p.solution]
    assert p.rating == rating(p.puzzle, geometry)


def test_rating_counts_failed_branches():
    geometry = geometry_for_side(9)
    solved = generate_sudoku(SudokuRecipe(geometry), np.random.default_rng(5)).solution
    one_blank = list(solved)
    one_blank[40] = 0
    assert rating(one_blank, geometry) == 0
    # A well-known very hard puzzle (A. Inkala, 2012): singles alone do not solve it.
    hard = [0 if ch == "." else int(ch) for ch in
            "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4.."]
    known = [int(ch) for ch in "812753649943682175675491283154237896369845721287169534521974368438526917796318452"]
    assert reference_valid(known, 3, 3) and all(g in (0, k) for g, k in zip(hard, known))
    assert rating(hard, geometry) > 0
    assert search(hard, geometry).solutions == (tuple(known),)
    assert count_solutions(hard, geometry) == 1


def test_generator_is_deterministic_in_its_seed():
    recipe = SudokuRecipe(Geometry(2, 2))
    a = generate_sudokus(recipe, 5, np.random.default_rng(7))
    b = generate_sudokus(recipe, 5, np.random.default_rng(7))
    assert a == b


# ---- mazes: BFS with path counting, written here -------------------------------------------------

def shortest_paths(question, side):
    """(distance S->G in moves, number of shortest paths, set of cells on any shortest path)."""
    grid = [question[r * side:(r + 1) * side] for r in range(side)]
    start = question.index("S")
    goal = question.index("G")

    def sweep(origin):
        dist, ways = {origin: 0}, {origin: 1}
        queue = deque([origin])
        while queue:
            cell = queue.popleft()
            r, c = divmod(cell, side)
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < side and 0 <= cc < side and grid[rr][cc] != "#":
                    nxt = rr * side + cc
                    if nxt not in dist:
                        dist[nxt] = dist[cell] + 1
                        ways[nxt] = 0
                        queue.append(nxt)
                    if dist[nxt] == dist[cell] + 1:
                        ways[nxt] += ways[cell]
        return dist, ways

    from_s, ways = sweep(start)
    from_g, _ = sweep(goal)
    length = from_s[goal]
    on_path = {c for c in from_s if c in from_g and from_s[c] + from_g[c] == length}
    return length, ways[goal], on_path


@pytest.mark.parametrize("side,min_moves,count", [(11, None, 30), (15, 30, 10), (30, 111, 3)])
def test_marked_path_is_the_unique_shortest_path(side, min_moves, count):
    mazes = generate_mazes(side, count, np.random.default_rng(side), min_moves)
    wanted = paper_min_moves(side) if min_moves is None else min_moves
    for maze in mazes:
        length, ways, on_path = shortest_paths(maze.question, side)
        assert ways == 1
        assert length >= wanted and maze.rating == length
        marked = {k for k, ch in enumerate(maze.answer) if ch == "o"}
        ends = {maze.question.index("S"), maze.question.index("G")}
        assert marked == on_path - ends
        assert len(marked) == length - 1
        assert all(a == q or (a == "o" and q == " ") for a, q in zip(maze.answer, maze.question))


def test_paper_hardness_and_impossible_requests():
    assert paper_min_moves(30) == 111
    with pytest.raises(ValueError, match="lower the difficulty"):
        generate_maze(4, 100, np.random.default_rng(0))
