"""Issue 5 / issue 10.1: SIGKILL `trm-audit run` (a child process) at random moments and at each
kind of write, rerun it, and end with records bitwise equal to the uninterrupted plan's, no torn files.

The plan is tests/reliability/data/kill_plan.yaml, seeds 0 and 1 (24 optimizer steps each,
checkpoints every 5, two evaluations). scripts/reliability.py runs many more kills than these.
"""
from __future__ import annotations

import random

import reliability_kit as kit

from trm.host import threads_per_worker

# Kills in one chain on one runs directory; each process dies at its fault, the next resumes.
# The N of a fault counts calls inside that one process.
FAULT_CHAIN = (
    "checkpoint-write:2",  # seed 0's checkpoint at step 10, half written
    "evaluation:1",  # the resumed seed 0's first evaluation (step 12), after one test batch
    "metrics-row:3",  # the test rows of that evaluation half appended to metrics.csv
    "record-write:1",  # seed 0's run.json written to its temporary file, not yet renamed
    "record-done:2",  # seed 1 trained in full, its run.json just renamed into place
)
# (scripts/reliability.py adds the other faults of kit.FAULTS and many more random kills.)


def _assert_matches_reference(reference, runs_dir):
    signatures = kit.plan_signatures(runs_dir)
    assert sorted(signatures) == sorted(reference.signatures)
    for run, expected in reference.signatures.items():
        assert kit.differences(expected, signatures[run]) == [], run
    assert kit.torn_files(runs_dir) == []
    leftovers = [p for p in runs_dir.rglob(".*.tmp")]
    assert leftovers == [], "a killed write left its temporary file behind"


def test_sigkill_at_random_points_then_rerun_matches_uninterrupted_plan(reference_plan, tmp_path):
    """Three kills at seeded random points of the plan (when its metrics.csv files reach a random
    number of rows: in training, evaluation or a write), then a plain rerun: the same records."""
    rng = random.Random(20251007)
    args = kit.plan_args(tmp_path / "runs", tmp_path / "cache")
    outcomes = []
    for threshold in sorted(rng.sample(range(10, reference_plan.metrics_rows - 10), 3)):
        outcomes.append(kit.trm_audit_killed_when(
            args, tmp_path, lambda t=threshold: kit.metrics_rows(tmp_path / "runs") >= t))
    landed = [o for o in outcomes if o.killed]
    assert len(landed) >= 2, [(o.returncode, o.stderr[-300:]) for o in outcomes]
    assert not any(o.traceback for o in outcomes)
    final = kit.trm_audit(args, tmp_path)
    assert final.returncode == 0, final.stderr
    assert "Traceback" not in final.stderr
    _assert_matches_reference(reference_plan, tmp_path / "runs")


def test_sigkill_at_each_kind_of_write_then_rerun_matches_uninterrupted_plan(reference_plan, tmp_path):
    """One kill per fault of FAULT_CHAIN, each in a fresh process on the same runs directory; the
    last kill leaves the plan complete, so the final rerun must train nothing."""
    args = kit.plan_args(tmp_path / "runs", tmp_path / "cache")
    for fault in FAULT_CHAIN:
        outcome = kit.trm_audit(args, tmp_path, fault=fault)
        assert outcome.killed, f"{fault} did not fire: rc {outcome.returncode}\n{outcome.stderr[-2000:]}"
        assert not kit.torn_files(tmp_path / "runs") or fault.startswith("metrics-row")
    count = tmp_path / "trainings.txt"
    final = kit.trm_audit(args, tmp_path, count=count)
    assert final.returncode == 0, final.stderr
    assert "2 done" in final.stdout and not count.exists()
    _assert_matches_reference(reference_plan, tmp_path / "runs")


def test_sigkill_of_a_parallel_run_leaves_no_orphan_workers(reference_plan, tmp_path):
    """Regression: SIGKILL of `trm-audit run --parallel 2` left its pool workers alive for good (they
    finished their run, then waited forever for work, holding the launcher's output pipe open). Now
    they exit with their parent; the rerun resumes their runs."""
    args = kit.plan_args(tmp_path / "runs", tmp_path / "cache") + ["--parallel", "2"]
    outcome = kit.trm_audit_killed_when(args, tmp_path, lambda: kit.metrics_rows(tmp_path / "runs") >= 60,
                                        timeout=120)  # waits for every holder of the output pipe: the workers too
    assert outcome.killed, outcome.stderr
    final = kit.trm_audit(args, tmp_path)
    assert final.returncode == 0, final.stderr
    records = kit.plan_signatures(tmp_path / "runs")
    assert sorted(records) == sorted(reference_plan.signatures)
    assert all(signature["record"]["status"] == "completed" for signature in records.values())
    assert kit.torn_files(tmp_path / "runs") == []
    if threads_per_worker(2) == 1:  # the workers train on one thread each, as the reference did
        for run, expected in reference_plan.signatures.items():
            assert kit.differences(expected, records[run]) == [], run
