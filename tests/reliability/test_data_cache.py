"""Issue 10.2 and 10.4 for the processed-data cache: a damaged entry is rebuilt (with a warning that
names it), and processes that want the same entry at once build it once and never replace an
intact entry under a reader."""
from __future__ import annotations

import logging
import threading
import time

import pytest

import reliability_kit as kit
import trm.data.prepare as prepare
from trm.config import DataConfig
from trm.data.dataset import PuzzleDataset
from trm.data.processed import BUILD_INFO, read_build_info

CFG = DataConfig(task="sudoku", source="generated", grid_size=4, train_size=8, test_size=4, num_aug=1, difficulty=8)


@pytest.fixture
def entry(tmp_path):
    return prepare.prepare_dataset(CFG, tmp_path / "cache")


def _arrays(root):
    return PuzzleDataset(root, "train").arrays.inputs.tolist()


@pytest.mark.parametrize("damage", ["truncate-npy", "flip-npy", "truncate-build-json", "garbage-build-json",
                                    "list-build-json", "delete-npy", "empty-identifiers"])
def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(entry, tmp_path, caplog, damage):
    expected = _arrays(entry)
    target = {"truncate-npy": "train/all__inputs.npy", "flip-npy": "test/all__labels.npy",
              "truncate-build-json": BUILD_INFO, "garbage-build-json": BUILD_INFO, "list-build-json": BUILD_INFO,
              "delete-npy": "train/all__puzzle_indices.npy", "empty-identifiers": "identifiers.json"}[damage]
    path = entry / target
    if damage.startswith("truncate"):
        kit.truncate(path)
    elif damage == "flip-npy":
        kit.flip_byte(path, offset=path.stat().st_size - 1)
    elif damage == "garbage-build-json":
        path.write_bytes(b"\xff\xfe\x00 not json")
    elif damage == "list-build-json":
        path.write_text("[1, 2]")
    elif damage == "delete-npy":
        path.unlink()
    else:
        path.write_text("")
    with caplog.at_level(logging.WARNING, logger="trm.data.prepare"):
        again = prepare.prepare_dataset(CFG, tmp_path / "cache")
    assert again == entry and _arrays(again) == expected
    assert read_build_info(again)["content_hash"]
    assert any("rebuilding" in r.getMessage() and str(entry) in r.getMessage() for r in caplog.records)


def test_two_builders_of_one_entry_build_it_once_and_never_replace_it(tmp_path, monkeypatch):
    """Regression: a second process that found no entry used to build its own copy and then delete
    the first one's directory (replace=True) while the first was reading it ('dataset.json:
    missing' in a concurrent `trm-audit run`). Builder A is held inside its build until B has had
    a second to do the same; B must wait for A's entry and use it."""
    real_build = prepare.build_dataset
    builds, b_done = [], threading.Event()

    def build(cfg, out, **kwargs):
        builds.append(threading.current_thread().name)
        if threading.current_thread().name == "A":
            b_done.wait(timeout=1.0)  # without the lock B finishes meanwhile and A then replaces its entry
        return real_build(cfg, out, **kwargs)

    monkeypatch.setattr(prepare, "build_dataset", build)
    results = {}

    def worker():
        results[threading.current_thread().name] = prepare.prepare_dataset(CFG, tmp_path / "cache")
        if threading.current_thread().name == "B":
            b_done.set()

    a = threading.Thread(target=worker, name="A")
    a.start()
    while not builds:
        time.sleep(0.01)
    b = threading.Thread(target=worker, name="B")
    b.start()
    a.join(timeout=60)
    b.join(timeout=60)
    assert builds == ["A"]
    assert results["A"] == results["B"]
    assert read_build_info(results["A"]) is not None
