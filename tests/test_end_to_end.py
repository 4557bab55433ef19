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

    # The claim changes (toy/alpha's smoke learning rate): plan, report and --rerun-stale agree.
    changed = tmp_path / "claims.yaml"
    smoke_lr = "lr: 1.0e-3, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id"
    changed.write_text(FIXTURE.read_text().replace(smoke_lr, smoke_lr.replace("1.0e-3", "2.0e-3"), 1))
    base = ["--claim", "toy/alpha", "--seeds", "0,1", "--runs-dir", str(runs), "--data-cache", str(cache),
            "--device", "cpu"]
    plan = runner.invoke(cli, ["run", str(changed), *base, "--dry-run"])
    assert plan.exit_code == 0 and "plan: 2 runs (2 stale)" in plan.output and "config changed" in plan.output
    stale_summary = _report_summary(runner, runs, changed, tmp_path / "stale-report")
    assert _source(stale_summary, "toy/alpha", "smoke")["stale"] == 2
    rerun = runner.invoke(cli, ["run", str(changed), *base[:2], "--seeds", "0", *base[4:], "--rerun-stale"])
    assert rerun.exit_code == 0 and "  done    toy/alpha seed 0" in rerun.output, rerun.output
    assert (runs / "toy" / "alpha" / "smoke" / "seed-0" / "run.superseded-1.json").is_file()
    plan = runner.invoke(cli, ["run", str(changed), *base, "--dry-run"])
    assert "plan: 2 runs (1 done, 1 stale)" in plan.output
    smoke = _source(_report_summary(runner, runs, changed, tmp_path / "rerun-report"), "toy/alpha", "smoke")
    assert (smoke["n"], smoke["stale"], [e["seed"] for e in smoke["excluded"]]) == (1, 1, [1])


def _report_summary(runner, runs: Path, claims: Path, out: Path) -> dict:
    result = runner.invoke(cli, ["report", "--runs-dir", str(runs), "--claims", str(claims), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text())


def _source(summary: dict, claim_id: str, source: str) -> dict:
    (claim,) = [c for c in summary["claims"] if c["id"] == claim_id]
    (result,) = [r for r in claim["results"] if r["source"] == source]
    return result
