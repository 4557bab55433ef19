"""`--json` on `run` and `report`: one JSON document on stdout, the human lines on stderr."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from audit.cli import cli
from audit.records import read_record

from tests.audit.test_plan_runner import FIXTURE

REPO = Path(__file__).resolve().parents[2]


def test_run_json_plans_trains_and_reports_each_run(tmp_path):
    runs = tmp_path / "runs"
    args = ["run", str(FIXTURE), "--claim", "toy/alpha", "--runs-dir", str(runs), "--data-cache",
            str(tmp_path / "cache"), "--device", "cpu", "--threads", "1", "--json"]
    dry = CliRunner().invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    assert (plan["profiles"], plan["dry_run"], plan["runs"]) == (["smoke"], True, [])
    assert [(p["claim"], p["seed"], p["state"]) for p in plan["plan"]] == [("toy/alpha", 0, "new")]
    assert dry.stderr.startswith("profile: smoke (the default")  # the human lines, kept off stdout
    trained = CliRunner().invoke(cli, args)
    assert trained.exit_code == 0, trained.output
    document = json.loads(trained.stdout)
    record = read_record(runs / "toy" / "alpha" / "smoke" / "seed-0" / "run.json")
    [outcome] = document["runs"]
    assert outcome == {"claim": "toy/alpha", "profile": "smoke", "seed": 0, "metric": "exact_accuracy",
                       "status": "completed", "value": record.final.value, "step": record.final.step,
                       "wall_time_s": record.wall_time_s, "error": None}
    assert "done    toy/alpha seed 0" in trained.stderr and "0 of 1 runs failed" in trained.stderr
    again = json.loads(CliRunner().invoke(cli, args).stdout)
    assert [p["state"] for p in again["plan"]] == ["done"] and again["runs"] == []


def test_report_json_lists_files_and_the_summary_verdicts(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "reports"
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    summary = json.loads((out / "summary.json").read_text())
    assert {"report.md", "summary.json"} <= set(document["files"])
    assert all((out / name).is_file() for name in document["files"])
    expected = [(c["id"], r["source"], r["verdict"]) for c in summary["claims"] for r in c["results"]]
    assert [(r["claim"], r["source"], r["verdict"]) for r in document["rows"]] == expected and expected
    assert [(c["id"], c["source"], c["verdict"]) for c in document["comparisons"]] == [
        (c["id"], c["source"], c["verdict"]) for c in summary["comparisons"]]
    current = CliRunner().invoke(cli, ["report", "--out", str(out), "--check", "--json"])
    assert current.exit_code == 0 and json.loads(current.stdout)["up_to_date"] is True
    (out / "report.md").write_text("edited\n")
    stale = CliRunner().invoke(cli, ["report", "--out", str(out), "--check", "--json"])
    assert stale.exit_code == 1
    assert json.loads(stale.stdout)["up_to_date"] is False and "report is stale" in stale.stderr


def test_import_json_is_one_document(tmp_path):
    shipped = REPO / "runs" / "external" / "alphaxiv-2025.yaml"
    source = tmp_path / shipped.name
    shutil.copy(shipped, source)
    result = CliRunner().invoke(cli, ["import", str(source), "--claims", str(REPO / "claims"), "--runs-dir",
                                      str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["action"], document["written"], document["set"]["id"]) == ("new", True, "alphaxiv-2025")
    assert len(document["set"]["results"]) == 7
    assert (tmp_path / "runs" / "external" / shipped.name).read_bytes() == shipped.read_bytes()
    assert result.stderr.startswith("imported ")
