"""The runner tells the trainer's errors apart by type (trm.errors), never by class name or message text."""
from __future__ import annotations

from pathlib import Path

import pytest

from audit.errors import InputError
from audit.plan import expand_plan
from audit.registry import load_registry
from audit.runner import run_one
from trm.errors import ConfigError, DataError, ResumeConfigMismatch, ResumeWorldSizeMismatch

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"


@pytest.fixture
def spec(tmp_path):
    return expand_plan(load_registry([FIXTURE]), profile="smoke", seeds=[0], runs_dir=tmp_path)[0]


def raising(err: Exception):
    def trainer(_):
        raise err

    return trainer


def test_config_and_data_errors_are_bad_input_naming_file_claim_and_profile(spec):
    with pytest.raises(InputError) as err:
        run_one(spec, raising(ConfigError("data.grid_size", "no standard Sudoku box shape for side 7")))
    assert str(err.value) == (f"{FIXTURE}: toy/alpha: profiles.smoke.data.grid_size: "
                              "no standard Sudoku box shape for side 7")
    with pytest.raises(InputError) as err:
        run_one(spec, raising(DataError("csv/train.csv", "row 3", "answer breaks the rules")))
    assert str(err.value) == f"{FIXTURE}: toy/alpha: profiles.smoke: csv/train.csv: row 3: answer breaks the rules"
    assert not (spec.directory / "run.json").exists()


def completed() -> dict:
    ev = {"step": 4, "epoch": 2, "metrics": {"exact_accuracy": 0.5}, "counts": {"exact_accuracy": [8, 16]}}
    return {"status": "completed", "error": None, "steps": 4, "total_steps": 4, "evaluations": [ev], "final": ev,
            "best": ev, "environment": {"world_size": 1}, "wall_time_s": 1.0}


def test_a_config_mismatch_sets_the_checkpoints_aside_and_trains_from_scratch(spec):
    (spec.directory / "checkpoint").mkdir(parents=True)
    calls = []

    def trainer(_):
        calls.append(1)
        if len(calls) == 1:
            raise ResumeConfigMismatch("the checkpoint's config differs")  # no particular wording needed
        return completed()

    assert run_one(spec, trainer).status == "completed" and len(calls) == 2
    assert (spec.directory / "checkpoint.superseded-1").is_dir() and not (spec.directory / "checkpoint").exists()


def test_a_world_size_mismatch_is_a_failed_attempt_that_keeps_its_checkpoints(spec):
    (spec.directory / "checkpoint").mkdir(parents=True)
    record = run_one(spec, raising(ResumeWorldSizeMismatch("checkpoint config: written by 2 processes")))
    assert record.status == "failed" and "ResumeWorldSizeMismatch" in record.error
    assert (spec.directory / "checkpoint").is_dir() and not (spec.directory / "checkpoint.superseded-1").exists()


def test_a_look_alike_is_not_recognised_by_its_name_or_message(spec):
    class ResumeMismatch(ValueError):  # the old runner matched this name and message prefix
        pass

    (spec.directory / "checkpoint").mkdir(parents=True)
    record = run_one(spec, raising(ResumeMismatch("checkpoint config 1234 differs from this run's 5678")))
    assert record.status == "failed" and (spec.directory / "checkpoint").is_dir()
    record = run_one(spec, raising(ValueError("data.grid_size: no standard Sudoku box shape")))
    assert record.status == "failed"
