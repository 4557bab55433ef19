"""The whole path on the fixture claims: plan -> train (tiny, CPU) -> records -> summary -> report."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from audit.cli import cli

FIXTURE = Path(__file__).resolve().parent / "data" / "two_claims.yaml"


def test_run_then_report(tmp_path):
    runs, reports, cache = tmp_path / "runs", tmp_path / "reports", tmp_path / "cache"
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(FIXTURE), "--seeds", "0,1", "--runs-dir", str(runs),
                                 "--data-cache", str(cache), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.output.count("  done    ") == 4
    assert sorted(p.parent.name for p in runs.rglob("run.json")) == ["seed-0", "seed-0", "seed-1", "seed-1"]

    again = runner.invoke(cli, ["run", str(FIXTURE), "--seeds", "0,1", "--runs-dir", str(runs),
                                "--data-cache", str(cache), "--device", "cpu"])
    assert again.exit_code == 0 and "plan: 4 runs (4 done)" in again.output and "  done    " not in again.output

    result = runner.invoke(cli, ["report", "--runs-dir", str(runs), "--claims", str(FIXTURE), "--out", str(reports)])
    assert result.exit_code == 0, result.output
    report = (reports / "report.md").read_text()
    summary = json.loads((reports / "summary.json").read_text())
    for claim in ("toy/alpha", "toy/beta"):
        assert claim in report
    results = {c["id"]: c["results"] for c in summary["claims"]}
    smoke = [r for r in results["toy/alpha"] if r["source"] == "smoke"][0]
    assert smoke["n"] == 2 and smoke["verdict"] == "NOT_COMPARABLE" and "NOT_COMPARABLE" in report
    assert [c["id"] for c in summary["comparisons"]] == ["toy/alpha-vs-beta"]
    assert runner.invoke(cli, ["report", "--runs-dir", str(runs), "--claims", str(FIXTURE), "--out", str(reports),
                               "--check"]).exit_code == 0
