"""Experiment tracking (trm.tracking): TensorBoard scalars that equal metrics.csv, off by default, rank 0 only.

Needs the optional tensorboard package (the `tracking` extra, part of the `test` extra so CI runs
these); without it only the no-op and missing-package tests run.
"""
import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

from trm.config import TrainConfig
from trm.tracking import Tracker, Tracking, TrackingUnavailable, check_available, open_tracker, read_scalars
from trm.train import train

TINY = Path(__file__).parents[1] / "data" / "trm_tiny_train.yaml"
HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None
needs_tensorboard = pytest.mark.skipif(not HAS_TENSORBOARD, reason="the optional tensorboard package is absent")


def tiny(**train_overrides) -> TrainConfig:
    body = yaml.safe_load(TINY.read_text())
    body["train"].update(train_overrides)
    return TrainConfig.from_dict(body)


def csv_scalars(path: Path) -> dict[str, list[tuple[int, float]]]:
    """metrics.csv as tag -> [(step, value)], the tags named as the tracker names them."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            scalars.setdefault(f"{row['split']}/{row['metric']}", []).append((int(row["step"]), float(row["value"])))
    return {tag: sorted(values) for tag, values in scalars.items()}


def as_float32(scalars: dict) -> dict:
    return {tag: [(step, float(np.float32(value))) for step, value in values] for tag, values in scalars.items()}


def test_tracking_is_off_by_default_and_off_on_other_ranks(tmp_path):
    assert Tracking().kind == "none"
    assert type(open_tracker(None, tmp_path)) is Tracker
    assert type(open_tracker(Tracking("tensorboard"), tmp_path, enabled=False)) is Tracker
    with pytest.raises(ValueError, match="tensorboard"):
        Tracking("wandb")


def test_tracking_is_not_part_of_the_config():
    """A tracked run and an untracked one share the config and so the config hash."""
    assert "tracking" not in str(tiny().to_dict())


@needs_tensorboard
def test_a_tracked_run_writes_the_metrics_csv_values_as_scalars(tmp_path):
    cfg = tiny(eval_raw_weights=True)
    result = train(cfg, tmp_path, data_cache=tmp_path / "cache", tracking=Tracking("tensorboard"))
    assert result.status == "completed" and result.steps == 30
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    expected = csv_scalars(tmp_path / "metrics.csv")
    assert {"train/lm_loss", "train/lr", "test/exact_accuracy", "test_raw/exact_accuracy"} <= set(expected)
    assert len(expected["train/lm_loss"]) == 30 and len(expected["test/exact_accuracy"]) == 2
    # TensorBoard stores scalars as float32: equal to the CSV's float64 values rounded once.
    assert read_scalars(tmp_path / "tensorboard") == as_float32(expected)


class Killed(Exception):
    pass


def kill_at(step: int):
    def progress(done: int, total: int) -> None:
        if done == step:
            raise Killed
    return progress


@needs_tensorboard
def test_a_resumed_run_shows_each_step_once(tmp_path):
    """The steps an interrupted attempt logged after its last checkpoint are purged, as metrics.csv drops them."""
    cfg = tiny()  # checkpoints every 7 steps
    train(cfg, tmp_path / "whole", data_cache=tmp_path / "cache", tracking=Tracking("tensorboard"))
    run = tmp_path / "resumed"
    with pytest.raises(Killed):  # logged steps 8-10 after the checkpoint at step 7
        train(cfg, run, data_cache=tmp_path / "cache", tracking=Tracking("tensorboard"), progress=kill_at(10))
    assert max(step for step, _ in read_scalars(run / "tensorboard")["train/lm_loss"]) == 10
    assert train(cfg, run, data_cache=tmp_path / "cache", tracking=Tracking("tensorboard")).steps == 30
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    resumed = read_scalars(run / "tensorboard")
    assert resumed == as_float32(csv_scalars(run / "metrics.csv"))
    assert resumed == read_scalars(tmp_path / "whole" / "tensorboard")


def test_a_missing_package_is_named(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard") or name.startswith("tensorboard"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(TrackingUnavailable, match="pip install"):
        check_available(Tracking("tensorboard"))
    check_available(None)
    check_available(Tracking())
