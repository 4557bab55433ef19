"""scripts/gpu_check.py in its CPU dry-run mode, cut down to small stages, and the report section it feeds.

The full dry run (every stage at its dry-run sizes) takes minutes on a loaded CPU; these tests run
each stage once at the smallest size, in two invocations of the script, and never need a GPU.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gpu_check.py"
COST_KEYS = {"claim", "profile", "config_hash", "step_hash", "device", "device_name", "dtype", "global_batch_size", "threads",
             "world_size", "seconds_per_step", "steps_timed", "source", "date", "commit"}


def check(tmp_path, *args) -> tuple[subprocess.CompletedProcess, list[dict]]:
    out = tmp_path / "gpu-check.jsonl"
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--out", str(out), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return done, lines


def report_module():
    spec = importlib.util.spec_from_file_location("make_performance_report", REPO / "scripts" / "make_performance_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_fixtures_and_both_tiny_runs(tmp_path):
    done, lines = check(tmp_path, "--stages", "fixtures,proxy,torchrun")
    assert done.returncode == 0, done.stdout + done.stderr
    fixtures = [line for line in lines if line["stage"] == "fixtures"]
    assert {line["fixture"] for line in fixtures} >= {"trm_att_tiny", "trm_mlp_tiny", "hrm_att_tiny"}
    assert all(line["within_cpu_tolerances"] and line["max_abs_diff"]["logits"] <= 4e-5 for line in fixtures)
    runs = {line["stage"]: line for line in lines if line["stage"] in ("proxy", "torchrun")}
    assert runs["proxy"]["status"] == runs["torchrun"]["status"] == "completed"
    assert runs["torchrun"]["launcher"] == "torchrun --nproc-per-node=1" and runs["torchrun"]["world_size"] == 1
    assert runs["proxy"]["config_hash"] == runs["torchrun"]["config_hash"]
    assert "gpu check on cpu" in done.stdout


@pytest.mark.slow
def test_a_failing_official_side_is_recorded_and_the_next_stage_still_runs(tmp_path):
    tree, bench = tmp_path / "official", tmp_path / "bench.py"
    (tree / "models").mkdir(parents=True)
    bench.write_text("raise SystemExit('the official code cannot be imported here')\n")
    costs = tmp_path / "step-costs.jsonl"
    done, lines = check(tmp_path, "--stages", "step,proxy", "--claims", "sudoku-extreme/trm-mlp", "--batches", "1",
                        "--official", str(tree), "--official-bench", str(bench), "--costs-out", str(costs))
    assert done.returncode == 1, done.stdout + done.stderr  # a failed measurement
    ours = next(line for line in lines if (line["stage"], line["side"]) == ("train_step", "ours"))
    assert not costs.exists()  # only a timing at the profile's own batch (768 here) is a cost estimate
    assert COST_KEYS <= set(ours) and ours["source"] == "gpu_check" and ours["device"] == "cpu"
    assert ours["global_batch_size"] == 1 and not ours["at_profile_batch"] and ours["seconds_per_step"] > 0
    assert ours["claim"] == "sudoku-extreme/trm-mlp" and ours["profile"] == "paper" and ours["world_size"] == 1
    official = [line for line in lines if line.get("side") == "official"]
    assert len(official) == 2 and all("error" in line and line["source"] == "gpu_check/official" for line in official)
    assert next(line for line in lines if line["stage"] == "proxy")["status"] == "completed"

    report = report_module()
    section = "\n".join(report.render_gpu_check(lines, "gpu-check.jsonl"))
    assert "Not run on a GPU yet" in section
    assert "| sudoku-extreme/trm-mlp | 1 | " in section and "| failed | – |" in section
    assert "| proxy | completed |" in section


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timings_at_the_profile_batch_go_to_the_costs_file_in_its_shape(tmp_path):
    import argparse

    gpu_check = load_script()
    args = argparse.Namespace(out=tmp_path / "gpu-check.jsonl", costs_out=tmp_path / "step-costs.jsonl", budget_s=60,
                              official=None, device="cpu")
    check = gpu_check.Check(args, "cpu: test")
    line = {"stage": "train_step", "side": "ours", "source": "gpu_check", "claim": "c", "profile": "paper",
            "config_hash": "h", "step_hash": "s", "dtype": "bfloat16", "world_size": 1, "threads": 1, "seconds_per_step": 0.5,
            "steps_timed": 10, "seconds_per_step_all": [0.5] * 10}
    check.write({**line, "global_batch_size": 768, "at_profile_batch": True})
    check.write({**line, "global_batch_size": 256, "at_profile_batch": False})
    check.write({**line, "global_batch_size": 768, "at_profile_batch": True, "source": "gpu_check/official"})
    costs = [json.loads(text) for text in args.costs_out.read_text().splitlines()]
    assert len(costs) == 1 and set(costs[0]) == COST_KEYS and costs[0]["global_batch_size"] == 768
    assert costs[0]["device"] == "cpu" and costs[0]["device_name"] == "cpu: test"
    from audit.costs import read_measurements  # the plan's cost estimate reads what the GPU check wrote

    assert [m.step_hash for m in read_measurements(args.costs_out)] == ["s"]
    assert len(args.out.read_text().splitlines()) == 3 and check.failures == 0


def test_the_report_section_reads_gpu_lines():
    report = report_module()
    common = {"device": "cuda", "device_name": "NVIDIA H200", "date": "2026-12-02T01:00:00+00:00", "commit": "abc"}
    step = {"stage": "train_step", "claim": "sudoku-extreme/trm-mlp", "global_batch_size": 768, **common}
    lines = [{**step, "side": "ours", "seconds_per_step": 0.1}, {**step, "side": "official", "seconds_per_step": 0.25},
             {"stage": "fixtures", "fixture": "trm_att_tiny", "max_abs_diff": {"logits": 2e-6, "q_halt_logits": 1e-6,
              "q_continue_logits": 1e-6}, "loss_max_rel_diff": 1e-7, "within_cpu_tolerances": True, **common}]
    section = "\n".join(report.render_gpu_check(lines, "reports/gpu-check.jsonl"))
    assert "Not run on a GPU yet" not in section and "### NVIDIA H200 (cuda)" in section
    assert "| sudoku-extreme/trm-mlp | 768 | 100.0 | 250.0 | 2.50x |" in section
    assert "| trm_att_tiny | 2e-06 | 1e-06 | 1e-06 | 1e-07 | yes |" in section


def test_the_official_side_builds_on_the_default_device_with_the_cpu_draws():
    """The prelude run before the official bench: factories (randint included) make tensors on the device
    (here `meta`, which every torch has), and a CPU generator's draws are the CPU's, moved there."""
    import torch

    gpu_check = load_script()
    expected = torch.randint(1, 11, (2, 81), generator=torch.Generator().manual_seed(1), dtype=torch.int32)
    saved = torch.randint
    try:
        exec(gpu_check._OFFICIAL_ON_DEVICE.format(device="meta"), {})
        drawn = torch.randint(1, 11, (2, 81), generator=torch.Generator().manual_seed(1), dtype=torch.int32)
        assert drawn.device.type == "meta" and drawn.dtype == torch.int32
        assert torch.zeros(3).device.type == torch.randint(0, 3, (2,)).device.type == "meta"
        assert torch.randint(0, 3, (2,), device="cpu").device.type == "cpu"
        torch.set_default_device("cpu")
        again = torch.randint(1, 11, (2, 81), generator=torch.Generator().manual_seed(1), dtype=torch.int32)
        assert torch.equal(again, expected)  # the same stream of numbers, wherever they end up
    finally:
        torch.randint = saved
        torch.set_default_device("cpu")
