"""audit.evidence: one standing per record, and the plan, the runner and the report all agree with it.

Each test writes a record with the runner (an injected trainer, nothing trained), changes the claims
file the way a user would, and checks the standing's cause, the plan's state and the report's listing.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.evidence import Standing, selected_evaluation, standing, standing_at
from audit.plan import PlannedRun, assess, expand_plan
from audit.records import RECORD_NAME, read_record, read_records
from audit.registry import load_registry
from audit.runner import run_one
from audit.sources import collect_sources

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"
SMOKE_ALPHA_LR = "lr: 1.0e-3, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id"


def fake_result(final=0.75, best=0.875, status="completed", error=None):
    def ev(step, value):
        return {"step": step, "epoch": 1, "metrics": {"exact_accuracy": value, "accuracy": value / 2},
                "counts": {"exact_accuracy": [value * 16, 16], "accuracy": [value * 8, 16]}}

    done = status == "completed"
    return {"status": status, "error": error, "steps": 10, "total_steps": 10, "evaluations": [],
            "final": ev(10, final) if done else None, "best": ev(5, best) if done else None,
            "data": {}, "environment": {"world_size": 1, "device": "cpu"}, "wall_time_s": 1.0}


def alpha_spec(registry, runs_dir: Path):
    return expand_plan(registry, profile="smoke", seeds=[0], runs_dir=runs_dir, claim_ids=["toy/alpha"])[0]


def registry_with(tmp_path: Path, old: str = "", new: str = ""):
    """The fixture registry, with `old` replaced by `new` in the claims file (as a user edits it)."""
    text = FIXTURE.read_text()
    assert old in text
    path = tmp_path / "claims.yaml"
    path.write_text(text.replace(old, new, 1))
    return load_registry([path])


def report_view(registry, runs_dir: Path) -> tuple[list, list, list]:
    """(counted values, excluded (status, reason), problems) of toy/alpha smoke, as the report sees it."""
    records, problems = read_records(runs_dir)
    sources, _ = collect_sources(registry, records, [])
    (source,) = [s for s in sources if s.claim_id == "toy/alpha" and s.source == "smoke"] or [None]
    if source is None:
        return [], [], problems
    return [r.value for r in source.runs], [(e.status, e.reason) for e in source.excluded], problems


@pytest.fixture
def recorded(tmp_path):
    """A completed toy/alpha smoke seed-0 record (final 75 %, best 87.5 %) under tmp_path/runs."""
    runs = tmp_path / "runs"
    spec = alpha_spec(load_registry([FIXTURE]), runs)
    assert run_one(spec, lambda s: fake_result()).status == "completed"
    return runs, spec


def test_a_current_completed_record_counts(recorded):
    runs, spec = recorded
    found = standing_at(spec.directory / RECORD_NAME, spec.claim, "smoke", 0)
    wall = read_record(spec.directory / RECORD_NAME).wall_time_s
    assert found == Standing(True, "counts", "", found.evaluation, wall_time_s=wall) and found.value == 75.0
    assert wall is not None and assess(spec) == PlannedRun(spec, "done", "", wall)  # the plan times by it
    assert report_view(load_registry([FIXTURE]), runs) == ([75.0], [], [])


def test_no_record_has_no_standing(tmp_path):
    spec = alpha_spec(load_registry([FIXTURE]), tmp_path)
    assert standing_at(spec.directory / RECORD_NAME, spec.claim, "smoke", 0) is None
    assert assess(spec).state == "new"


def measured_another_metric(spec) -> None:
    """Make the record say it measured pass@2 (as if the claim's metric was changed since the run;
    a sudoku claim can only measure exact_accuracy, so the record changes instead of the claim)."""
    path = spec.directory / RECORD_NAME
    data = json.loads(path.read_text())
    data["metric"] = "pass@2"
    path.write_text(json.dumps(data))


def test_metric_changed(recorded):
    runs, spec = recorded
    measured_another_metric(spec)
    found = standing_at(spec.directory / RECORD_NAME, spec.claim, "smoke", 0)
    assert (found.counts, found.cause, found.status) == (False, "metric_changed", "stale")
    assert found.reason == "measured pass@2, the claim now uses exact_accuracy"
    planned = assess(spec)
    assert (planned.state, planned.note) == ("stale", found.reason)
    assert report_view(load_registry([FIXTURE]), runs)[:2] == ([], [("stale", found.reason)])


def test_metric_changed_is_retrained_on_request_and_then_counts(recorded):
    runs, spec = recorded
    measured_another_metric(spec)
    (spec.directory / "checkpoint").mkdir()
    (spec.directory / "metrics.csv").write_text("step,split,metric,value\n")
    assert run_one(spec, lambda s: pytest.fail("stale runs are not retrained by default")) is None
    record = run_one(spec, lambda s: fake_result(final=0.5), rerun_stale=True)
    assert record.metric == "exact_accuracy" and record.final.value == 50.0
    old = json.loads((spec.directory / "run.superseded-1.json").read_text())
    assert old["metric"] == "pass@2" and old["final"]["value"] == 75.0
    assert (spec.directory / "checkpoint.superseded-1").is_dir()
    assert (spec.directory / "metrics.superseded-1.csv").is_file()
    assert assess(spec).state == "done"
    assert report_view(load_registry([FIXTURE]), runs) == ([50.0], [], [])


def test_config_changed(recorded, tmp_path):
    runs, _ = recorded
    registry = registry_with(tmp_path, SMOKE_ALPHA_LR, SMOKE_ALPHA_LR.replace("lr: 1.0e-3", "lr: 2.0e-3"))
    spec = alpha_spec(registry, runs)
    found = standing_at(spec.directory / RECORD_NAME, spec.claim, "smoke", 0)
    assert (found.cause, found.status) == ("config_changed", "stale") and found.value == 75.0
    assert found.reason.startswith("config changed since the run (recorded ")
    assert assess(spec).state == "stale"
    assert report_view(registry, runs)[:2] == ([], [("stale", found.reason)])


def test_profile_removed(recorded, tmp_path):
    runs, _ = recorded
    registry = registry_with(tmp_path, "      smoke:\n        comparable: false\n        deviations: [\"smaller\"]",
                             "      proxy:\n        comparable: false\n        deviations: [\"smaller\"]")
    (record,), _ = read_records(runs)
    found = standing(record, registry.claim("toy/alpha"))
    assert (found.cause, found.status, found.reason) == ("profile_removed", "stale",
                                                        "profile is no longer in the registry")
    assert report_view(registry, runs)[:2] == ([], [("stale", found.reason)])


def test_checkpoint_rule_changed_to_best_uses_the_stored_best(recorded, tmp_path):
    runs, _ = recorded
    registry = registry_with(tmp_path, "checkpoint: final, supervision_steps: 2}\n    claimed: 90.0",
                             "checkpoint: best, supervision_steps: 2}\n    claimed: 90.0")
    spec = alpha_spec(registry, runs)
    (record,), _ = read_records(runs)
    assert record.selected == "final" and selected_evaluation(record, spec.claim).value == 87.5
    assert assess(spec).state == "done"
    assert report_view(registry, runs)[0] == [87.5]


def test_checkpoint_missing(recorded, tmp_path):
    runs, spec = recorded
    path = spec.directory / RECORD_NAME
    data = json.loads(path.read_text())
    data["best"] = None  # recorded under the final rule without a best evaluation
    path.write_text(json.dumps(data))
    registry = registry_with(tmp_path, "checkpoint: final, supervision_steps: 2}\n    claimed: 90.0",
                             "checkpoint: best, supervision_steps: 2}\n    claimed: 90.0")
    spec = alpha_spec(registry, runs)
    found = standing_at(path, spec.claim, "smoke", 0)
    assert (found.cause, found.status) == ("checkpoint_missing", "stale") and "best" in found.reason
    assert assess(spec).state == "stale"
    assert report_view(registry, runs)[:2] == ([], [("stale", found.reason)])


def test_failed_run(tmp_path):
    """A run that raised (not a divergence: see tests/audit/test_protocol.py) is failed and retried."""
    registry = load_registry([FIXTURE])
    spec = alpha_spec(registry, tmp_path)
    run_one(spec, lambda s: fake_result(status="failed", error="CUDA out of memory"))
    found = standing_at(spec.directory / RECORD_NAME, spec.claim, "smoke", 0)
    assert (found.counts, found.cause, found.reason, found.value) == (False, "failed", "CUDA out of memory", None)
    planned = assess(spec)
    assert (planned.state, planned.note) == ("retry", "previous attempt failed: CUDA out of memory")
    assert report_view(registry, tmp_path)[:2] == ([], [("failed", "CUDA out of memory")])


def test_a_failed_run_of_a_changed_config_is_stale_not_retried(tmp_path):
    """Stale before failed: retrying it would answer the old question; the report lists it stale too."""
    spec = alpha_spec(load_registry([FIXTURE]), tmp_path / "runs")
    run_one(spec, lambda s: fake_result(status="failed", error="out of memory"))
    registry = registry_with(tmp_path, SMOKE_ALPHA_LR, SMOKE_ALPHA_LR.replace("lr: 1.0e-3", "lr: 2.0e-3"))
    assert assess(alpha_spec(registry, tmp_path / "runs")).state == "stale"
    assert [status for status, _ in report_view(registry, tmp_path / "runs")[1]] == ["stale"]


def test_damaged_unreadable_record(recorded):
    runs, spec = recorded
    path = spec.directory / RECORD_NAME
    path.write_text(path.read_text()[:100])
    found = standing_at(path, spec.claim, "smoke", 0)
    assert (found.cause, found.status) == ("damaged", "damaged") and str(path) in found.reason
    assert assess(spec).state == "retry"
    values, excluded, problems = report_view(load_registry([FIXTURE]), runs)
    assert (values, excluded) == ([], []) and len(problems) == 1 and str(path) in problems[0]


def test_damaged_inconsistent_record(recorded):
    runs, spec = recorded
    path = spec.directory / RECORD_NAME
    data = json.loads(path.read_text())
    data["final"]["value"] = 76.0  # disagrees with its metrics and counts
    path.write_text(json.dumps(data))
    assert standing_at(path, spec.claim, "smoke", 0).cause == "damaged"
    assert assess(spec).state == "retry"
    assert "disagrees" in report_view(load_registry([FIXTURE]), runs)[2][0]


def test_damaged_misplaced_record(recorded):
    runs, spec = recorded
    other = alpha_spec(load_registry([FIXTURE]), runs).directory.parent / "seed-7"
    other.mkdir()
    (other / RECORD_NAME).write_text((spec.directory / RECORD_NAME).read_text())
    found = standing_at(other / RECORD_NAME, spec.claim, "smoke", 7)
    assert found.cause == "damaged" and "seed 0" in found.reason
    seven = expand_plan(load_registry([FIXTURE]), profile="smoke", seeds=[7], runs_dir=runs,
                        claim_ids=["toy/alpha"])[0]
    assert assess(seven).state == "retry"
    values, _, problems = report_view(load_registry([FIXTURE]), runs)
    assert values == [75.0] and "seed-7" in problems[0]
