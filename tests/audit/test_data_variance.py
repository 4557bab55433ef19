"""Data variance: with `data_seed: run` two seeds train on different data subsets (different recorded
content hashes); with `fixed` they share one. Tiny real trainings (a few optimizer steps each)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audit.plan import assess, expand_plan
from audit.registry import load_registry
from audit.runner import run_one, train_in_process

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """toy/alpha's smoke profile (4x4 Sudoku, 32 puzzles, 8 steps) as `drawn` (data_seed run) and
    `shared` (fixed), seeds 0 and 1 each, trained for real: {profile: {seed: (spec, record json)}}."""
    root = tmp_path_factory.mktemp("variance")
    text = FIXTURE.read_text()
    toy_alpha = text[:text.index("  - id: toy/beta")]
    smoke = toy_alpha[toy_alpha.index("      smoke:\n"):]
    both = toy_alpha.replace(smoke, smoke.replace("      smoke:\n", "      drawn:\n        data_seed: run\n")
                             + smoke.replace("      smoke:\n", "      shared:\n        data_seed: fixed\n"))
    (root / "claims.yaml").write_text(both)
    registry = load_registry([root / "claims.yaml"])
    out: dict = {}
    for profile in ("drawn", "shared"):
        for spec in expand_plan(registry, profile=profile, seeds=[0, 1], runs_dir=root / "runs"):
            record = run_one(spec, lambda s: train_in_process(s, data_cache=root / "data-cache"))
            assert record is not None and record.status == "completed", record
            out.setdefault(profile, {})[spec.seed] = (spec, json.loads((spec.directory / "run.json").read_text()))
    return out


def train_inputs(record: dict) -> set[bytes]:
    """The distinct training puzzles (input grids) of the processed directory a record trained on."""
    inputs = np.load(Path(record["data"]["processed_dir"]) / "train" / "all__inputs.npy")
    return {row.tobytes() for row in inputs}


def test_run_policy_gives_each_seed_its_own_subset(trained):
    records = {seed: record for seed, (_, record) in trained["drawn"].items()}
    assert [records[k]["config"]["data"]["seed"] for k in (0, 1)] == [0, 1]
    assert [records[k]["data"]["data_seed"] for k in (0, 1)] == ["run", "run"]
    hashes = [records[k]["data"]["processed_hash"] for k in (0, 1)]
    assert all(hashes) and hashes[0] != hashes[1], hashes
    assert train_inputs(records[0]) != train_inputs(records[1])


def test_fixed_policy_gives_every_seed_the_same_data(trained):
    records = {seed: record for seed, (_, record) in trained["shared"].items()}
    assert [records[k]["config"]["data"]["seed"] for k in (0, 1)] == [0, 0]
    assert [records[k]["data"]["data_seed"] for k in (0, 1)] == ["fixed", "fixed"]
    assert records[0]["data"]["processed_hash"] == records[1]["data"]["processed_hash"]
    assert records[0]["data"]["processed_dir"] == records[1]["data"]["processed_dir"]  # one cached build
    # Seed 0 is the same data under both policies: data.seed 0 + run seed 0.
    assert records[0]["data"]["processed_hash"] == trained["drawn"][0][1]["data"]["processed_hash"]


def test_records_of_later_seeds_count_under_either_policy(trained):
    """The evidence rule compares a record with Profile.config_for(seed): seed 1 of `drawn` is done, not stale."""
    for profile in ("drawn", "shared"):
        for spec, _ in trained[profile].values():
            assert assess(spec).state == "done", (profile, spec.seed)
