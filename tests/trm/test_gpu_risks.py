"""Risks that only bite on GPUs, shown on the CPU (issue 16): the bf16 cast cache after a `.data`
write, checkpoints hashed while written and a full disk named as such, gradient accumulation equal
to the large batch, and a slow data build that no rank waits for in a collective."""
import builtins
import errno
import os
import shutil
import subprocess
import sys

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from trm import checkpoint
from trm.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from trm.config import TrainConfig
from trm.layers import Linear, cast_once
from trm.schema import ConfigError
from trm.train import train

TINY = Path(__file__).parents[1] / "data" / "trm_tiny_train.yaml"


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


# Risk 2: gradient accumulation keeps the global batch and the update

def _weights_after(tmp_path, data_cache, name, **train_overrides):
    body = yaml.safe_load(TINY.read_text())
    body["train"].update(max_steps=3, **train_overrides)
    result = train(TrainConfig.from_dict(body), tmp_path / name, data_cache=data_cache)
    assert result.status == "completed" and result.steps == 3
    saved = load_checkpoint(tmp_path / name / "checkpoint")
    return saved, result


@pytest.mark.parametrize("accum_steps", [2, 4])
def test_accumulated_micro_batches_give_the_large_batch_update(tmp_path, accum_steps):
    cache = tmp_path / "cache"
    whole, whole_result = _weights_after(tmp_path, cache, "whole")
    micro, micro_result = _weights_after(tmp_path, cache, "micro", grad_accum_steps=accum_steps)
    # Three updates on the persistent carry: slots that did not halt carry their example across steps.
    for key, value in whole["model"].items():
        assert torch.allclose(micro["model"][key], value, rtol=1e-5, atol=1e-6), key
    worst = max((micro["model"][k].double() - v.double()).abs().max().item() for k, v in whole["model"].items())
    print(f"grad_accum_steps={accum_steps}: max |weight difference| after 3 updates = {worst:.3g}")
    carry, micro_carry = whole["ranks"][0]["carry"], micro["ranks"][0]["carry"]
    assert torch.equal(carry["halted"], micro_carry["halted"]) and torch.equal(carry["steps"], micro_carry["steps"])
    assert all(torch.equal(carry["data"][k], micro_carry["data"][k]) for k in carry["data"])
    assert torch.equal(whole["ranks"][0]["explore"], micro["ranks"][0]["explore"])  # same exploration draws
    assert micro_result.final.metrics == pytest.approx(whole_result.final.metrics, rel=1e-5, abs=1e-6)


def test_accumulation_must_divide_the_per_process_batch(tmp_path):
    body = yaml.safe_load(TINY.read_text())
    body["train"].update(grad_accum_steps=3)  # 16 slots do not split into 3 micro-batches
    with pytest.raises(ConfigError, match="grad_accum_steps"):
        train(TrainConfig.from_dict(body), tmp_path / "run", data_cache=tmp_path / "cache")


# Risk 1: a slow data build never keeps a rank waiting in a collective

_SLOW_BUILD = '''
import os, sys, time
from pathlib import Path
import yaml
import trm.data.prepare as prepare
from trm.config import TrainConfig
from trm.train import train

real_build = prepare.build_dataset
def slow_build(*args, **kwargs):  # whichever rank takes the cache lock first builds, slowly
    time.sleep(float(sys.argv[3]))
    return real_build(*args, **kwargs)
prepare.build_dataset = slow_build
out = Path(sys.argv[2])
result = train(TrainConfig.from_dict(yaml.safe_load(Path(sys.argv[1]).read_text())), out / "run",
               data_cache=out / "cache", collective_timeout_s=float(sys.argv[4]))
# one file per rank: two ranks printing to one stdout can interleave their lines
(out / f"status-{os.environ['RANK']}.txt").write_text(f"{result.status} {result.steps}")
'''


def test_a_build_longer_than_the_collective_timeout_does_not_kill_the_other_rank(tmp_path):
    body = yaml.safe_load(TINY.read_text())
    body["train"].update(epochs=2, eval_interval=2, max_steps=2)
    config, script = tmp_path / "config.yaml", tmp_path / "slow_build.py"
    config.write_text(yaml.safe_dump(body))
    script.write_text(_SLOW_BUILD)
    build_s, timeout_s = 8, 2
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(config), str(tmp_path), str(build_s), str(timeout_s)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    statuses = [(tmp_path / f"status-{rank}.txt").read_text() for rank in (0, 1)]
    assert statuses == ["completed 2", "completed 2"]  # both ranks trained to the end
    assert load_checkpoint(tmp_path / "run" / "checkpoint")["world_size"] == 2


def test_the_collective_timeout_comes_from_the_argument_or_the_environment(monkeypatch):
    from trm.distributed import TIMEOUT_ENV, collective_timeout

    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    assert collective_timeout() is None  # torch's default
    monkeypatch.setenv(TIMEOUT_ENV, "3600")
    assert collective_timeout().total_seconds() == 3600
    assert collective_timeout(90).total_seconds() == 90  # the argument wins
    monkeypatch.setenv(TIMEOUT_ENV, "an hour")
    with pytest.raises(ValueError, match=TIMEOUT_ENV):
        collective_timeout()
    with pytest.raises(ValueError, match="positive"):
        collective_timeout(0)


def test_the_micro_batch_is_recorded_in_the_environment(tmp_path):
    body = yaml.safe_load(TINY.read_text())
    body["train"].update(max_steps=1, grad_accum_steps=4)
    result = train(TrainConfig.from_dict(body), tmp_path / "run", data_cache=tmp_path / "cache")
    assert result.environment["micro_batch_size"] == 4  # global batch 16 in 4 micro-batches, one process
