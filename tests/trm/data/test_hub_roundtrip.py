"""Hub CSV -> processed arrays -> the tokens docs/data-formats.md gives; official directories load as they are."""
import json

import numpy as np

from trm.config import DataConfig
from trm.data.dataset import PuzzleDataset
from trm.data.hub_csv import read_hub_csv, sudoku_digits
from trm.data.prepare import prepare_dataset
from trm.data.sudoku_solver import geometry_for_side, is_valid_solution
from trm.data.summary import describe_dataset

QUESTION = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
ANSWER = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
# The same puzzle with its digits relabelled d -> 10 - d (still valid, a second row).
QUESTION2 = "".join(ch if ch == "." else str(10 - int(ch)) for ch in QUESTION)
ANSWER2 = "".join(str(10 - int(ch)) for ch in ANSWER)


def write_sudoku_csvs(directory, line_end="\n"):
    header = "source,question,answer,rating"
    rows = [f"puzzles0_kaggle,{QUESTION},{ANSWER},0", f"puzzles4_forum_hardest_1905,{QUESTION2},{ANSWER2},17"]
    for name in ("train.csv", "test.csv"):
        (directory / name).write_bytes(line_end.join([header] + rows).encode() + line_end.encode())


def test_sudoku_csv_to_tokens(tmp_path):
    write_sudoku_csvs(tmp_path, "\r\n")
    cfg = DataConfig(task="sudoku", source="csv", path=str(tmp_path), train_size=None, num_aug=3)
    root = prepare_dataset(cfg, tmp_path / "cache")
    test = PuzzleDataset(root, "test")
    want_first_row = [6, 4, 1, 1, 8, 1, 1, 1, 1]  # "53..7...." : blank 1, digit d -> d + 1
    assert test.arrays.inputs[0, :9].tolist() == want_first_row
    assert test.arrays.inputs[0].tolist() == [1 if ch == "." else int(ch) + 1 for ch in QUESTION]
    assert test.arrays.labels[1].tolist() == [int(ch) + 1 for ch in ANSWER2]
    meta = json.loads((root / "train" / "dataset.json").read_text())
    assert list(meta) == ["pad_id", "ignore_label_id", "blank_identifier_id", "vocab_size", "seq_len",
                          "num_puzzle_identifiers", "total_groups", "mean_puzzle_examples", "total_puzzles", "sets"]
    assert (meta["vocab_size"], meta["seq_len"], meta["num_puzzle_identifiers"]) == (11, 81, 1)
    assert (meta["total_groups"], meta["total_puzzles"], meta["mean_puzzle_examples"]) == (2, 2, 1.0)
    assert json.loads((root / "identifiers.json").read_text()) == ["<blank>"]
    train = PuzzleDataset(root, "train")
    assert train.arrays.group_indices.tolist() == [0, 4, 8]
    assert train.arrays.puzzle_indices.tolist() == list(range(9))
    assert not train.arrays.puzzle_identifiers.any()
    originals = {tuple(train.arrays.inputs[0]), tuple(train.arrays.inputs[4])}
    assert originals == {tuple(test.arrays.inputs[0]), tuple(test.arrays.inputs[1])}  # version 0 untouched
    geometry = geometry_for_side(9)
    for row in range(8):  # augmented versions stay valid and consistent with their givens
        assert is_valid_solution(list(train.arrays.labels[row] - 1), geometry)
        given = train.arrays.inputs[row] > 1
        assert np.array_equal(train.arrays.inputs[row][given], train.arrays.labels[row][given])
    info = json.loads((root / "build.json").read_text())
    assert info["source"]["train_sources"] == {"puzzles0_kaggle": 1, "puzzles4_forum_hardest_1905": 1}
    assert info["seed"] == 0 and info["vocab_size"] == 11 and len(info["content_hash"]) == 64


def test_zero_blanks_read_like_dots(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(f"source,question,answer,rating\na,{QUESTION.replace('.', '0')},{ANSWER},3\n")
    questions, answers = sudoku_digits(read_hub_csv(path, 81), geometry_for_side(9))
    assert questions[0, 2] == 0 and questions[0, 0] == 5 and answers[0, 2] == 4


MAZE_Q = ["#####", "#S  #", "# # #", "#  G#", "#####"]
MAZE_A = ["#####", "#Soo#", "# #o#", "#  G#", "#####"]


def test_maze_csv_to_tokens_and_dihedral_versions(tmp_path):
    for name in ("train.csv", "test.csv"):
        (tmp_path / name).write_text(f"source,question,answer,rating\nm,{''.join(MAZE_Q)},{''.join(MAZE_A)},4\n")
    cfg = DataConfig(task="maze", source="csv", path=str(tmp_path), grid_size=5, dihedral_aug=True)
    root = prepare_dataset(cfg, tmp_path / "cache")
    test, train = PuzzleDataset(root, "test"), PuzzleDataset(root, "train")
    codes = {"#": 1, " ": 2, "S": 3, "G": 4, "o": 5}
    assert test.arrays.inputs[0].tolist() == [codes[ch] for ch in "".join(MAZE_Q)]
    assert test.arrays.labels[0].tolist() == [codes[ch] for ch in "".join(MAZE_A)]
    assert test.meta.vocab_size == 6 and test.meta.seq_len == 25
    assert train.arrays.group_indices.tolist() == [0, 8] and test.arrays.group_indices.tolist() == [0, 1]
    assert np.array_equal(train.arrays.inputs[0], test.arrays.inputs[0])
    label = train.arrays.labels[6].reshape(5, 5)  # version 6 = transpose
    assert np.array_equal(label, test.arrays.labels[0].reshape(5, 5).T)


def test_official_directory_with_int64_tokens_loads(tmp_path):
    root = tmp_path / "official"
    rows = np.array([[1 if ch == "." else int(ch) + 1 for ch in QUESTION]], dtype=np.int64)
    labels = np.array([[int(ch) + 1 for ch in ANSWER]], dtype=np.int64)
    meta = {"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": 11, "seq_len": 81,
            "num_puzzle_identifiers": 1, "total_groups": 1, "mean_puzzle_examples": 1, "total_puzzles": 1,
            "sets": ["all"]}
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        (root / split / "dataset.json").write_text(json.dumps(meta))
        np.save(root / split / "all__inputs.npy", rows)
        np.save(root / split / "all__labels.npy", labels)
        np.save(root / split / "all__puzzle_identifiers.npy", np.zeros(1, np.int32))
        np.save(root / split / "all__puzzle_indices.npy", np.array([0, 1], np.int32))
        np.save(root / split / "all__group_indices.npy", np.array([0, 1], np.int32))
    (root / "identifiers.json").write_text('["<blank>"]')
    cfg = DataConfig(task="sudoku", source="processed", path=str(root))
    assert prepare_dataset(cfg, tmp_path / "cache") == root
    batch = next(PuzzleDataset(root, "test").test_batches(2))
    assert batch["inputs"].dtype.is_floating_point is False and str(batch["inputs"].dtype) == "torch.int32"
    assert batch["inputs"][0].tolist() == rows[0].tolist()
    assert batch["labels"][1].tolist() == [-100] * 81  # padding row
    lines = describe_dataset(root)
    assert "build.json: none (an official builder's directory); content hash not checked" in lines
    assert lines[-1].startswith("  ") and "|" in lines[-1]
