"""Offline Maze-Hard stand-in: random-wall mazes whose marked path is the unique shortest one.

Recipe (docs/data-formats.md §6.2): walls independently with probability p ~ U[0.30, 0.50]; in the open
component of a random cell (4-neighbour moves) find a far cell by a double BFS sweep and pair it with
a random cell at distance >= `min_moves` (the distance drawn uniformly first), in random order as
S and G; draw one shortest S->G path at random; then, while a different shortest path exists, wall
off a cell that lies on another shortest path but not on ours.
Walls never shorten a path and ours survives, so its length is unchanged and in the end it is the
only shortest path: the exact-match label of the official metric is then not an arbitrary choice.

Rows are strings in the hub CSV alphabet: '#' wall, ' ' open, 'S' start, 'G' goal, 'o' path.
The rating is the path length in moves (number of 'o' cells + 1).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np

_MAX_ATTEMPTS = 10_000
_WALL_PROBABILITY = (0.30, 0.50)


@dataclass(frozen=True)
class GeneratedMaze:
    """One maze: question and answer as row-major strings of side*side chars, rating in moves."""

    question: str
    answer: str
    rating: int


def paper_min_moves(side: int) -> int:
    """Maze-Hard keeps paths longer than 110 moves on 30x30; scaled by area for other sides."""
    return max(1, round(111 * side * side / 900))


def _neighbours(side: int) -> list[tuple[int, ...]]:
    out = []
    for cell in range(side * side):
        r, c = divmod(cell, side)
        near = []
        if r > 0:
            near.append(cell - side)
        if r < side - 1:
            near.append(cell + side)
        if c > 0:
            near.append(cell - 1)
        if c < side - 1:
            near.append(cell + 1)
        out.append(tuple(near))
    return out


def bfs(open_cells: list[bool], start: int, neighbours) -> list[int]:
    """Distances in moves from `start` over open cells (-1 = unreachable)."""
    dist = [-1] * len(open_cells)
    dist[start] = 0
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        step = dist[cell] + 1
        for nxt in neighbours[cell]:
            if open_cells[nxt] and dist[nxt] < 0:
                dist[nxt] = step
                queue.append(nxt)
    return dist


def _random_shortest_path(dist_from_s: list[int], goal: int, neighbours, rng) -> list[int]:
    """Walk back from G to S through cells one move closer each time, choosing at random."""
    path = [goal]
    cell = goal
    while dist_from_s[cell] > 0:
        closer = [n for n in neighbours[cell] if dist_from_s[n] == dist_from_s[cell] - 1]
        cell = closer[int(rng.integers(len(closer)))]
        path.append(cell)
    return path[::-1]


def _make_path_unique(open_cells: list[bool], path: list[int], neighbours, rng) -> None:
    """Wall off cells on other shortest paths until `path` is the only shortest path (in place)."""
    start, goal, length = path[0], path[-1], len(path) - 1
    on_path = set(path)
    while True:
        from_s = bfs(open_cells, start, neighbours)
        from_g = bfs(open_cells, goal, neighbours)
        rivals = [c for c in range(len(open_cells))
                  if from_s[c] >= 0 and from_g[c] >= 0 and from_s[c] + from_g[c] == length and c not in on_path]
        if not rivals:
            return
        open_cells[rivals[int(rng.integers(len(rivals)))]] = False


def generate_maze(side: int, min_moves: int, rng: np.random.Generator) -> GeneratedMaze:
    """One side x side maze whose unique shortest S->G path has at least `min_moves` moves."""
    neighbours = _neighbours(side)
    for _ in range(_MAX_ATTEMPTS):
        p = rng.uniform(*_WALL_PROBABILITY)
        open_cells = [bool(x) for x in rng.random(side * side) >= p]
        opened = [c for c, ok in enumerate(open_cells) if ok]
        if len(opened) < 2:
            continue
        seed_cell = opened[int(rng.integers(len(opened)))]
        dist = bfs(open_cells, seed_cell, neighbours)
        far = max(range(len(dist)), key=dist.__getitem__)  # one end of a long path in this component
        dist = bfs(open_cells, far, neighbours)
        if max(dist) < min_moves:
            continue
        # A path length uniform over the lengths this maze offers, then a cell at that distance:
        # drawing cells directly would crowd the lengths at the threshold (most far cells sit there).
        lengths = sorted({d for d in dist if d >= max(min_moves, 1)})
        length = lengths[int(rng.integers(len(lengths)))]
        goals = [c for c, d in enumerate(dist) if d == length]
        start, goal = far, goals[int(rng.integers(len(goals)))]
        if rng.random() < 0.5:  # S is not always the far end of the sweep
            start, goal = goal, start
            dist = bfs(open_cells, start, neighbours)
        path = _random_shortest_path(dist, goal, neighbours, rng)
        _make_path_unique(open_cells, path, neighbours, rng)
        return _render(side, open_cells, path)
    raise ValueError(f"no {side}x{side} maze with a path of >= {min_moves} moves in {_MAX_ATTEMPTS} attempts; "
                     f"lower the difficulty")


def _render(side: int, open_cells: list[bool], path: list[int]) -> GeneratedMaze:
    question = ["#" if not ok else " " for ok in open_cells]
    question[path[0]] = "S"
    question[path[-1]] = "G"
    answer = list(question)
    for cell in path[1:-1]:
        answer[cell] = "o"
    return GeneratedMaze("".join(question), "".join(answer), len(path) - 1)


def generate_mazes(side: int, count: int, rng: np.random.Generator, min_moves: Optional[int] = None,
                   exclude: Optional[set] = None) -> list[GeneratedMaze]:
    """`count` distinct mazes (exact de-duplication, also against questions in `exclude`)."""
    wanted = paper_min_moves(side) if min_moves is None else min_moves
    seen = set(exclude or ())
    out: list[GeneratedMaze] = []
    while len(out) < count:
        maze = generate_maze(side, wanted, rng)
        if maze.question in seen:
            continue
        seen.add(maze.question)
        out.append(maze)
    return out
