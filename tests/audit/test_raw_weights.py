"""Raw-weight scores in run records (train.eval_raw_weights): written beside the EMA ones, parsed,
checked like them, and absent from the records of runs that did not make them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.plan import expand_plan
from audit.records import RecordError, parse_record, read_record
from audit.registry import load_registry
from audit.runner import build_record
from trm.result import EvalResult, RunResult

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "two_claims.yaml"


def evaluation(step: int, correct: int, total: int = 32, raw: EvalResult | None = None) -> EvalResult:
    return EvalResult(step, step, {"exact_accuracy": correct / total, "lm_loss": 1.0},
                      {"exact_accuracy": [correct, total]}, raw=raw)


def result(with_raw: bool) -> dict:
    raws = (evaluation(2, 20), evaluation(4, 18)) if with_raw else (None, None)
    evals = (evaluation(2, 24, raw=raws[0]), evaluation(4, 28, raw=raws[1]))
    return RunResult(status="completed", error=None, steps=4, total_steps=4, primary_metric="exact_accuracy",
                     evaluations=evals, final=evals[-1], best=evals[-1]).to_dict()


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    registry = load_registry([FIXTURE])
    (first,) = expand_plan(registry, profile="paper", seeds=[0], runs_dir=tmp_path_factory.mktemp("runs"),
                           claim_ids=["toy/alpha"])
    return first


def test_a_run_that_scored_raw_weights_records_them_beside_the_ema_ones(spec):
    data = build_record(spec, result(with_raw=True), started="s", ended="e")
    assert (data["final"]["value"], data["raw_final"]["value"], data["raw_best"]["value"]) == (87.5, 56.25, 62.5)
    assert (data["raw_final"]["step"], data["raw_best"]["step"]) == (4, 2)  # the raw weights' own best
    record = parse_record(json.loads(json.dumps(data)), Path("run.json"))
    assert (record.raw_final.value, record.raw_best.value, record.raw_final.correct) == (56.25, 62.5, 18)
    assert record.final.value == 87.5


def test_records_without_raw_scores_keep_their_shape_and_parse(spec):
    data = build_record(spec, result(with_raw=False), started="s", ended="e")
    assert "raw_final" not in data and "raw_best" not in data
    committed = read_record(ROOT / "runs" / "sudoku-extreme" / "trm-mlp" / "smoke" / "seed-0" / "run.json")
    assert committed.raw_final is None and committed.raw_best is None and committed.final is not None


def test_a_damaged_raw_score_makes_the_record_untrustworthy(spec):
    data = json.loads(json.dumps(build_record(spec, result(with_raw=True), started="s", ended="e")))
    data["raw_final"]["value"] = 60.0  # disagrees with its counts 18/32
    with pytest.raises(RecordError, match="raw_final.value"):
        parse_record(data, Path("run.json"))
