"""Issue 10.5: a NaN or infinite loss, a full disk (at a record, a checkpoint, a metrics row) and an
out-of-memory error in one seed. That run is marked failed with its reason, the plan's other seeds
go on, the report lists the failure and keeps it out of the statistics; where the run can be
finished later (disk or memory back), the next `trm-audit run` retries it and ends with the
uninterrupted record, bit for bit. Faults are injected in this process (the trainer runs in it).
"""
from __future__ import annotations

import errno
import json

import pytest
import torch
from click.testing import CliRunner

import reliability_kit as kit
import trm.train
from audit.cli import cli
from audit.records import read_records

SEEDS = "0,1"
FAULTY_SEED = 1


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def run_args(root, claims=kit.KILL_PLAN):
    return kit.plan_args(root / "runs", root / "cache", seeds=SEEDS, claims=claims)


def report(root, claims=kit.KILL_PLAN):
    result = invoke("report", "--runs-dir", root / "runs", "--claims", claims, "--out", root / "reports")
    assert result.exit_code == 0, result.output
    summary = json.loads((root / "reports" / "summary.json").read_text())
    return summary, (root / "reports" / "report.md").read_text()


@pytest.fixture
def in_seed(monkeypatch):
    """in_seed(seed, fault) makes `fault(step)` run after every optimizer update of that seed's run."""

    def plant(seed, fault):
        real_train, real_step = trm.train.train, trm.train.train_step
        current = {}

        def train(cfg, run_dir, *args, **kwargs):
            current["seed"], current["step"] = cfg.seed, 0
            return real_train(cfg, run_dir, *args, **kwargs)

        def train_step(*args, **kwargs):
            carry, sums = real_step(*args, **kwargs)
            current["step"] += 1
            if current["seed"] == seed:
                sums = fault(current["step"], sums)
            return carry, sums

        monkeypatch.setattr(trm.train, "train", train)
        monkeypatch.setattr(trm.train, "train_step", train_step)

    return plant


def assert_one_failure(root, reason, claims=kit.KILL_PLAN):
    records, problems = read_records(root / "runs")
    assert problems == []
    status = {r.seed: r.status for r in records}
    assert status == {0: "completed", 1: "failed"}
    (failed,) = [r for r in records if r.status == "failed"]
    assert reason in failed.error
    summary, markdown = report(root, claims)
    (result,) = summary["claims"][0]["results"]
    assert result["n"] == 1 and result["failed"] == 1
    assert result["excluded"][0]["seed"] == FAULTY_SEED and reason in result["excluded"][0]["reason"]
    assert f"| {FAULTY_SEED} | failed: " in markdown and reason in markdown
    return failed


def assert_rerun_recovers(root, reference_plan):
    result = invoke(*run_args(root))
    assert result.exit_code == 0, result.output
    assert "retry" in result.output
    for run, expected in reference_plan.signatures.items():
        assert kit.differences(expected, kit.record_signature(root / "runs" / run)) == [], run


def test_a_nan_loss_from_a_huge_learning_rate_fails_that_claim_only(tmp_path):
    """Real divergence: lr 1e30 gives a NaN loss within a few steps; the other claim of the plan trains on."""
    text = kit.KILL_PLAN.read_text()
    diverging = text.split("claims:\n", 1)[1].replace("id: rel/mlp", "id: rel/diverging").replace(
        "lr: 3.0e-3, lr_warmup_steps: 3", "lr: 1.0e+30, lr_warmup_steps: 0")
    claims = tmp_path / "claims.yaml"
    claims.write_text(text + diverging)
    result = invoke(*kit.plan_args(tmp_path / "runs", tmp_path / "cache", seeds="0", claims=claims))
    assert result.exit_code == 1 and result.output.rstrip().endswith("1 of 2 runs failed"), result.output
    assert "FAILED  rel/diverging seed 0: non-finite loss nan at step" in result.output
    records, _ = read_records(tmp_path / "runs")
    assert {r.claim_id: r.status for r in records} == {"rel/diverging": "failed", "rel/mlp": "completed"}
    summary, markdown = report(tmp_path, claims)
    diverged = [c for c in summary["claims"] if c["id"] == "rel/diverging"][0]
    assert diverged["results"][0]["failed"] == 1 and diverged["results"][0]["n"] == 0
    assert "failed: non-finite loss nan at step" in markdown


def test_an_infinite_loss_in_one_seed_fails_it_and_the_other_seed_goes_on(tmp_path, in_seed):
    in_seed(FAULTY_SEED, lambda step, sums: dict(sums, loss=float("inf")) if step == 7 else sums)
    result = invoke(*run_args(tmp_path))
    assert result.exit_code == 1 and result.output.rstrip().endswith("1 of 2 runs failed"), result.output
    failed = assert_one_failure(tmp_path, "non-finite loss inf at step 7")
    assert failed.steps == 6  # the update with the infinite loss was not applied


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   MemoryError("cannot allocate 2 GiB")], ids=["cuda-oom", "host-oom"])
def test_out_of_memory_in_one_seed_fails_it_and_a_rerun_finishes_it(tmp_path, in_seed, reference_plan, monkeypatch,
                                                                    error):
    def oom(step, sums):
        if step == 13:
            raise error
        return sums

    in_seed(FAULTY_SEED, oom)
    result = invoke(*run_args(tmp_path))
    assert result.exit_code == 1 and result.output.rstrip().endswith("1 of 2 runs failed"), result.output
    assert_one_failure(tmp_path, f"{type(error).__name__}: {error}")
    monkeypatch.undo()  # memory is back
    assert_rerun_recovers(tmp_path, reference_plan)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["record", "checkpoint", "metrics-row"])
def test_a_full_disk_fails_that_run_with_its_reason_and_a_rerun_finishes_it(tmp_path, reference_plan, monkeypatch,
                                                                           where):
    """Regression: an OSError at a checkpoint or a metrics row escaped run_one and stopped the whole
    plan with a traceback; one at the record did the same after training had finished."""
    import audit.records
    import trm.checkpoint
    import trm.result

    real = {"record": audit.records.write_json_atomic, "checkpoint": trm.checkpoint.torch.save,
            "metrics-row": trm.result.MetricsLog.write}[where]
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        """Fails once, in seed 1's run: its run.json / its 3rd checkpoint (step 12) / its 10th block of rows.
        Seed 0 writes 6 checkpoints (steps 5, 10, 12, 15, 20, 24) and 26 row blocks (24 train, 2 test)."""
        target = {"record": 2, "checkpoint": 9, "metrics-row": 36}[where]  # call counts over the whole plan
        calls["n"] += 1
        if calls["n"] == target:
            _disk_full()
        return real(*args, **kwargs)

    if where == "record":
        monkeypatch.setattr(audit.records, "write_json_atomic", flaky)
    elif where == "checkpoint":
        monkeypatch.setattr(trm.checkpoint.torch, "save", flaky)
    else:
        monkeypatch.setattr(trm.result.MetricsLog, "write", flaky)
    result = invoke(*run_args(tmp_path))
    assert result.exit_code == 1 and result.output.rstrip().endswith("1 of 2 runs failed"), result.output
    assert "Traceback" not in result.output
    failed = assert_one_failure(tmp_path, "No space left on device")
    if where == "record":
        assert failed.error.startswith("its record could not be written (OSError: [Errno 28]")
        assert failed.final is not None  # what training measured is kept, though not counted
    monkeypatch.undo()  # space is back
    assert_rerun_recovers(tmp_path, reference_plan)
