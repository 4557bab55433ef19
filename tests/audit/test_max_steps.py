"""`trm-audit run --max-steps N`: a quick try recorded under its own profile, never pooled with full runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.costs import read_measurements
from audit.plan import assess, expand_plan
from audit.records import read_record, read_records
from audit.registry import budget_cut_name, load_registry, resolve_profile
from audit.runner import run_one
from audit.sources import collect_sources

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"


def fake_result(steps):
    ev = {"step": steps, "epoch": 2, "metrics": {"exact_accuracy": 0.5}, "counts": {"exact_accuracy": [8, 16]}}
    return {"status": "completed", "error": None, "steps": steps, "total_steps": steps,
            "primary_metric": "exact_accuracy", "evaluations": [ev], "final": ev, "best": ev,
            "data": {"source": "generated"}, "environment": {"world_size": 1, "device": "cpu"}, "wall_time_s": 2.0}


def test_a_try_trains_n_steps_records_its_own_profile_and_measures_the_step(tmp_path):
    """The toy paper profile (16 steps in full) capped at 3: its record, its directory, its cost line."""
    runs, costs = tmp_path / "runs", tmp_path / "costs.jsonl"
    args = ["run", str(FIXTURE), "--claim", "toy/alpha", "--profile", "paper", "--seeds", "0", "--max-steps", "3",
            "--runs-dir", str(runs), "--data-cache", str(tmp_path / "cache"), "--device", "cpu", "--threads", "1",
            "--costs-file", str(costs)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "recorded as profile paper@max-steps-3 (not comparable, never pooled with paper)" in result.output
    record = read_record(runs / "toy" / "alpha" / "paper@max-steps-3" / "seed-0" / "run.json")
    assert (record.profile, record.status, record.steps) == ("paper@max-steps-3", "completed", 3)
    raw = json.loads((runs / "toy" / "alpha" / "paper@max-steps-3" / "seed-0" / "run.json").read_text())
    assert raw["total_steps"] == 3
    assert record.config["train"]["max_steps"] == 3  # the record says the budget was cut
    assert not (runs / "toy" / "alpha" / "paper").exists()  # a full run never resumes from a try
    [measured] = read_measurements(costs)
    assert (measured.profile, measured.device, measured.source, measured.steps_timed) == \
        ("paper@max-steps-3", "cpu", "run --max-steps", 2)  # step 1, the warm-up, is not timed
    assert measured.seconds_per_step > 0 and measured.global_batch_size == 16
    assert any(d.startswith("budget cut: at most 3 optimizer steps") for d in measured.deviations)
    assert "step cost: " in result.output and str(costs) in result.output

    again = CliRunner().invoke(cli, args)  # done: skipped, nothing measured again
    assert again.exit_code == 0, again.output
    assert "plan: 1 runs (1 done)" in again.output
    assert len(costs.read_text().splitlines()) == 1


def test_a_try_is_its_own_non_comparable_source_beside_the_full_runs(tmp_path):
    registry = load_registry([FIXTURE])
    full = expand_plan(registry, profile="paper", seeds=[0, 1], runs_dir=tmp_path, claim_ids=["toy/alpha"])
    tried = expand_plan(registry, profile="paper", seeds=[0], runs_dir=tmp_path, claim_ids=["toy/alpha"], max_steps=4)
    assert tried[0].profile == budget_cut_name("paper", 4) == "paper@max-steps-4"
    assert tried[0].config.train.max_steps == 4 and not tried[0].comparable
    for spec, steps in [(full[0], 16), (full[1], 16), (tried[0], 4)]:
        run_one(spec, lambda s, steps=steps: fake_result(steps))
    assert assess(tried[0]).state == "done"  # the report and the plan agree: the try counts as itself
    records, problems = read_records(tmp_path)
    sources, problems = collect_sources(registry, records, [])
    alpha = {s.source: s for s in sources if s.claim_id == "toy/alpha"}
    assert not problems
    assert sorted(alpha) == ["paper", "paper@max-steps-4"]
    assert alpha["paper"].comparable and [r.seed for r in alpha["paper"].runs] == [0, 1]
    try_source = alpha["paper@max-steps-4"]
    assert not try_source.comparable and [r.seed for r in try_source.runs] == [0] and not try_source.excluded
    assert any("budget cut" in d for d in try_source.deviations)


def test_budget_cut_names_resolve_only_onto_declared_profiles():
    claim = load_registry([FIXTURE]).claim("toy/alpha")
    assert resolve_profile(claim, "paper@max-steps-7").train.max_steps == 7
    assert resolve_profile(claim, "paper") is claim.profiles["paper"]
    assert resolve_profile(claim, "huge@max-steps-7") is None
    assert resolve_profile(claim, "paper@max-steps-0") is None


def test_a_try_of_the_paper_profile_says_in_its_dry_run_which_data_it_lacks(tmp_path):
    """The real paper profile needs the hub's data: --dry-run says so and where it comes from, exit 1."""
    root = Path(__file__).resolve().parents[2]
    if (Path.cwd() / "data" / "sudoku-extreme" / "train.csv").exists():
        pytest.skip("the real Sudoku-Extreme data is present here")
    result = CliRunner().invoke(cli, ["run", str(root / "claims" / "sudoku_mlp.yaml"), "--profile", "paper",
                                      "--max-steps", "5", "--seeds", "0", "--runs-dir", str(tmp_path / "runs"),
                                      "--data-cache", str(tmp_path / "cache"), "--device", "cpu", "--dry-run"],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "new    sudoku-extreme/trm-mlp  paper@max-steps-5  seed 0" in result.output
    assert "5 steps per run" in result.output
    assert "Hugging Face dataset sapientinc/sudoku-extreme" in result.output
