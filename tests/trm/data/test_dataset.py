"""The official sampler: batches per iteration, one version per group per epoch, last partial batch
dropped, determinism from seed + iteration; and the in-order, padded test walk."""
import numpy as np
import pytest

from trm.data.dataset import PuzzleDataset
from trm.data.processed import DatasetMeta, ProcessedDataset, SplitArrays, write_processed


def synthetic(tmp_path, examples_per_puzzle, versions=3, name="d"):
    """A processed directory whose token rows say (group, version, example) + 1.

    examples_per_puzzle: one count per group (every version of a group has that many examples).
    """
    rows, puzzle_indices, group_indices, ids = [], [0], [0], []
    for g, count in enumerate(examples_per_puzzle):
        for v in range(versions):
            rows += [[g + 1, v + 1, e + 1] for e in range(count)]
            puzzle_indices.append(len(rows))
            ids.append(1 + g * versions + v)
        group_indices.append(len(ids))
    tokens = np.asarray(rows, dtype=np.uint8)
    labels = tokens.copy()
    labels[:, 2] = 0  # the "ignore" label id: becomes -100
    arrays = SplitArrays(tokens, labels, np.asarray(ids, np.int32), np.asarray(puzzle_indices, np.int32),
                         np.asarray(group_indices, np.int32))
    meta = DatasetMeta(0, 0, 0, 64, 3, len(ids) + 1, len(examples_per_puzzle), len(rows) / len(ids), len(ids), ("all",))
    dataset = ProcessedDataset({"train": (meta, arrays), "test": (meta, arrays)}, ["<blank>"] + [f"p{i}" for i in ids],
                               info={"task": "synthetic"})
    write_processed(dataset, tmp_path / name)
    return tmp_path / name


def collect(dataset, batch, **kwargs):
    return [{k: v.numpy() for k, v in b.items()} for b in dataset.train_batches(batch, **kwargs)]


def test_batch_count_and_last_partial_batch_dropped(tmp_path):
    data = PuzzleDataset(synthetic(tmp_path, [1] * 10), "train")
    batches = collect(data, 4, seed=0, iteration=0, epochs_per_iter=3)
    assert len(batches) == 30 // 4  # 7 full batches; the last 2 visits are dropped
    assert all(b["inputs"].shape == (4, 3) for b in batches)


def test_each_epoch_visits_every_group_once_with_one_version(tmp_path):
    data = PuzzleDataset(synthetic(tmp_path, [1] * 8, versions=5), "train")
    batches = collect(data, 4, seed=3, iteration=2, epochs_per_iter=5)
    rows = np.concatenate([b["inputs"] for b in batches])
    assert len(rows) == 40
    for epoch in range(5):
        visited = rows[epoch * 8:(epoch + 1) * 8]
        assert sorted(visited[:, 0]) == list(range(1, 9))
    assert len({tuple(r) for r in rows[:, :2]}) > 8  # versions vary across epochs
    ids = np.concatenate([b["puzzle_identifiers"] for b in batches])
    assert np.array_equal(ids, 1 + (rows[:, 0] - 1) * 5 + rows[:, 1] - 1)
    labels = np.concatenate([b["labels"] for b in batches])
    assert (labels[:, 2] == -100).all() and labels.dtype == np.int64 and rows.dtype == np.int32


def test_same_stream_as_the_official_loop(tmp_path):
    """Group order and versions equal a direct transcription of the official per-group draws."""
    data = PuzzleDataset(synthetic(tmp_path, [1] * 6, versions=4), "train")
    seed, iteration, epochs = 11, 0, 2
    rng = np.random.Generator(np.random.Philox(seed=seed + iteration + 1))  # official: seed + iters, iters from 1
    order = np.concatenate([rng.permutation(6) for _ in range(epochs)])
    groups = data.arrays.group_indices
    expected = [int(rng.integers(groups[g], groups[g + 1])) for g in order]
    rows = np.concatenate([b["inputs"] for b in collect(data, 3, seed=seed, iteration=iteration,
                                                         epochs_per_iter=epochs)])
    got = [(r[0] - 1) * 4 + r[1] - 1 for r in rows]
    assert got == expected


def test_determinism_from_seed_and_iteration(tmp_path):
    data = PuzzleDataset(synthetic(tmp_path, [1] * 10), "train")
    a = collect(data, 5, seed=1, iteration=4, epochs_per_iter=2)
    b = collect(data, 5, seed=1, iteration=4, epochs_per_iter=2)
    c = collect(data, 5, seed=1, iteration=5, epochs_per_iter=2)
    assert all(np.array_equal(x["inputs"], y["inputs"]) for x, y in zip(a, b))
    assert not all(np.array_equal(x["inputs"], y["inputs"]) for x, y in zip(a, c))


def test_multi_example_puzzles_are_truncated_at_the_batch_boundary(tmp_path):
    data = PuzzleDataset(synthetic(tmp_path, [3, 4, 2, 5, 1]), "train")
    batches = collect(data, 4, seed=0, iteration=0, epochs_per_iter=4)
    for b in batches:
        assert b["inputs"].shape == (4, 3)
        keys = [tuple(r) for r in b["inputs"]]
        assert len(set(keys)) == 4  # no example twice in one batch
        ids = b["puzzle_identifiers"]
        assert np.array_equal(ids, 1 + (b["inputs"][:, 0] - 1) * 3 + b["inputs"][:, 1] - 1)
    total = sum(len(b["inputs"]) for b in batches)
    assert total % 4 == 0 and total <= 4 * (3 + 4 + 2 + 5 + 1)


def test_ranks_split_each_global_batch(tmp_path):
    data = PuzzleDataset(synthetic(tmp_path, [2, 1, 3, 1, 2, 2]), "train")
    whole = collect(data, 6, seed=2, iteration=1, epochs_per_iter=3)
    parts = [collect(data, 6, seed=2, iteration=1, epochs_per_iter=3, rank=r, world_size=3) for r in range(3)]
    for k, batch in enumerate(whole):
        joined = np.concatenate([parts[r][k]["inputs"] for r in range(3)])
        assert np.array_equal(joined, batch["inputs"])
    with pytest.raises(ValueError, match="multiple of world size"):
        collect(data, 5, seed=0, iteration=0, epochs_per_iter=1, world_size=2)


def test_test_walk_in_order_with_padding(tmp_path):
    data = PuzzleDataset(synthetic(tmp_path, [1, 2, 1], versions=1), "test")
    batches = [{k: v.numpy() for k, v in b.items()} for b in data.test_batches(3)]
    assert len(batches) == 2
    rows = np.concatenate([b["inputs"] for b in batches])
    assert rows[:4, :2].tolist() == [[1, 1], [2, 1], [2, 1], [3, 1]]
    assert batches[1]["puzzle_identifiers"].tolist() == [3, 0, 0]
    assert (batches[1]["labels"][1:] == -100).all() and (batches[1]["inputs"][1:] == 0).all()
    by_rank = [[b["inputs"] for b in data.test_batches(4, rank=r, world_size=2)] for r in range(2)]
    assert np.array_equal(np.concatenate([by_rank[0][0], by_rank[1][0]]), rows[:4])
    assert by_rank[1][0].shape == (2, 3)
