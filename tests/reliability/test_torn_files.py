"""Issue 10.2: truncated or corrupted checkpoints, run.json, metrics.csv and external result files.

The next `run` or `report` detects the damage, names the file, does not crash, keeps the bad data
out of every verdict, and recovers what it can: a run whose newest checkpoint is damaged resumes
from the previous one (or from scratch) and ends with the uninterrupted run's record, bit for bit.
(Damaged data-cache entries: test_data_cache.py.)
"""
from __future__ import annotations

import json
import logging
import shutil

import pytest
from click.testing import CliRunner

import reliability_kit as kit
from audit.cli import cli
from audit.records import read_records

SEED0 = "rel/mlp/smoke/seed-0"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def run_args(root):
    return kit.plan_args(root / "runs", root / "cache", seeds="0")


def report_args(root):
    return ["report", "--runs-dir", root / "runs", "--claims", kit.KILL_PLAN, "--out", root / "reports"]


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """Seed 0 SIGKILLed right after its 12th update: checkpoints of steps 5 and 10 on disk, no record."""
    root = tmp_path_factory.mktemp("interrupted")
    outcome = kit.trm_audit(run_args(root), root, fault="train-step:12")
    assert outcome.killed, outcome.stderr
    return root


@pytest.fixture(scope="module")
def completed(tmp_path_factory):
    """Seed 0 trained to the end in this process."""
    root = tmp_path_factory.mktemp("completed")
    result = invoke(*run_args(root))
    assert result.exit_code == 0, result.output
    return root


def copy_of(root, tmp_path):
    shutil.copytree(root, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy"


def checkpoints(root):
    return sorted((root / "runs" / SEED0 / "checkpoint").glob("ckpt-*.pt"))


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(interrupted, reference_plan, tmp_path, caplog,
                                                                     damage):
    root = copy_of(interrupted, tmp_path)
    older, newest = checkpoints(root)
    {"truncate": kit.truncate, "flip": kit.flip_byte, "empty": lambda p: p.write_bytes(b"")}[damage](newest)
    with caplog.at_level(logging.INFO):
        result = invoke(*run_args(root))
    assert result.exit_code == 0, result.output
    messages = [r.getMessage() for r in caplog.records]
    assert any(newest.name in m and "corrupt" in m for m in messages)
    assert any(f"resuming from checkpoint {older}" in m for m in messages)
    assert kit.differences(reference_plan.signatures[SEED0], kit.record_signature(root / "runs" / SEED0)) == []


def test_every_checkpoint_damaged_restarts_from_scratch_and_says_so(interrupted, reference_plan, tmp_path, caplog):
    """Regression: the damaged files were renamed before the check for 'none left', so a restart
    from scratch went without its warning."""
    root = copy_of(interrupted, tmp_path)
    for path in checkpoints(root):
        kit.truncate(path, 0.3)
    with caplog.at_level(logging.WARNING):
        result = invoke(*run_args(root))
    assert result.exit_code == 0, result.output
    assert any("starting from scratch" in r.getMessage() for r in caplog.records)
    assert kit.differences(reference_plan.signatures[SEED0], kit.record_signature(root / "runs" / SEED0)) == []


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "not-an-object", "value-digit", "counts",
                                    "metric-fraction", "moved"])
def test_a_damaged_record_is_named_kept_out_of_the_verdict_and_retrained(completed, reference_plan, tmp_path, damage):
    root = copy_of(completed, tmp_path)
    path = root / "runs" / SEED0 / "run.json"
    record = json.loads(path.read_text())
    if damage == "truncate":
        kit.truncate(path)
    elif damage == "garbage":
        path.write_bytes(b"\x80\x81 \xfe" + path.read_bytes()[4:])
    elif damage == "empty":
        path.write_text("")
    elif damage == "not-an-object":
        path.write_text("[]")
    elif damage == "value-digit":  # valid JSON, one number changed: caught by value/metrics/counts agreement
        record["best"]["value"] += 10.0
        path.write_text(json.dumps(record))
    elif damage == "counts":
        record["best"]["correct"] = record["best"]["total"] + 1
        path.write_text(json.dumps(record))
    elif damage == "metric-fraction":
        record["best"]["metrics"]["exact_accuracy"] = "0.5"
        path.write_text(json.dumps(record))
    elif damage == "moved":  # a record copied into another run's directory
        record["seed"] = 7
        path.write_text(json.dumps(record))
    records, problems = read_records(root / "runs")
    assert records == [] and len(problems) == 1 and str(path) in problems[0]
    result = invoke(*report_args(root))
    assert result.exit_code == 0, result.output
    summary = json.loads((root / "reports" / "summary.json").read_text())
    assert summary["problems"] == problems
    assert [r["n"] for r in summary["claims"][0]["results"]] == []  # no source: the damaged run is not counted
    assert str(path) in (root / "reports" / "report.md").read_text()
    # the next run retrains it (resuming from its final checkpoint) and writes the same record again
    result = invoke(*run_args(root))
    assert result.exit_code == 0, result.output
    assert "retry" in result.output  # regression ("moved"): a record of another seed in this directory was 'done'
    assert kit.differences(reference_plan.signatures[SEED0], kit.record_signature(root / "runs" / SEED0)) == []


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "extra-commas"])
def test_a_damaged_metrics_csv_still_gives_a_report_and_is_named(completed, tmp_path, caplog, damage):
    """Regression: a torn last row (a writer killed mid-line) made `report` crash with a traceback."""
    root = copy_of(completed, tmp_path)
    path = root / "runs" / SEED0 / "metrics.csv"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2 + 3], "garbage": data[:200] + b"\xff\xfe,,\n" + data[200:],
                      "empty": b"", "extra-commas": data + b"12,test,exact_accuracy,0.5,9\n"}[damage])
    with caplog.at_level(logging.WARNING):
        result = invoke(*report_args(root))
    assert result.exit_code == 0, result.output
    if damage != "empty":
        assert any(str(path) in r.getMessage() and "malformed" in r.getMessage() for r in caplog.records)
    summary = json.loads((root / "reports" / "summary.json").read_text())
    assert [r["n"] for r in summary["claims"][0]["results"]] == [1]  # the record itself is intact and counted


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_external_results_file_stops_the_report_with_one_line(completed, tmp_path, damage):
    root = copy_of(completed, tmp_path)
    external = root / "runs" / "external" / "colleague.yaml"
    external.parent.mkdir()
    external.write_text("format_version: 1\nsource: {title: A colleague's runs}\ncomparable: false\n"
                        "results:\n  - claim: rel/mlp\n    values: [12.5, 25.0]\n")
    assert invoke(*report_args(root)).exit_code == 0
    before = kit.tree(root / "reports")
    data = external.read_bytes()
    external.write_bytes({"truncate": data[: len(data) - 20], "garbage": b"\xff\xfe" + data,
                          "empty": b""}[damage])
    result = invoke(*report_args(root))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and str(external) in result.output
    assert "Traceback" not in result.output
    assert kit.tree(root / "reports") == before  # the earlier report is left as it was
