"""Augmentations are bijections that keep puzzles valid; ARC versions invert exactly."""
import numpy as np
import pytest

from trm.data.encoding import arc_canvas, arc_crop
from trm.data.sudoku_generator import SudokuRecipe, generate_sudoku
from trm.data.sudoku_solver import geometry_for_side, is_valid_solution
from trm.data.symmetry import (ArcVersion, dihedral, inverse_dihedral, parse_arc_version, random_arc_version,
                               sudoku_shuffles)


@pytest.mark.parametrize("side", [4, 6, 9])
def test_sudoku_shuffles_are_bijections_that_keep_validity(side):
    geometry = geometry_for_side(side)
    rng = np.random.default_rng(side)
    item = generate_sudoku(SudokuRecipe(geometry), rng)
    shuffles = sudoku_shuffles(geometry, 200, rng)
    for cell_map, digit_map in zip(shuffles.cell_maps, shuffles.digit_maps):
        assert sorted(cell_map) == list(range(side * side))
        assert digit_map[0] == 0 and sorted(digit_map[1:]) == list(range(1, side + 1))
    puzzles = shuffles.apply(np.asarray(item.puzzle))
    solutions = shuffles.apply(np.asarray(item.solution))
    for puzzle, solution in zip(puzzles, solutions):
        assert is_valid_solution(list(solution), geometry)
        assert np.all((puzzle == 0) | (puzzle == solution))
        assert (puzzle == 0).sum() == item.puzzle.count(0)
    if side == 9:  # 2 * 6**8 * 9! maps: 200 draws never repeat (4x4 has only 3072, so they may)
        assert len({p.tobytes() for p in puzzles}) == 200


def _transposed(cell_map, side):
    """Whether a shuffle sends a source column into an output row (it includes the transpose)."""
    sources = cell_map.reshape(side, side)[0]
    return len({s % side for s in sources}) == 1


def test_transpose_only_for_square_boxes():
    rng = np.random.default_rng(0)
    nine = sudoku_shuffles(geometry_for_side(9), 400, rng)
    share = np.mean([_transposed(m, 9) for m in nine.cell_maps])
    assert 0.4 < share < 0.6
    six = sudoku_shuffles(geometry_for_side(6), 400, rng)
    assert not any(_transposed(m, 6) for m in six.cell_maps)


def test_dihedral_table_and_inverses():
    grid = np.arange(12).reshape(3, 4)
    images = [dihedral(grid, t) for t in range(8)]
    assert len({(im.shape, im.tobytes()) for im in [np.ascontiguousarray(i) for i in images]}) == 8
    for t in range(8):
        assert np.array_equal(inverse_dihedral(dihedral(grid, t), t), grid)
    assert np.array_equal(dihedral(grid, 6), grid.T)
    assert np.array_equal(dihedral(grid, 7), np.rot90(grid, 2).T)  # anti-transpose


def test_arc_version_round_trip_through_the_canvas():
    rng = np.random.default_rng(0)
    for _ in range(50):
        h, w = rng.integers(1, 9, size=2)
        grid = rng.integers(0, 10, size=(h, w)).astype(np.uint8)
        version = random_arc_version("abcd1234", rng)
        assert version.colour_map[0] == 0
        shown = version.apply(grid)
        back = version.invert(arc_crop(arc_canvas(shown, 10), 10))
        assert np.array_equal(back, grid)
        assert parse_arc_version(version.name) == version
    assert parse_arc_version("abcd1234") == ArcVersion("abcd1234")


def test_bad_version_names_are_rejected():
    for name in ("abc|||t9|||0123456789", "abc|||t1|||0123", "abc|||x1|||0123456789"):
        with pytest.raises(ValueError, match="malformed"):
            parse_arc_version(name)


def test_canvas_markers():
    grid = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
    sheet = arc_canvas(grid, 5, 1, 1).reshape(5, 5)
    assert sheet[1:3, 1:4].tolist() == [[3, 4, 5], [6, 7, 8]]
    assert sheet[3, 1:4].tolist() == [1, 1, 1] and sheet[1:3, 4].tolist() == [1, 1]
    assert sheet[3, 4] == 0 and sheet[0].tolist() == [0] * 5
    full = arc_canvas(np.zeros((5, 5), dtype=np.uint8), 5)
    assert set(full.tolist()) == {2}  # a grid filling the canvas has no EOS
    assert arc_crop(full, 5).shape == (5, 5)
