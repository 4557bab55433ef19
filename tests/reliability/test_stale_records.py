"""Issue 10.6: a record whose config hash no longer matches its claim's profile is flagged stale in
the report and kept out of the verdict; `run` leaves it alone unless told `--rerun-stale`, which
retrains from scratch (the old config's checkpoints are kept aside, never resumed). An unfinished
run of an older profile likewise restarts from scratch instead of failing for good."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import reliability_kit as kit
from audit.cli import cli
from audit.records import read_records

SEED0 = "rel/mlp/smoke/seed-0"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def changed_claims(tmp_path):
    """The kill plan with the smoke profile's learning rate changed: a new config hash."""
    path = tmp_path / "changed.yaml"
    text = kit.KILL_PLAN.read_text()
    assert "lr: 3.0e-3" in text
    path.write_text(text.replace("lr: 3.0e-3", "lr: 2.0e-3"))
    return path


def run(root, claims, *extra):
    result = invoke(*kit.plan_args(root / "runs", root / "cache", seeds="0", claims=claims), *extra)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def fresh_under_new_profile(tmp_path_factory):
    """Seed 0 of the changed profile, trained from nothing: what a retrained stale run must equal."""
    root = tmp_path_factory.mktemp("fresh")
    run(root, changed_claims(root))
    return kit.record_signature(root / "runs" / SEED0)


def test_a_stale_record_is_flagged_excluded_and_left_alone(tmp_path):
    run(tmp_path, kit.KILL_PLAN)
    claims = changed_claims(tmp_path)
    before = kit.tree(tmp_path / "runs")
    output = run(tmp_path, claims)
    assert "1 stale" in output and "profile is now" in output
    assert kit.tree(tmp_path / "runs") == before  # nothing retrained, nothing rewritten
    result = invoke("report", "--runs-dir", tmp_path / "runs", "--claims", claims, "--out", tmp_path / "reports")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    (source,) = summary["claims"][0]["results"]
    assert (source["n"], source["stale"], source["values"], source["mean"]) == (0, 1, [], None)
    assert source["excluded"][0]["status"] == "stale" and "config changed" in source["excluded"][0]["reason"]
    assert source["verdict"] != "REPRODUCED" and source["verdict"] != "NOT_REPRODUCED"
    assert "| 0 | stale |" in (tmp_path / "reports" / "report.md").read_text()


def test_rerun_stale_retrains_from_scratch_and_keeps_the_old_checkpoints(tmp_path, fresh_under_new_profile):
    """Regression: the retrained run resumed the old config's checkpoint, failed with ResumeMismatch,
    and its failed record replaced the stale record, for good (every later run failed the same way)."""
    run(tmp_path, kit.KILL_PLAN)
    old_checkpoints = sorted(p.name for p in (tmp_path / "runs" / SEED0 / "checkpoint").iterdir())
    output = run(tmp_path, changed_claims(tmp_path), "--rerun-stale")
    assert "done    rel/mlp seed 0" in output
    assert kit.differences(fresh_under_new_profile, kit.record_signature(tmp_path / "runs" / SEED0)) == []
    kept = tmp_path / "runs" / SEED0 / "checkpoint.superseded-1"
    assert sorted(p.name for p in kept.iterdir()) == old_checkpoints
    records, problems = read_records(tmp_path / "runs")
    assert problems == [] and [r.status for r in records] == ["completed"]


def test_an_unfinished_run_of_an_older_profile_restarts_from_scratch(tmp_path, fresh_under_new_profile, caplog):
    args = kit.plan_args(tmp_path / "runs", tmp_path / "cache", seeds="0")
    assert kit.trm_audit(args, tmp_path, fault="train-step:17").killed  # checkpoints of the old config, no record
    output = run(tmp_path, changed_claims(tmp_path))
    assert "resume" in output and "done    rel/mlp seed 0" in output
    assert any("training starts from scratch" in r.getMessage() for r in caplog.records)
    assert kit.differences(fresh_under_new_profile, kit.record_signature(tmp_path / "runs" / SEED0)) == []
