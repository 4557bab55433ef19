"""Plans and the runner with an injected trainer: states, records, locking, failures, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.errors import InputError
from audit.plan import assess, claims_without, expand_plan
from audit.records import read_record, read_records
from audit.registry import load_registry
from audit.runner import run_lock, run_one

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"


def fake_result(value=0.75, status="completed", error=None):
    ev = {"step": 10, "epoch": 2, "metrics": {"exact_accuracy": value, "accuracy": 0.9},
          "counts": {"exact_accuracy": [int(value * 16), 16]}}
    return {"status": status, "error": error, "steps": 10, "total_steps": 10, "primary_metric": "exact_accuracy",
            "evaluations": [ev], "final": ev if status == "completed" else None,
            "best": ev if status == "completed" else None, "data": {"source": "generated"},
            "environment": {"world_size": 1, "device": "cpu"}, "wall_time_s": 36.0}


@pytest.fixture
def registry():
    return load_registry([FIXTURE])


def test_expand_plan_counts_and_paths(registry, tmp_path):
    specs = expand_plan(registry, profile="smoke", seeds=[0, 1, 2], runs_dir=tmp_path)
    assert len(specs) == 6
    assert specs[0].directory == tmp_path / "toy" / "alpha" / "smoke" / "seed-0"
    assert [s.config.seed for s in specs[:3]] == [0, 1, 2]
    assert len({s.config.config_hash() for s in specs}) == 6
    # toy/beta has no paper profile: an unfiltered plan leaves it out (and the CLI names it), a named one refuses
    assert [s.claim.id for s in expand_plan(registry, profile="paper", seeds=[0], runs_dir=tmp_path)] == ["toy/alpha"]
    assert claims_without(registry, "paper") == ["toy/beta"]
    with pytest.raises(InputError, match="toy/beta: profiles: no profile 'paper'"):
        expand_plan(registry, profile="paper", seeds=[0], runs_dir=tmp_path, claim_ids=["toy/beta"])
    with pytest.raises(InputError, match="no profile 'gpu-week' in any claim"):
        expand_plan(registry, profile="gpu-week", seeds=[0], runs_dir=tmp_path)


def test_run_plans_several_profiles_and_names_the_claims_left_out(tmp_path):
    """One command for a whole audit whose regimes are separate profiles: each profile plans the claims
    that have it, and the plan says which claims a profile left out."""
    out = CliRunner().invoke(cli, ["run", str(FIXTURE), "--profile", "smoke", "--profile", "paper", "--dry-run",
                                   "--runs-dir", str(tmp_path / "runs"), "--seeds", "0"])
    assert out.exit_code == 0, out.output
    assert "profiles: smoke, paper" in out.output
    assert "not planned for paper: 1 claim without that profile (toy/beta)" in out.output
    planned = [line.split() for line in out.output.splitlines() if line.startswith("  new ")]
    assert [(claim, profile) for _, claim, profile, *_ in planned] == [
        ("toy/alpha", "smoke"), ("toy/beta", "smoke"), ("toy/alpha", "paper")]


def test_run_one_writes_a_record_then_skips(registry, tmp_path):
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]
    calls = []
    record = run_one(spec, lambda s: calls.append(s) or fake_result())
    assert record.status == "completed" and record.final.value == 75.0
    assert record.final.correct == 12 and record.final.total == 16
    assert record.device_hours == pytest.approx(0.01)
    assert assess(spec).state == "done"
    assert run_one(spec, lambda s: calls.append(s) or fake_result()) is None
    assert len(calls) == 1
    data = json.loads((spec.directory / "run.json").read_text())
    assert data["config_hash"] == spec.config.config_hash() and data["selected"] == "final"
    records, problems = read_records(tmp_path)
    assert [r.claim_id for r in records] == ["toy/alpha"] and problems == []


def test_changed_profile_makes_the_record_stale(registry, tmp_path):
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]
    run_one(spec, lambda s: fake_result())
    changed = FIXTURE.read_text().replace("lr: 1.0e-3, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id",
                                          "lr: 2.0e-3, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id")
    (tmp_path / "claims.yaml").write_text(changed)
    new_spec = expand_plan(load_registry([tmp_path / "claims.yaml"]), profile="smoke", seeds=[0],
                           runs_dir=tmp_path, claim_ids=["toy/alpha"])[0]
    assert assess(new_spec).state == "stale"
    assert run_one(new_spec, lambda s: pytest.fail("stale runs are not retrained by default")) is None
    assert run_one(new_spec, lambda s: fake_result(0.5), rerun_stale=True).final.value == 50.0
    assert json.loads((spec.directory / "run.superseded-1.json").read_text())["final"]["value"] == 75.0
    assert assess(new_spec).state == "done"


def test_failed_training_becomes_a_failed_record_and_is_retried(registry, tmp_path):
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]

    def out_of_memory(_):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")

    record = run_one(spec, out_of_memory)
    assert record.status == "failed" and "out of memory" in record.error
    assert assess(spec).state == "retry"
    assert run_one(spec, lambda s: fake_result()).status == "completed"


def test_diverged_result_is_recorded_with_its_reason(registry, tmp_path):
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]
    record = run_one(spec, lambda s: fake_result(status="failed", error="non-finite loss nan at step 3"))
    assert record.status == "failed" and record.error == "non-finite loss nan at step 3" and record.final is None


def diverged_after_one_evaluation(_):
    ev = fake_result(0.5)["evaluations"][0]
    return {**fake_result(status="failed", error="non-finite loss nan at step 12"), "evaluations": [ev], "final": ev,
            "best": ev}


@pytest.mark.parametrize("policy, counted", [("", True), (", diverged: exclude", False)])
def test_a_diverged_run_is_done_not_retried(tmp_path, policy, counted):
    # a deterministic rerun diverges again: done whether the protocol counts it or excludes it
    text = FIXTURE.read_text().replace("supervision_steps: 2}", "supervision_steps: 2" + policy + "}", 1)
    (tmp_path / "claims.yaml").write_text(text)
    spec = expand_plan(load_registry([tmp_path / "claims.yaml"]), profile="smoke", seeds=[0], runs_dir=tmp_path,
                       claim_ids=["toy/alpha"])[0]
    run_one(spec, diverged_after_one_evaluation)
    planned = assess(spec)
    assert planned.state == "done" and not planned.needs_training
    assert planned.note.startswith("non-finite loss nan at step 12")
    assert ("counted with its last finite evaluation" in planned.note) == counted
    assert ("not retried: a deterministic rerun diverges again" in planned.note) == (not counted)
    assert run_one(spec, lambda s: pytest.fail("a diverged run is not retrained")) is None


def test_bad_data_is_bad_input_and_leaves_no_record(registry, tmp_path):
    from trm.data.errors import DataError

    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]

    def bad_data(_):
        raise DataError("data/train.csv", "row 3", "answer breaks the rules")

    with pytest.raises(InputError, match="data/train.csv: row 3: answer breaks the rules"):
        run_one(spec, bad_data)
    assert not (spec.directory / "run.json").exists()


def test_locked_run_is_left_to_its_owner(registry, tmp_path):
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]
    with run_lock(spec.directory):
        # flock locks are per open file description, so a second open in this process conflicts too
        assert run_one(spec, lambda s: pytest.fail("must not train a locked run")) is None
    assert run_one(spec, lambda s: fake_result()).status == "completed"


def test_torn_record_is_a_problem_not_a_result(registry, tmp_path):
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]
    run_one(spec, lambda s: fake_result())
    path = spec.directory / "run.json"
    path.write_text(path.read_text()[:100])
    records, problems = read_records(tmp_path)
    assert records == [] and len(problems) == 1 and str(path) in problems[0]
    assert assess(spec).state == "retry"


def test_record_in_the_wrong_place_is_a_problem(registry, tmp_path):
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]
    run_one(spec, lambda s: fake_result())
    moved = tmp_path / "toy" / "alpha" / "smoke" / "seed-7"
    moved.mkdir(parents=True)
    (moved / "run.json").write_text((spec.directory / "run.json").read_text())
    records, problems = read_records(tmp_path)
    assert len(records) == 1 and "seed-7" in problems[0]


def test_dry_run_prints_the_plan_without_training(tmp_path):
    result = CliRunner().invoke(cli, ["run", str(FIXTURE), "--seeds", "0,1", "--runs-dir", str(tmp_path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "profile: smoke (the default" in result.output
    assert "plan: 4 runs (4 new)" in result.output
    assert not any(tmp_path.iterdir())


def test_run_rejects_bad_arguments(tmp_path):
    result = CliRunner().invoke(cli, ["run", str(FIXTURE), "--seeds", "a", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--seeds" in result.output
    result = CliRunner().invoke(cli, ["run", str(FIXTURE), "--claim", "toy/zeta", "--dry-run"])
    assert result.exit_code == 2 and "unknown claim 'toy/zeta'" in result.output


def test_a_new_config_field_with_its_default_keeps_records_current(registry, tmp_path):
    """Records store the resolved config; a field added later (absent there) must not make them stale."""
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path)[0]
    run_one(spec, lambda s: fake_result())
    path = spec.directory / "run.json"
    data = json.loads(path.read_text())
    del data["config"]["model"]["rope_theta"]  # as if written before the field existed
    data["config_hash"] = "0000000000000000"
    path.write_text(json.dumps(data))
    assert assess(spec).state == "done"
    data["config"]["model"]["no_such_field"] = 1  # a field that no longer exists: stale
    path.write_text(json.dumps(data))
    assert assess(spec).state == "stale"


def test_slurm_launcher_through_submitits_local_executor(tmp_path):
    """One submitit job per run (here the local executor); the job writes the record and its logs stay in runs/."""
    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", str(FIXTURE), "--claim", "toy/alpha", "--seeds", "0", "--runs-dir", str(runs),
                                      "--data-cache", str(tmp_path / "cache"), "--device", "cpu",
                                      "--launcher", "slurm", "--partition", "local"])
    assert result.exit_code == 0, result.output
    assert "done    toy/alpha seed 0" in result.output
    assert read_record(runs / "toy" / "alpha" / "smoke" / "seed-0" / "run.json").status == "completed"
    assert any((runs / ".submitit").iterdir())


def test_torchrun_launcher_records_the_world_size(tmp_path):
    """--nproc-per-node 2 trains under torchrun (two gloo processes) and the record says so."""
    runs = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", str(FIXTURE), "--claim", "toy/alpha", "--seeds", "0", "--runs-dir", str(runs),
                                      "--data-cache", str(tmp_path / "cache"), "--device", "cpu", "--nproc-per-node", "2"])
    assert result.exit_code == 0, result.output
    record = read_record(runs / "toy" / "alpha" / "smoke" / "seed-0" / "run.json")
    assert record.status == "completed" and record.environment["world_size"] == 2
    assert record.device_hours == pytest.approx(2 * record.wall_time_s / 3600)
