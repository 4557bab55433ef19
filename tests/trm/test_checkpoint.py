import logging

import torch

from trm.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from trm.result import MetricsLog


def test_keeps_two_and_loads_newest(tmp_path):
    for i in range(4):
        save_checkpoint(tmp_path, {"i": i, "t": torch.arange(3) * i})
    assert len(list_checkpoints(tmp_path)) == 2
    state = load_checkpoint(tmp_path)
    assert state["i"] == 3 and torch.equal(state["t"], torch.tensor([0, 3, 6]))


def test_corrupt_newest_falls_back_to_previous_and_says_so(tmp_path, caplog):
    save_checkpoint(tmp_path, {"i": 1})
    newest = save_checkpoint(tmp_path, {"i": 2})
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="trm.checkpoint"):
        assert load_checkpoint(tmp_path)["i"] == 1
    assert "corrupt" in caplog.text
    # The damaged file no longer counts: the next save keeps the good one as "previous".
    save_checkpoint(tmp_path, {"i": 3})
    assert [load_checkpoint(tmp_path)["i"]] == [3]
    assert len(list_checkpoints(tmp_path)) == 2


def test_all_corrupt_means_scratch(tmp_path, caplog):
    path = save_checkpoint(tmp_path, {"i": 1})
    path.write_bytes(path.read_bytes()[:10])
    with caplog.at_level(logging.WARNING, logger="trm.checkpoint"):
        assert load_checkpoint(tmp_path) is None
    assert "scratch" in caplog.text or "corrupt" in caplog.text
    assert load_checkpoint(tmp_path / "missing") is None


def test_interrupted_write_leaves_no_checkpoint(tmp_path):
    (tmp_path / ".ckpt-abc.tmp").write_bytes(b"partial")
    assert load_checkpoint(tmp_path) is None
    assert not list(tmp_path.glob("*.tmp"))


def test_metrics_log_truncates_to_checkpoint_size(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv")
    log.write(1, "train", {"b": 0.5, "a": 1})
    size = log.size()
    log.write(2, "train", {"a": 2})
    log.truncate_to(size)
    again = MetricsLog(tmp_path / "metrics.csv")
    again.write(2, "train", {"a": 3})
    assert (tmp_path / "metrics.csv").read_text() == (
        "step,split,metric,value\n1,train,a,1.0\n1,train,b,0.5\n2,train,a,3.0\n")
