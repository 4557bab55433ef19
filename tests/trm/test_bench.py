"""The speed work: trm.bench (JSON, FLOP counting, configs matching the official bench) and the
fast paths of the layers (cached casts, oneDNN matmuls, the gated-SiLU backward), which must
compute what the plain autograd of the official formulation computes."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from trm.bench import (PAPER_SETUPS, BenchSetup, flop_count, main, official_bench_config, resolve_setup, run_bench,
                       setup_from_config)
from trm.config import ModelConfig, OptimConfig, TrainConfig
from trm.layers import Linear, SwiGLU, cast_once, matmul_nt
from trm.model import RecursiveModel
from trm.official import compare_fixture, expected_file, run_fixture
from trm.yamlio import read_yaml

REPO = Path(__file__).resolve().parents[2]
OFFICIAL_BENCH = REPO.parent / "shared" / "bench" / "official_step_bench.py"  # the shared folder is ../shared
DATA = Path(__file__).parents[1] / "data"
FIXTURES = DATA / "official"
BENCH_KEYS = {"config", "dtype", "batch_size", "threads", "ms_per_step_median", "ms_per_step_min", "ms_per_step_max",
              "samples_per_s", "gflop_per_step", "achieved_gflops", "matmul_ceiling_gflops", "utilisation",
              "eff_cores", "peak_rss_mib"}


def _official_bench():
    if not OFFICIAL_BENCH.exists():
        pytest.skip(f"{OFFICIAL_BENCH} is not on this machine")
    spec = importlib.util.spec_from_file_location("official_step_bench", OFFICIAL_BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY = BenchSetup("tiny", ModelConfig(hidden_size=32, num_heads=2, h_cycles=2, l_cycles=2, mixer="attention",
                                      pos_encodings="rope", puzzle_emb_ndim=32, puzzle_emb_len=1, halt_max_steps=3,
                                      forward_dtype="float32"),
                  seq_len=16, vocab_size=6, batch_size=4, optim=OptimConfig(global_batch_size=4))


# ---- the bench ---------------------------------------------------------------------------------

def test_bench_prints_one_json_line_with_every_key(capsys):
    config = str(DATA / "trm_tiny_train.yaml")
    main([config, "--batch-size", "4", "--steps", "1", "--warmup", "1", "--threads", "1",
          "--eval", "--eval-steps", "1", "--ceiling-seconds", "0.01"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert BENCH_KEYS <= set(result)
    assert result["config"] == config and result["batch_size"] == 4 and result["threads"] == 1
    assert result["ms_per_step_min"] <= result["ms_per_step_median"] <= result["ms_per_step_max"]
    assert result["utilisation"] == pytest.approx(result["achieved_gflops"] / result["matmul_ceiling_gflops"])
    assert result["loss_finite"] and result["eval"]["act_steps"] == 3 and result["eval"]["samples_per_s"] > 0


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_run_bench_trains_a_tiny_model(dtype):
    result = run_bench(TINY, dtype=dtype, threads=1, steps=2, warmup=1, ceiling_seconds=0.01)
    assert result["loss_finite"] and len(result["ms_per_step_all"]) == 2
    assert result["gflop_per_step"] == pytest.approx(flop_count(TINY.model, 16, 6, 4).train_step / 1e9)


def test_unknown_config_names_the_choices(capsys):
    with pytest.raises(KeyError, match="sudoku-mlp-full"):
        resolve_setup("sudoku-mlp-huge")
    with pytest.raises(KeyError, match="sudoku-mlp-full"):
        resolve_setup("smoke:sudoku-extreme/trm-mlp")  # registry profiles are the harness's (audit.bench_setups)
    with pytest.raises(SystemExit) as exit_info:
        main(["nope"])
    assert exit_info.value.code == 2 and "unknown config 'nope'" in capsys.readouterr().err


def test_a_train_config_yaml_is_a_setup():
    path = DATA / "trm_tiny_train.yaml"
    cfg = TrainConfig.from_dict(read_yaml(path))
    setup = resolve_setup(str(path))
    assert setup == setup_from_config(str(path), cfg)
    assert (setup.seq_len, setup.vocab_size, setup.batch_size, setup.num_puzzle_identifiers) == (16, 6, 16, 1)
    assert setup.model == cfg.model and setup.optim == cfg.train


def test_a_bad_config_file_exits_2_naming_it(tmp_path, capsys):
    twice = tmp_path / "twice.yaml"
    twice.write_text((DATA / "trm_tiny_train.yaml").read_text() + "seed: 1\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text((DATA / "trm_tiny_train.yaml").read_text().replace("lr: 3.0e-3", "lr: -1"))
    for path, expected in ((twice, "duplicate key 'seed'"), (bad, "train.lr")):
        with pytest.raises(SystemExit) as exit_info:
            main([str(path)])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and str(path) in err and expected in err and "Traceback" not in err


# Train-step and eval-step FLOPs at each paper configuration's own batch, from the official bench's formula.
OFFICIAL_FLOPS = {
    "sudoku-mlp-full": (2_734_224_900_096, 1_640_478_998_528),
    "sudoku-att-full": (3_048_387_444_736, 1_828_976_525_312),
    "hrm-sudoku-att": (2_345_799_909_376, 879_667_576_832),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_FLOPS))
def test_flop_count_matches_the_official_formula_numbers(name):
    setup = PAPER_SETUPS[name]
    flops = flop_count(setup.model, setup.seq_len, setup.vocab_size, setup.batch_size)
    assert (flops.train_step, flops.eval_act_step) == OFFICIAL_FLOPS[name]


@pytest.mark.parametrize("name", sorted(PAPER_SETUPS))
def test_paper_setups_and_flops_equal_the_official_bench(name):
    official = _official_bench()
    theirs = dict(official.CONFIGS[name], puzzle_emb_ndim=official.CONFIGS[name]["hidden_size"])
    setup = PAPER_SETUPS[name]
    assert official_bench_config(setup) == theirs
    ours = flop_count(setup.model, setup.seq_len, setup.vocab_size, 48)
    expected = official.flops(theirs, 48)
    assert (ours.train_step, ours.eval_act_step, ours.block_apps_forward, ours.block_apps_grad) == (
        expected["train_step_flops"], expected["eval_act_step_flops"], expected["block_apps_fwd_train"],
        expected["block_apps_grad"])


# ---- fast paths compute the official formulation ------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_linear_and_swiglu_equal_plain_autograd_bit_for_bit(dtype):
    """Cached casts and the gated-SiLU backward change no bit: forward, input and weight gradients."""
    torch.manual_seed(0)
    mlp = SwiGLU(24, 4.0)
    x = torch.randn(3, 5, 24).to(dtype).requires_grad_()
    grad = torch.randn(3, 5, 24).to(dtype)
    mine = mlp(x)
    mine.backward(grad)
    ours = (mine.detach(), x.grad.clone(), mlp.gate_up.weight.grad.clone(), mlp.down.weight.grad.clone())
    x.grad = None
    mlp.zero_grad()
    gate, up = F.linear(x, mlp.gate_up.weight.to(dtype)).chunk(2, dim=-1)  # the official SwiGLU
    reference = F.linear(F.silu(gate) * up, mlp.down.weight.to(dtype))
    reference.backward(grad)
    theirs = (reference.detach(), x.grad, mlp.gate_up.weight.grad, mlp.down.weight.grad)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert mlp.gate_up.weight.grad.dtype == torch.float32  # master gradients stay float32


def test_cached_cast_follows_in_place_weight_updates():
    layer = Linear(8, 4)
    x = torch.randn(2, 8, dtype=torch.bfloat16)
    first = layer(x)
    with cast_once():
        assert layer.weight_as(torch.bfloat16) is layer.weight_as(torch.bfloat16)  # cast once, reused
    with torch.no_grad():
        layer.weight.mul_(2.0)  # what an optimizer step does
    assert torch.equal(layer(x), F.linear(x, layer.weight.to(torch.bfloat16)))
    assert not torch.equal(layer(x), first)


def test_a_cast_made_in_inference_mode_never_reaches_training():
    """Evaluation under inference_mode between two training steps (the trainer without EMA)."""
    layer = Linear(8, 4)
    x = torch.randn(2, 8, dtype=torch.bfloat16)
    with torch.inference_mode():
        layer(x)
    layer(x.requires_grad_()).sum().backward()  # raises if the inference-mode cast were saved
    assert layer.weight.grad is not None


@pytest.mark.parametrize("shape", [(64, 48, 40), (7, 97, 33)])
def test_onednn_matmul_is_float32_exact_up_to_summation_order(shape):
    m, k, n = shape
    torch.manual_seed(0)
    a, b = torch.randn(m, k), torch.randn(n, k)
    exact = a.double() @ b.double().t()
    bound = 4 * k * torch.finfo(torch.float32).eps * (a.double().abs() @ b.double().abs().t())  # classic dot bound
    for product in (matmul_nt(a, b, onednn=True), matmul_nt(a.t().contiguous().t(), b.t().contiguous().t(), onednn=True)):
        assert product.dtype == torch.float32
        assert bool(((product.double() - exact).abs() <= bound).all())


def test_onednn_linear_gradients_match_autograd():
    torch.manual_seed(0)
    layer = Linear(40, 24)
    layer.onednn_float32 = True
    x = torch.randn(6, 5, 40, requires_grad=True)
    grad = torch.randn(6, 5, 24)
    layer(x).backward(grad)
    ours = (x.grad.clone(), layer.weight.grad.clone())
    x.grad, layer.weight.grad = None, None
    F.linear(x, layer.weight).backward(grad)
    assert torch.allclose(ours[0], x.grad, rtol=1e-5, atol=1e-6)
    assert torch.allclose(ours[1], layer.weight.grad, rtol=1e-5, atol=1e-5)


def test_cpu_matmul_setting_reaches_every_linear():
    cfg = ModelConfig(hidden_size=32, num_heads=2, puzzle_emb_ndim=32, cpu_matmul="onednn")
    model = RecursiveModel(cfg, seq_len=9, vocab_size=5, num_puzzle_identifiers=1)
    flags = {m.onednn_float32 for m in model.modules() if isinstance(m, Linear)}
    assert flags == {True}
    model.use_onednn_float32(False)
    assert {m.onednn_float32 for m in model.modules() if isinstance(m, Linear)} == {False}


@pytest.mark.parametrize("folder", ["trm_att_tiny", "trm_att_learned_tiny", "hrm_att_tiny"])
def test_onednn_float32_reproduces_the_attention_fixtures(folder):
    """oneDNN's float32 matmuls stay within the fixture tolerances where rounding is not amplified."""
    result = run_fixture(FIXTURES / folder, cpu_matmul="onednn")
    assert compare_fixture(result, torch.load(expected_file(FIXTURES / folder), weights_only=False)) == []


def test_default_matmul_reproduces_the_mlp_fixture_on_this_cpu():
    """Why `cpu_matmul` defaults to torch: trm_mlp_tiny amplifies any change of summation order past
    its tolerance, and torch's own float32 kernels are the ones the official code runs. (oneDNN
    broke it on the AMD EPYC where the fixture was made; on the Intel Xeon we replayed it on, MKL
    and oneDNN gave identical logits, so only the default is asserted on every CPU.)"""
    expected = torch.load(expected_file(FIXTURES / "trm_mlp_tiny"), weights_only=False)
    assert compare_fixture(run_fixture(FIXTURES / "trm_mlp_tiny"), expected) == []


def test_compiled_blocks_give_the_eager_bfloat16_bits():
    """OptimConfig.compile: inductor fuses each block but rounds every intermediate as eager does."""
    from trm.act import initial_carry, supervision_step

    cfg = ModelConfig(hidden_size=32, num_heads=2, l_layers=1, h_cycles=2, l_cycles=1, puzzle_emb_ndim=32,
                      puzzle_emb_len=1, halt_max_steps=2, forward_dtype="bfloat16")
    torch.manual_seed(0)
    model = RecursiveModel(cfg, seq_len=9, vocab_size=5, num_puzzle_identifiers=2).eval()
    batch = {"inputs": torch.randint(1, 5, (3, 9), dtype=torch.int32), "labels": torch.randint(1, 5, (3, 9)),
             "puzzle_identifiers": torch.tensor([0, 1, 1], dtype=torch.int32)}

    def logits():
        with torch.inference_mode():
            _, out = supervision_step(model, initial_carry(model, batch), batch, training=False)
        return out.logits

    eager = logits()
    model.compile()
    assert torch.equal(logits(), eager)


def test_performance_report_scores_each_row_against_its_target(tmp_path):
    spec = importlib.util.spec_from_file_location("make_performance_report",
                                                  Path(__file__).parents[2] / "scripts" / "make_performance_report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)

    def pair(ratio):
        official = {"train_samples_per_s": 10.0, "train_effective_cores": 1.0, "train_achieved_gflops": 50.0,
                    "peak_rss_mib": 900.0, "eval_samples_per_s": 2.0}
        ours = {"samples_per_s": 10.0 * ratio, "eff_cores": 1.0, "utilisation": 0.6, "matmul_ceiling_gflops": 100.0,
                "peak_rss_mib": 800.0, "warmup_s": 1.0, "batch_size": 16, "threads": 2,
                "eval": {"samples_per_s": 5.0, "batch_size": 16, "act_steps": 16, "act_steps_timed": 2}}
        return {"config": "sudoku-mlp-full", "dtype": "bfloat16", "pair": 0, "threads": 2, "batch_size": 16,
                "cpu_matmul": "torch", "compile": False, "omp_wait_policy": "PASSIVE", "our_threads": 2,
                "our_omp_wait_policy": "PASSIVE", "loadavg_before": [1.0], "official": official, "ours": ours,
                "train_ratio": ratio, "eval_ratio": 2.5}

    runs = tmp_path / "runs.jsonl"
    runs.write_text(json.dumps(pair(1.5)) + "\n" + json.dumps(pair(2.5)) + "\n")
    out = tmp_path / "performance.md"
    report.main(["--runs", str(runs), "--out", str(out)])
    text = out.read_text()
    assert "| sudoku-mlp-full | bfloat16 | 16 | oneDNN (bf16) | 10.00 | 20.00 | x2.00 (2: 1.50–2.50) |" in text
    assert "| 2.0x | yes | 60% (50%) | yes |" in text and "x2.50 | 2.0x | yes |" in text
