"""Seed planning: audit.seeds.plan_seeds and `trm-audit plan-seeds`."""
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from audit import stats
from audit.seeds import plan_seeds
from audit.cli import cli
from audit.errors import InputError
from audit.records import parse_record, run_dir, write_record
from audit.registry import load_registry

DATA = Path(__file__).resolve().parents[1] / "data"
CLAIMS = DATA / "two_claims.yaml"


@pytest.fixture(scope="module")
def registry():
    return load_registry([CLAIMS])


def record_dict(registry, claim_id, profile, seed, value):
    claim = registry.claim(claim_id)
    config = claim.profiles[profile].config_for(seed)
    final = {"step": 4, "value": value, "correct": value, "total": 100, "metrics": {}}
    return {"format_version": 1, "claim_id": claim_id, "profile": profile, "seed": seed, "status": "completed",
            "error": None, "config": config.to_dict(), "config_hash": config.config_hash(), "metric": claim.metric,
            "final": final, "best": final, "selected": "final"}


def records(registry, claim_id, profile, values):
    return [parse_record(record_dict(registry, claim_id, profile, k, v), Path(f"seed-{k}/run.json"))
            for k, v in enumerate(values)]


def test_observed_sd_is_the_asked_profiles(registry):
    smoke = records(registry, "toy/alpha", "smoke", [50.0, 60.0, 70.0, 80.0])  # more runs, but a proxy
    paper = records(registry, "toy/alpha", "paper", [88.0, 90.0, 92.0])
    advice = plan_seeds(registry, smoke + paper, [], "toy/alpha")
    assert advice.sd == pytest.approx(2.0) and advice.sd_from == "paper (n = 3)" and advice.n_current == 3
    assert advice.gap == 2.0  # the claim's tolerance by default
    assert advice.one_sample == stats.seeds_needed(2.0, 2.0, arms=1)
    assert advice.two_sample == stats.seeds_needed(2.0, 2.0, arms=2)
    assert advice.power_one_sample == pytest.approx(stats.power_one_sided(3, 2.0, 2.0, arms=1))
    assert advice.power_two_sample == pytest.approx(stats.power_one_sided(3, 2.0, 2.0, arms=2))
    only_smoke = plan_seeds(registry, smoke, [], "toy/alpha", profile="smoke")
    assert only_smoke.sd == pytest.approx(np.std([50, 60, 70, 80], ddof=1)) and only_smoke.sd_from == "smoke (n = 4)"


def test_stated_sd_and_gap(registry):
    advice = plan_seeds(registry, [], [], "toy/alpha", gap=1.0, sd=1.0)
    assert (advice.sd_from, advice.n_current, advice.power_one_sample) == ("stated", None, None)
    assert (advice.one_sample.z_approx, advice.two_sample.z_approx) == (7, 13)  # (1.645 + 0.842)^2 = 6.18


def test_plan_needs_an_sd_and_a_positive_gap(registry):
    one_run = records(registry, "toy/alpha", "paper", [90.0])
    with pytest.raises(InputError, match="toy/alpha: sd: no source"):
        plan_seeds(registry, one_run, [], "toy/alpha")
    with pytest.raises(InputError, match="toy/alpha: gap"):
        plan_seeds(registry, [], [], "toy/alpha", gap=-1.0, sd=1.0)
    with pytest.raises(InputError, match="toy/alpha: sd"):
        plan_seeds(registry, [], [], "toy/alpha", sd=0.0)
    with pytest.raises(InputError, match="unknown claim"):
        plan_seeds(registry, [], [], "toy/none", sd=1.0)


def run_cli(tmp_path, *args):
    return CliRunner().invoke(cli, ["plan-seeds", *args, "--claims", str(CLAIMS), "--runs-dir", str(tmp_path)])


def test_plan_seeds_command_from_records_on_disk(tmp_path, registry):
    for k, value in enumerate([88.0, 90.0, 92.0]):
        write_record(run_dir(tmp_path, "toy/alpha", "paper", k), record_dict(registry, "toy/alpha", "paper", k, value))
    result = run_cli(tmp_path, "--claim", "toy/alpha")
    assert result.exit_code == 0, result.output
    one, two = stats.seeds_needed(2.0, 2.0, arms=1), stats.seeds_needed(2.0, 2.0, arms=2)
    assert "seed SD 2 pp (paper (n = 3))" in result.output
    assert f"(one sample): {one.exact_t} seeds" in result.output and f"z approximation {one.z_approx})" in result.output
    assert f"(two samples): {two.exact_t} seeds per arm" in result.output
    assert "power of the current 3 seeds" in result.output


def test_plan_seeds_command_with_stated_numbers_and_bad_input(tmp_path):
    result = run_cli(tmp_path, "--claim", "toy/beta", "--gap", "3", "--sd", "1.5")
    assert result.exit_code == 0 and "(stated)" in result.output and "power of the current" not in result.output
    missing = run_cli(tmp_path, "--claim", "toy/beta")
    assert missing.exit_code == 2 and missing.output.count("\n") == 1 and "--sd" in missing.output
    negative = run_cli(tmp_path, "--claim", "toy/beta", "--sd", "-1")
    assert negative.exit_code == 2 and "sd" in negative.output
