"""Pre-flight checks (audit/preflight.py) as pure functions, and `trm-audit run --dry-run` exiting 1 on a problem."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.plan import assess, expand_plan
from audit.preflight import (checkpoint_bytes, data_bytes, data_findings, device_findings, disk_findings, preflight,
                             problems, writable_findings)
from audit.registry import load_registry

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"
ROOT = Path(__file__).resolve().parents[2]


def toy_config():
    return load_registry([FIXTURE]).claim("toy/alpha").profiles["paper"].config


def with_data(config, **fields):
    return replace(config, data=replace(config.data, **fields))


def test_absent_data_says_where_it_comes_from(tmp_path):
    config = toy_config()
    sudoku = with_data(config, source="csv", path=str(tmp_path / "sudoku"))
    maze = with_data(config, task="maze", source="csv", path=str(tmp_path / "maze"), grid_size=30, num_aug=0)
    found = data_findings([sudoku, maze, sudoku])  # one finding per distinct source
    assert [f.level for f in found] == ["problem", "problem"]
    assert "train.csv, test.csv absent" in found[0].message and "sapientinc/sudoku-extreme" in found[0].message
    assert "sapientinc/maze-30x30-hard-1k" in found[1].message
    (tmp_path / "sudoku").mkdir()
    for name in ("train.csv", "test.csv"):
        (tmp_path / "sudoku" / name).write_text("source,question,answer,rating\n")
    assert [f.level for f in data_findings([sudoku])] == ["ok"]
    assert data_findings([config])[0].level == "ok"  # a generated stand-in needs nothing


def test_arc_needs_the_kaggle_files_and_conceptarc_missing_is_a_warning(tmp_path):
    arc = with_data(toy_config(), task="arc", source="kaggle", path=str(tmp_path), grid_size=30, train_size=None)
    [missing] = data_findings([arc])
    assert missing.level == "problem" and "training, evaluation, concept" in missing.message
    for subset in ("training", "evaluation"):
        for kind in ("challenges", "solutions"):
            (tmp_path / f"arc-agi_{subset}_{kind}.json").write_text("{}")
    [partial] = data_findings([arc])
    assert partial.level == "warning" and "ConceptARC" in partial.message and "not comparable" in partial.message


def test_the_device_must_exist_in_the_numbers_asked_for():
    assert device_findings("cuda", 1, cuda_devices=0)[0].level == "problem"
    [few] = device_findings("cuda", 4, cuda_devices=2)
    assert few.level == "problem" and "--nproc-per-node 4" in few.message and "only 2" in few.message
    assert device_findings("cuda", 2, cuda_devices=2)[0].level == "ok"
    assert device_findings("auto", 1, cuda_devices=0)[0].message.startswith("cpu (auto")


def test_directories_must_be_creatable_and_writable(tmp_path):
    (tmp_path / "afile").write_text("x")
    found = writable_findings({"--runs-dir": tmp_path / "afile", "--data-cache": tmp_path / "new" / "cache"})
    assert [f.level for f in found] == ["problem", "ok"]
    assert "exists and is not a directory" in found[0].message
    assert writable_findings({"--runs-dir": tmp_path / "afile" / "below"})[0].level == "problem"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert writable_findings({"--runs-dir": locked / "runs"})[0].level == "problem"


def test_the_disk_must_hold_the_checkpoints_and_the_data(tmp_path):
    config = toy_config()
    configs = [config.with_seed(s) for s in range(3)]
    need = 3 * 2 * checkpoint_bytes(config) + checkpoint_bytes(config) + data_bytes(config.data)
    assert data_bytes(config.data) == 2 * (64 * 5 + 32) * 16  # (64 x (1 + 4 aug) + 32 test) examples x 16 cells
    ok = disk_findings(configs, tmp_path / "runs", tmp_path / "cache", lambda p: need, lambda a, b: True)
    assert [f.level for f in ok] == ["ok"]
    short = disk_findings(configs, tmp_path / "runs", tmp_path / "cache", lambda p: need - 1, lambda a, b: True)
    assert [f.level for f in short] == ["problem"]
    apart = disk_findings(configs, tmp_path / "runs", tmp_path / "cache", lambda p: need - 1, lambda a, b: False)
    assert [f.level for f in apart] == ["ok", "ok"]  # each disk holds its own part


def test_paper_width_checkpoints_are_the_size_of_the_model_and_its_state():
    """sudoku-extreme/trm-mlp's paper model: ~5M parameters (Table 4) x 16 bytes, about 80 MB."""
    paper = load_registry([ROOT / "claims" / "sudoku_mlp.yaml"]).claim("sudoku-extreme/trm-mlp").profiles["paper"]
    assert 60e6 < checkpoint_bytes(paper.config) < 110e6
    assert data_bytes(paper.config.data) == 2 * 81 * (1000 * 1001 + 422_786)


def test_only_runs_still_to_train_are_checked(tmp_path):
    registry = load_registry([FIXTURE])
    specs = expand_plan(registry, profile="paper", seeds=[0], runs_dir=tmp_path, claim_ids=["toy/alpha"])
    planned = [replace(assess(spec), state="done") for spec in specs]
    found = preflight(planned, device="cuda", nproc_per_node=1, runs_dir=tmp_path, data_cache=None, cuda_devices=0,
                      free_bytes=lambda p: 0, same_disk=lambda a, b: True)
    assert [f.check for f in problems(found)] == ["device"]  # no data to read, nothing to write to disk


def test_dry_run_exits_1_with_one_line_per_problem(tmp_path):
    (tmp_path / "cache").write_text("not a directory")
    result = CliRunner().invoke(cli, ["run", str(FIXTURE), "--claim", "toy/alpha", "--runs-dir", str(tmp_path / "runs"),
                                      "--data-cache", str(tmp_path / "cache"), "--device", "cuda", "--dry-run"])
    lines = result.output.splitlines()
    problem_lines = [line for line in lines if line.startswith("  problem ")]
    if result.exit_code == 0:
        pytest.skip("a CUDA device is here")
    assert result.exit_code == 1, result.output
    assert lines[lines.index("pre-flight:") - 1].startswith("  new    toy/alpha  smoke  seed 0")
    assert [line.split()[1] for line in problem_lines] == ["device:", "writable:"]
    assert "--data-cache" in problem_lines[1] and "not a directory" in problem_lines[1]
    assert "Traceback" not in result.output
