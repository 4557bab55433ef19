"""`trm-audit status`: each state from what a run directory holds, judged as the plan and report judge it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.evidence import standing_at
from audit.plan import expand_plan
from audit.registry import load_registry
from audit.runner import run_lock, run_one
from audit.status import collect_status, format_status, last_evaluation

from tests.audit.test_plan_runner import FIXTURE, fake_result

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry():
    return load_registry([FIXTURE])


def by_key(rows):
    return {(r.claim, r.profile, r.seed): r for r in rows}


def spec_of(registry, runs_dir, claim, profile, seed):
    return expand_plan(registry, profile=profile, seeds=[seed], runs_dir=runs_dir, claim_ids=[claim])[0]


def test_done_failed_damaged_running_missing(registry, tmp_path):
    run_one(spec_of(registry, tmp_path, "toy/alpha", "smoke", 0), lambda s: fake_result(0.75))

    def out_of_memory(_):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")

    run_one(spec_of(registry, tmp_path, "toy/alpha", "smoke", 1), out_of_memory)  # seed 1: not declared
    damaged = spec_of(registry, tmp_path, "toy/alpha", "smoke", 2).directory
    damaged.mkdir(parents=True)
    (damaged / "run.json").write_text("{")
    running = spec_of(registry, tmp_path, "toy/beta", "smoke", 0).directory
    with run_lock(running):
        rows = by_key(collect_status(registry, tmp_path))
    done = rows[("toy/alpha", "smoke", 0)]
    assert (done.status, done.declared, done.evidence.value, done.evidence.step) == ("done", True, 75.0, 10)
    failed = rows[("toy/alpha", "smoke", 1)]
    assert (failed.status, failed.cause, failed.declared) == ("failed", "failed", False)
    assert "CUDA out of memory" in failed.reason
    assert rows[("toy/alpha", "smoke", 2)].status == "damaged"
    assert "unreadable record" in rows[("toy/alpha", "smoke", 2)].reason
    assert rows[("toy/beta", "smoke", 0)].status == "running"
    assert rows[("toy/alpha", "paper", 0)].status == "missing"
    assert not (tmp_path / "toy" / "alpha" / "paper").exists()  # status creates nothing (no lock file, no directory)
    assert list(rows) == [("toy/alpha", "paper", 0), ("toy/alpha", "smoke", 0), ("toy/alpha", "smoke", 1),
                          ("toy/alpha", "smoke", 2), ("toy/beta", "smoke", 0)]
    # The probe released nothing it did not own and left the lock takeable: once the runner is gone, it is missing.
    assert by_key(collect_status(registry, tmp_path))[("toy/beta", "smoke", 0)].status == "missing"
    with run_lock(running):
        pass
    text = format_status(list(rows.values()))
    assert "seed 1*" in text and "5 runs: 1 done, 1 running, 1 failed, 1 damaged, 1 missing" in text


def test_stale_gives_the_standing_cause_and_reason(registry, tmp_path):
    spec = spec_of(registry, tmp_path, "toy/alpha", "smoke", 0)
    run_one(spec, lambda s: fake_result())
    changed = FIXTURE.read_text().replace("lr: 1.0e-3, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id",
                                          "lr: 2.0e-3, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id")
    (tmp_path / "claims.yaml").write_text(changed)
    registry = load_registry([tmp_path / "claims.yaml"])
    row = by_key(collect_status(registry, tmp_path))[("toy/alpha", "smoke", 0)]
    expected = standing_at(spec.directory / "run.json", registry.claim("toy/alpha"), "smoke", 0)
    assert (row.status, row.cause, row.reason) == ("stale", "config_changed", expected.reason)
    assert row.evidence.value == 75.0  # shown, never counted


def test_a_removed_profile_still_shows_its_runs_as_stale(registry, tmp_path):
    run_one(spec_of(registry, tmp_path, "toy/alpha", "paper", 0), lambda s: fake_result())
    without_paper = FIXTURE.read_text().replace("      paper:\n        comparable: true",
                                                "      old:\n        comparable: true", 1)
    (tmp_path / "claims.yaml").write_text(without_paper)
    rows = by_key(collect_status(load_registry([tmp_path / "claims.yaml"]), tmp_path, claim_ids=["toy/alpha"]))
    row = rows[("toy/alpha", "paper", 0)]
    assert (row.status, row.cause, row.declared) == ("stale", "profile_removed", False)
    assert rows[("toy/alpha", "old", 0)].status == "missing"


def test_an_unfinished_run_is_resumable_at_its_checkpoint_step(registry, tmp_path):
    """A real (tiny) training leaves checkpoints and metrics.csv but no record: the status reads both."""
    from trm.train import train

    spec = spec_of(registry, tmp_path, "toy/alpha", "smoke", 0)
    result = train(spec.config, spec.directory, "cpu", data_cache=tmp_path / "cache")
    row = by_key(collect_status(registry, tmp_path, profiles=["smoke"]))[("toy/alpha", "smoke", 0)]
    assert row.status == "resumable" and row.cause is None
    assert row.step == result.steps > 0
    final = result.final
    assert (row.last_evaluation.step, row.last_evaluation.value) == (final.step, 100 * final.metrics["exact_accuracy"])
    assert "at step %d" % result.steps in format_status([row])


def test_last_evaluation_reads_the_split_and_skips_a_torn_row(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text("step,split,metric,value\n1,train,exact_accuracy,0.1\n2,test,exact_accuracy,0.5\n"
                   "2,test_raw,exact_accuracy,0.25\n4,test,exact_accuracy,0.")
    assert last_evaluation(log, "exact_accuracy").value == 0.0  # '0.' parses: the last row counts
    log.write_text(log.read_text() + "\n6,test,exact_accuracy,0.7x\n")
    ev = last_evaluation(log, "exact_accuracy")
    assert (ev.step, ev.value) == (4, 0.0)
    assert (last_evaluation(log, "exact_accuracy", "test_raw").value, last_evaluation(log, "pass@2")) == (25.0, None)
    assert last_evaluation(tmp_path / "absent.csv", "exact_accuracy") is None


def test_cli_json_and_bad_input(registry, tmp_path):
    run_one(spec_of(registry, tmp_path, "toy/alpha", "smoke", 0), lambda s: fake_result(0.75))
    runner = CliRunner()
    out = runner.invoke(cli, ["status", str(FIXTURE), "--runs-dir", str(tmp_path), "--profile", "smoke", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [(r["claim"], r["profile"], r["seed"], r["status"]) for r in rows] == [
        ("toy/alpha", "smoke", 0, "done"), ("toy/beta", "smoke", 0, "missing")]
    assert sorted(rows[0]) == ["cause", "claim", "declared", "directory", "evidence", "last_evaluation", "profile",
                               "reason", "seed", "status", "step"]
    assert rows[0]["evidence"] == {"metric": "exact_accuracy", "step": 10, "value": 75.0}
    bad = runner.invoke(cli, ["status", str(FIXTURE), "--runs-dir", str(tmp_path), "--profile", "nope"])
    assert bad.exit_code == 2 and bad.output.strip().splitlines() == [
        "Error: --profile: no selected claim has profile 'nope' (known: paper, smoke)"]
    absent = runner.invoke(cli, ["status", str(FIXTURE), "--runs-dir", str(tmp_path / "absent")])
    assert absent.exit_code == 2 and "--runs-dir" in absent.output and "Traceback" not in absent.output
    assert runner.invoke(cli, ["status", str(FIXTURE), "--claim", "toy/nope"]).exit_code == 2


def test_committed_runs(monkeypatch):
    """On the committed runs: the smoke records of TRM-MLP are done with their record's values, and the
    no-EMA ablation (scored from TRM-MLP's runs, raw weights) shows them stale with the standing's reason."""
    monkeypatch.chdir(REPO)
    out = CliRunner().invoke(cli, ["status", "--claim", "sudoku-extreme/trm-mlp", "--claim",
                                   "sudoku-extreme/trm-mlp-no-ema", "--profile", "smoke", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    records = [json.loads((REPO / r["directory"] / "run.json").read_text()) for r in rows]
    assert [r["status"] for r in rows] == ["done"] * 3 + ["stale"] * 3
    assert [r["evidence"]["value"] for r in rows[:3]] == [rec["final"]["value"] for rec in records[:3]]
    assert {r["cause"] for r in rows[3:]} == {"checkpoint_missing"}
    assert all("/trm-mlp/smoke/" in r["directory"] for r in rows)


def test_a_symlinked_run_directory_is_blocked(registry, tmp_path):
    real = tmp_path / "elsewhere"
    run_one(spec_of(registry, real, "toy/alpha", "smoke", 0), lambda s: fake_result())
    link = tmp_path / "runs" / "toy" / "alpha" / "smoke" / "seed-0"
    link.parent.mkdir(parents=True)
    link.symlink_to(real / "toy" / "alpha" / "smoke" / "seed-0")
    row = by_key(collect_status(registry, tmp_path / "runs"))[("toy/alpha", "smoke", 0)]
    assert row.status == "blocked" and "is a symlink" in row.reason and row.evidence is None
