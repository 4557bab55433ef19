"""Issue 10.7: the same seed twice on CPU gives identical records, apart from clocks, for one claim of
each model family (TRM-MLP, TRM-Attention, HRM): once in this process, once in a fresh child process
with its own data cache (so the data build, Python's hash seed and the process are all redone)."""
from __future__ import annotations

from click.testing import CliRunner

import reliability_kit as kit
from audit.cli import cli

FAMILIES = kit.DATA / "families.yaml"


def test_the_same_seed_twice_gives_identical_records_for_each_model_family(tmp_path):
    here = CliRunner().invoke(cli, kit.plan_args(tmp_path / "a" / "runs", tmp_path / "a" / "cache", seeds="3",
                                                 claims=FAMILIES))
    assert here.exit_code == 0, here.output
    child = kit.trm_audit(kit.plan_args(tmp_path / "b" / "runs", tmp_path / "b" / "cache", seeds="3", claims=FAMILIES),
                          tmp_path)
    assert child.returncode == 0, child.stderr
    first, second = kit.plan_signatures(tmp_path / "a" / "runs"), kit.plan_signatures(tmp_path / "b" / "runs")
    assert sorted(first) == ["rel/hrm/smoke/seed-3", "rel/trm-att/smoke/seed-3", "rel/trm-mlp/smoke/seed-3"]
    for run in first:
        assert first[run]["record"]["status"] == "completed"
        assert kit.differences(first[run], second[run]) == [], run
    # the three families really train differently (the comparison is not of three copies of one thing)
    losses = {run: sig["record"]["final"]["metrics"]["lm_loss"] for run, sig in first.items()}
    assert len(set(losses.values())) == 3
