"""Token encodings of the three benchmarks (docs/data-formats.md §2.2, §3.2, §4.2).

* Sudoku (side N): token = cell value + 1: 0 PAD (never present), 1 blank, 2..N+1 digits 1..N.
  vocab N + 2 (11 for 9x9), seq_len N*N, no EOS.
* Maze: '#' 1, ' ' 2, 'S' 3, 'G' 4, 'o' 5; 0 PAD never present; vocab 6, seq_len side*side.
* ARC: a grid on a C x C canvas (C = 30 officially): 0 PAD, 1 EOS, colour c -> c + 2; EOS marks
  the row below and the column right of the grid where they fit; vocab 12, seq_len C*C.
"""
from __future__ import annotations

import hashlib

import numpy as np

PAD, ARC_EOS = 0, 1
MAZE_CHARSET = "# SGo"
ARC_VOCAB = ("<pad>", "<eos>") + tuple(str(c) for c in range(10))


def sudoku_vocab(side: int) -> tuple[str, ...]:
    """Token names: index = token id."""
    return ("<pad>", ".") + tuple(str(d) for d in range(1, side + 1))


def maze_vocab() -> tuple[str, ...]:
    return ("<pad>",) + tuple(MAZE_CHARSET)


def sudoku_tokens(digits: np.ndarray) -> np.ndarray:
    """Digits 0..N (0 = blank) -> tokens 1..N+1, as uint8."""
    return (np.asarray(digits) + 1).astype(np.uint8)


def maze_tokens(codes: np.ndarray) -> np.ndarray:
    """ASCII codes of maze cells in the hub alphabet -> uint8 tokens of the same shape (charset checked before)."""
    table = np.zeros(256, dtype=np.uint8)
    table[[ord(ch) for ch in MAZE_CHARSET]] = np.arange(1, len(MAZE_CHARSET) + 1)
    return table[np.asarray(codes, dtype=np.uint8)]


def arc_canvas(grid: np.ndarray, canvas: int, row: int = 0, col: int = 0) -> np.ndarray:
    """Place an h x w colour grid at (row, col) on a canvas x canvas sheet -> (canvas*canvas,) uint8.

    Colours become tokens 2..11; EOS (1) fills the row below the grid (its columns only) and the
    column to its right (its rows only) where they are inside the canvas; the rest is PAD (0).
    """
    h, w = grid.shape
    sheet = np.zeros((canvas, canvas), dtype=np.uint8)
    sheet[row:row + h, col:col + w] = grid.astype(np.uint8) + 2
    if row + h < canvas:
        sheet[row + h, col:col + w] = ARC_EOS
    if col + w < canvas:
        sheet[row:row + h, col + w] = ARC_EOS
    return sheet.reshape(-1)


def arc_crop(tokens: np.ndarray, canvas: int) -> np.ndarray:
    """The colour grid at the top-left corner of a canvas sequence (the evaluator's crop, §5.2).

    Scanning rows downward, a row's usable width is its run of colour tokens (2..11) from column 0,
    capped by the previous row's; the rows x width rectangle of largest area wins (first on ties).
    Returns an (h, w) uint8 grid of colours 0..9, possibly 0 x 0.
    """
    sheet = np.asarray(tokens).reshape(canvas, canvas)
    is_colour = (sheet >= 2) & (sheet <= 11)
    best_area, best = 0, (0, 0)
    width = canvas
    for rows in range(1, canvas + 1):
        run = is_colour[rows - 1, :width]
        width = int(np.argmin(run)) if not run.all() else width
        if rows * width > best_area:
            best_area, best = rows * width, (rows, width)
    return (sheet[:best[0], :best[1]].astype(np.int64) - 2).astype(np.uint8)


def grid_hash(grid: np.ndarray) -> str:
    """SHA-256 of the shape (one byte per side) then the uint8 cells, as the official code keys grids."""
    grid = np.ascontiguousarray(grid, dtype=np.uint8)
    shape = bytes(int(s) for s in grid.shape)
    return hashlib.sha256(shape + grid.tobytes()).hexdigest()
