"""Two gloo processes under torchrun train like one process at the same global batch."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from trm.config import TrainConfig
from trm.train import train

TINY = Path(__file__).parents[1] / "data" / "trm_tiny_train.yaml"


def read_metrics(path: Path) -> dict:
    with open(path) as f:
        return {(int(r["step"]), r["split"], r["metric"]): float(r["value"]) for r in csv.DictReader(f)}


def test_two_process_gloo_run_matches_single_process(tmp_path):
    body = yaml.safe_load(TINY.read_text())
    # Exploration draws come from per-rank generators, so switch exploration off to compare runs.
    body["model"]["halt_exploration_prob"] = 0.0
    body["train"].update(epochs=2, eval_interval=2)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(body))
    cache = tmp_path / "cache"

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = train(TrainConfig.from_dict(body), tmp_path / "single", data_cache=cache)
    finally:
        torch.set_num_threads(threads)

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trm", "train", str(config), "--run-dir", str(tmp_path / "ddp"), "--data-cache", str(cache),
           "--threads", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    one, two = read_metrics(tmp_path / "single" / "metrics.csv"), read_metrics(tmp_path / "ddp" / "metrics.csv")
    assert set(one) == set(two)  # same steps, same metrics, written once (rank 0 only)
    last = single.steps
    assert last == 15
    for step in (1, 5, last):
        for metric in ("lm_loss", "q_halt_loss", "accuracy", "count"):
            key = (step, "train", metric)
            assert two[key] == pytest.approx(one[key], rel=2e-5, abs=1e-7), key
    for metric in ("lm_loss", "accuracy", "exact_accuracy"):
        key = (last, "test", metric)
        assert two[key] == pytest.approx(one[key], rel=2e-5, abs=1e-7), key
    assert '"world_size": 2' in (tmp_path / "ddp" / "result.json").read_text()
