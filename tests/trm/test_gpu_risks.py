"""Risks that only bite on GPUs, shown on the CPU (issue 16): the bf16 cast cache after a `.data`
write, checkpoints hashed while written and a full disk named as such, gradient accumulation equal
to the large batch, and a slow data build that no rank waits for in a collective."""
import builtins
import errno
import os
import shutil

import pytest
import torch
import torch.nn.functional as F

from trm import checkpoint
from trm.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from trm.layers import Linear, cast_once


# Risk 4: the bfloat16 weight-cast cache

def test_cast_follows_a_write_through_data_that_leaves_the_version_alone():
    layer = Linear(8, 4)
    x = torch.randn(2, 8, dtype=torch.bfloat16)
    with cast_once():
        before = layer(x)
    version = layer.weight._version
    layer.weight.data.copy_(torch.randn(4, 8))  # what dist.broadcast(tensor.data) does at start-up
    assert layer.weight._version == version  # the write is invisible to the version counter...
    with cast_once():
        after = layer(x)
    assert torch.equal(after, F.linear(x, layer.weight.detach().to(torch.bfloat16)))  # ...not to the cast
    assert not torch.equal(after, before)


def test_outside_a_forward_scope_every_call_casts_anew():
    layer = Linear(8, 4)
    x = torch.randn(2, 8, dtype=torch.bfloat16)
    layer(x)
    layer.weight.data.mul_(3.0)
    assert torch.equal(layer(x), F.linear(x, layer.weight.detach().to(torch.bfloat16)))


# Risk 3: a checkpoint write reads nothing back

def test_checkpoint_write_reads_nothing_back_and_its_digest_checks_on_load(tmp_path, monkeypatch):
    reads = []
    real_open = builtins.open

    def counting_open(file, mode="r", *args, **kwargs):
        if "r" in mode and str(tmp_path) in str(file):
            reads.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(checkpoint, "_file_digest", lambda path: pytest.fail(f"{path} read back for its hash"))
    state = {"weights": torch.randn(300, 200), "step": 7}
    for _ in range(3):
        path = save_checkpoint(tmp_path, state)
    assert reads == []
    monkeypatch.undo()
    assert checkpoint._NAME.match(path.name).group(2) == checkpoint._file_digest(path)  # same digest as a read
    assert len(list_checkpoints(tmp_path)) == checkpoint.KEEP
    assert torch.equal(load_checkpoint(tmp_path)["weights"], state["weights"])


# Full disk: ENOSPC naming the checkpoint, not inline_container.cc

class _FullDisk:
    """A file whose writes fail with ENOSPC after `room` bytes (a disk filling up mid-checkpoint)."""

    def __init__(self, file, room):
        self.file, self.room = file, room

    def write(self, data):
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def test_a_full_disk_is_reported_as_no_space_left_naming_the_checkpoint(tmp_path, monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(checkpoint.os, "fdopen", lambda fd, mode: _FullDisk(real_fdopen(fd, mode), room=4096))
    with pytest.raises(OSError) as caught:
        save_checkpoint(tmp_path, {"weights": torch.randn(300, 200)})
    assert caught.value.errno == errno.ENOSPC
    assert "No space left on device" in str(caught.value) and "ckpt-00000001" in str(caught.value)
    assert "inline_container" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # the partial file is gone


def test_torch_write_failure_on_a_full_disk_becomes_enospc(tmp_path, monkeypatch):
    def failing_save(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1, 1, 0))
    with pytest.raises(RuntimeError):  # no "write failed" in the message: not a disk error, kept as is
        save_checkpoint(tmp_path, {"x": 1})

    def full_save(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing "
                           "file data/0: file write failed")

    monkeypatch.setattr(checkpoint.torch, "save", full_save)
    with pytest.raises(OSError) as caught:
        save_checkpoint(tmp_path, {"x": 1})
    assert caught.value.errno == errno.ENOSPC and "ckpt-00000001" in str(caught.value)
