"""Measured step costs (audit/costs.py): the file format, matching, the timer, and the plan's estimate."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.costs import (StepTimer, append_measurement, best_match, device_hours, measurement_for,
                         read_measurements, step_hash)
from audit.errors import InputError
from audit.registry import load_registry

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"


def paper_config(seed=0):
    return load_registry([FIXTURE]).claim("toy/alpha").profiles["paper"].config_for(seed)


def measured(config, device, seconds, date="2026-12-01T00:00:00+00:00", world_size=1):
    return measurement_for(config, claim="toy/alpha", profile="paper", device=device, device_name=f"a {device}",
                           threads=1, world_size=world_size, seconds_per_step=seconds, steps_timed=9,
                           source="gpu_check" if device == "cuda" else "run --max-steps", commit="abc", date=date)


def test_lines_round_trip_and_a_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "costs.jsonl"
    first, second = measured(paper_config(), "cpu", 2.5), measured(paper_config(), "cuda", 0.05)
    append_measurement(path, first)
    append_measurement(path, second)
    assert read_measurements(path) == [first, second]
    assert first.dtype == "float32" and second.global_batch_size == 16
    with open(path, "a") as handle:
        handle.write('{"claim": "toy/alpha"}\n')
    with pytest.raises(InputError, match=r"costs.jsonl: line 3: missing commit, config_hash"):
        read_measurements(path)
    assert read_measurements(tmp_path / "absent.jsonl") == []


def test_a_measurement_answers_configs_with_the_same_step_only():
    config = paper_config()
    # Seeds and epochs change how many steps there are, not what one costs.
    longer = replace(config, seed=3, train=replace(config.train, epochs=40, eval_interval=20))
    assert step_hash(longer) == step_hash(config)
    wider = replace(config, model=replace(config.model, hidden_size=32))
    bigger_batch = replace(config, train=replace(config.train, global_batch_size=32))
    assert len({step_hash(config), step_hash(wider), step_hash(bigger_batch)}) == 3
    cpu_old, cpu_new = measured(config, "cpu", 3.0, "2026-11-01T00:00:00+00:00"), measured(config, "cpu", 2.0)
    assert best_match([cpu_old, cpu_new], longer) is cpu_new  # the newest of equals
    gpu = measured(config, "cuda", 0.1, "2026-10-01T00:00:00+00:00")
    assert best_match([cpu_new, gpu, cpu_old], config) is gpu  # a GPU measurement wins over a newer CPU one
    assert best_match([cpu_new, gpu], wider) is None
    assert device_hours(3600, measured(config, "cuda", 0.5, world_size=4)) == pytest.approx(2.0)


def test_the_timer_leaves_out_the_first_step():
    times = iter([10.0, 15.0, 16.0, 17.0])
    seen = []
    timer = StepTimer(lambda step, total: seen.append(step), clock=lambda: next(times))
    timer(1, 4)
    assert timer.seconds_per_step is None and timer.steps_timed == 0
    for step in (2, 3, 4):
        timer(step, 4)
    assert timer.steps_timed == 3 and timer.seconds_per_step == pytest.approx(7.0 / 3)
    assert seen == [1, 2, 3, 4]  # the wrapped progress bar still sees every step


def plan(tmp_path, costs):
    return CliRunner().invoke(cli, ["run", str(FIXTURE), "--claim", "toy/alpha", "--profile", "paper", "--seeds", "0-2",
                                    "--runs-dir", str(tmp_path / "runs"), "--costs-file", str(costs), "--dry-run"])


def test_the_paper_plan_prints_steps_and_an_estimate_from_the_best_measurement(tmp_path):
    costs = tmp_path / "costs.jsonl"
    result = plan(tmp_path, costs)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("  toy/alpha: authors:"))
    assert "16 steps per run" in line and "our estimate: none measured yet" in line
    assert "whole plan: no estimate (none measured yet for its 3 runs to train)" in result.output

    append_measurement(costs, measured(paper_config(), "cpu", 450.0))  # 16 steps x 450 s = 2 h per run
    result = plan(tmp_path, costs)
    line = next(x for x in result.output.splitlines() if x.startswith("  toy/alpha: authors:"))
    assert "our estimate: 2 device-hours per run, 6 for the 3 runs to train (an estimate from 450 s/step " \
           "measured on cpu" in line
    assert "whole plan: our estimate 6 device-hours for the 3 runs to train that have one" in result.output

    append_measurement(costs, measured(paper_config(), "cuda", 22.5, world_size=2))  # 16 x 22.5 x 2 = 0.2 h
    line = next(x for x in plan(tmp_path, costs).output.splitlines() if x.startswith("  toy/alpha: authors:"))
    assert "0.2 device-hours per run" in line and "measured on cuda (2x a cuda" in line


def test_a_plan_is_timed_from_the_wall_time_of_its_completed_runs(tmp_path):
    from audit.costs import timed_runs_lines
    from audit.plan import assess, expand_plan
    from audit.records import write_json_atomic
    from summary_inputs import two_claims_registry

    registry = two_claims_registry()
    specs = expand_plan(registry, profile="smoke", runs_dir=tmp_path, seeds=[0, 1, 2])
    for spec in specs:
        if spec.claim.id == "toy/alpha" and spec.seed in (0, 1):  # two completed runs of 10 and 20 minutes
            config = spec.config
            final = {"step": 10, "value": 50.0, "correct": 8.0, "total": 16, "metrics": {}}
            write_json_atomic(spec.directory / "run.json", {
                "format_version": 1, "claim_id": spec.claim.id, "profile": "smoke", "seed": spec.seed,
                "status": "completed", "error": None, "config": config.to_dict(), "config_hash": config.config_hash(),
                "metric": spec.claim.metric, "final": final, "best": final, "selected": "final",
                "wall_time_s": 600.0 * (spec.seed + 1)})
    planned = [assess(spec) for spec in specs]
    assert [p.state for p in planned if p.spec.claim.id == "toy/alpha"] == ["done", "done", "new"]
    lines = timed_runs_lines(planned, parallel=2)
    assert lines[0].startswith("time to train")
    assert "toy/alpha (smoke): 1 to train x 15.0 min (the mean wall time of its 2 completed runs)" in lines[1]
    assert "toy/beta (smoke): 3 to train, no completed run to time" in lines[2]
    assert ("whole plan: 0.25 h one run after another for the 1 timed run, about 0.12 h wall at --parallel 2 "
            "if every lane stays busy; 3 untimed runs not included") in lines[3]
    assert "already trained: 2 runs, 0.50 h one run after another" in lines[4]
    done = [p for p in planned if p.state == "done"]
    assert timed_runs_lines(done, parallel=2) == []  # nothing left to train: nothing to say
    untimed = [p for p in planned if p.spec.claim.id == "toy/beta"]
    assert timed_runs_lines(untimed, parallel=2) == []  # nothing measured: nothing to say
