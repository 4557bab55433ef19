"""Training-step and evaluation benchmark of our trainer, named like the official step bench.

    python -m trm.bench CONFIG [--batch-size B] [--dtype float32|bfloat16] [--threads N] [--steps N] [--eval]

prints one JSON line. CONFIG is a paper configuration of the official step bench
(`bench/official_step_bench.py` in the shared folder, `../shared` from the repository root:
sudoku-mlp-full, sudoku-att-full, maze-att-full, sudoku-mlp-small, hrm-sudoku-att) or a TrainConfig
YAML file, so ours and the official code can be timed side by side (scripts/bench_vs_official.py).
The harness adds the claims registry's profiles (`python -m audit.bench_setups PROFILE:CLAIM-ID`),
through `main(resolve=...)`: this module knows nothing of claims.

One training step is exactly what `trm.train` does per optimizer update: `trm.train.train_step`
(supervision step on the persistent carry, loss / B backward, AdamATan2 and sign-SGD, the metric
read-back) and the EMA update. FLOPs are counted analytically (matrix multiplies only, one
multiply-add = 2 FLOP) the way the official bench counts them, and the matmul ceiling is measured
in the same process, dtype and thread count, so `utilisation` compares like with like.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from trm.config import ModelConfig, OptimConfig, TrainConfig
from trm.host import available_cores, cpu_seconds, loadavg, peak_rss_mib, threads_for_current_load
from trm.layers import swiglu_width


@dataclass(frozen=True)
class BenchSetup:
    """A model, its data sizes and its optimiser settings, at one batch size."""

    name: str
    model: ModelConfig
    seq_len: int
    vocab_size: int
    batch_size: int
    optim: OptimConfig
    num_puzzle_identifiers: int = 1


# ---- configurations ---------------------------------------------------------------------------

# The official bench's paper configurations (config/arch/trm.yaml, hrm.yaml and the README
# commands): puzzle_emb_ndim = hidden_size, lr 1e-4 for both optimisers, weight decay 1.0 for
# both, betas (0.9, 0.95), EMA 0.999 (the README runs use ema=True).
_PAPER_OPTIM = OptimConfig(lr=1e-4, puzzle_emb_lr=1e-4, weight_decay=1.0, puzzle_emb_weight_decay=1.0,
                           beta1=0.9, beta2=0.95, ema=True, ema_rate=0.999)
_TRM = ModelConfig(arch="trm", hidden_size=512, num_heads=8, expansion=4.0, l_layers=2, h_layers=0, h_cycles=3,
                   l_cycles=6, puzzle_emb_ndim=512, puzzle_emb_len=16, halt_max_steps=16, halt_exploration_prob=0.1)
_SUDOKU = dict(seq_len=81, vocab_size=11)
PAPER_SETUPS = {
    "sudoku-mlp-full": BenchSetup("sudoku-mlp-full", replace(_TRM, mixer="mlp", pos_encodings="none"),
                                  batch_size=64, optim=_PAPER_OPTIM, **_SUDOKU),
    "sudoku-att-full": BenchSetup("sudoku-att-full", replace(_TRM, mixer="attention", pos_encodings="rope"),
                                  batch_size=64, optim=_PAPER_OPTIM, **_SUDOKU),
    "maze-att-full": BenchSetup("maze-att-full", replace(_TRM, mixer="attention", pos_encodings="rope", l_cycles=4),
                                seq_len=900, vocab_size=6, batch_size=8, optim=_PAPER_OPTIM),
    "sudoku-mlp-small": BenchSetup("sudoku-mlp-small", replace(_TRM, mixer="mlp", pos_encodings="none",
                                                               hidden_size=128, num_heads=4, puzzle_emb_ndim=128),
                                   batch_size=128, optim=_PAPER_OPTIM, **_SUDOKU),
    "hrm-sudoku-att": BenchSetup("hrm-sudoku-att", replace(_TRM, arch="hrm", mixer="attention", pos_encodings="rope",
                                                           h_cycles=2, l_cycles=2, h_layers=4, l_layers=4,
                                                           puzzle_emb_len=0, act_continue=True),
                                 batch_size=64, optim=_PAPER_OPTIM, **_SUDOKU),
}


def setup_from_config(name: str, cfg: TrainConfig) -> BenchSetup:
    """The bench setup of a training configuration: its model and optimiser settings and its global
    batch; the data sizes from its DataConfig (tokens = grid_size^2) with one puzzle identifier, as
    the official bench uses."""
    return BenchSetup(name, cfg.model, seq_len=cfg.data.seq_len, vocab_size=cfg.data.vocab_size,
                      batch_size=cfg.train.global_batch_size, optim=cfg.train)


def resolve_setup(name: str) -> BenchSetup:
    """A paper configuration by name, or a TrainConfig YAML file by path (*.yaml, *.yml).

    Raises KeyError naming the known choices for anything else; a YAML file that cannot be read
    raises trm.yamlio.YamlFileError, one that is no valid TrainConfig trm.schema.ConfigError.
    """
    if name in PAPER_SETUPS:
        return PAPER_SETUPS[name]
    if Path(name).suffix in (".yaml", ".yml"):
        from trm.yamlio import read_yaml

        return setup_from_config(name, TrainConfig.from_dict(read_yaml(name)))
    raise KeyError(f"unknown config {name!r}: expected one of {sorted(PAPER_SETUPS)} or a TrainConfig .yaml file")


def official_bench_config(setup: BenchSetup) -> dict:
    """The setup as a CONFIGS entry of the official step bench (its model-config keys, plus
    `puzzle_emb_ndim`, which that bench takes from --puzzle-emb-ndim)."""
    m = setup.model
    cfg = dict(arch=m.arch, H_cycles=m.h_cycles, L_cycles=m.l_cycles, H_layers=m.h_layers, L_layers=m.l_layers,
               hidden_size=m.hidden_size, expansion=m.expansion, num_heads=m.num_heads, pos_encodings=m.pos_encodings,
               halt_max_steps=m.halt_max_steps, halt_exploration_prob=m.halt_exploration_prob,
               mlp_t=m.mixer == "mlp", rms_norm_eps=m.rms_norm_eps, rope_theta=m.rope_theta,
               seq_len=setup.seq_len, vocab_size=setup.vocab_size,
               num_puzzle_identifiers=setup.num_puzzle_identifiers, batch_size=setup.batch_size,
               puzzle_emb_ndim=m.puzzle_emb_ndim)
    if m.arch == "trm":
        cfg.update(puzzle_emb_len=m.puzzle_emb_len, no_ACT_continue=not m.act_continue)
    return cfg


# ---- analytic FLOPs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FlopCount:
    """Matrix-multiply FLOPs of one training step and one evaluation ACT step, whole batch."""

    block_per_sample: int
    """one application of one block to one example"""
    block_apps_forward: int
    """block applications in a training forward (HRM: twice, for the Q-continue target)"""
    block_apps_grad: int
    """of which run with gradient (their backward costs twice the forward)"""
    train_step: int
    eval_act_step: int


def positions(cfg: ModelConfig, seq_len: int) -> int:
    """P = prefix positions + grid tokens, as the model lays out its states."""
    return seq_len + (cfg.prefix_len if cfg.puzzle_emb_ndim else 0)


def block_flops(cfg: ModelConfig, seq_len: int) -> int:
    """FLOPs of one block on one example (channel SwiGLU plus the token mixer)."""
    width, P = cfg.hidden_size, positions(cfg, seq_len)
    channel = P * 6 * width * swiglu_width(width, cfg.expansion)  # gate_up D->2I plus down I->D
    if cfg.mixer == "mlp":
        return channel + width * 6 * P * swiglu_width(P, cfg.expansion)
    projections = P * 8 * width * width  # qkv D->3D and out D->D
    attention = 4 * P * P * width  # QK^T and PV over all heads
    return channel + projections + attention


def flop_count(cfg: ModelConfig, seq_len: int, vocab_size: int, batch_size: int) -> FlopCount:
    """Analytic FLOPs, counted as the official step bench counts them (lm head over all P positions)."""
    block = block_flops(cfg, seq_len)
    if cfg.arch == "trm":
        grad = (cfg.l_cycles + 1) * cfg.l_layers
        forward = eval_forward = cfg.h_cycles * grad
    else:
        grad = cfg.l_layers + cfg.h_layers
        eval_forward = cfg.h_cycles * cfg.l_cycles * cfg.l_layers + cfg.h_cycles * cfg.h_layers
        forward = 2 * eval_forward  # the Q-continue target runs the model once more, without grad
    head = 2 * positions(cfg, seq_len) * cfg.hidden_size * vocab_size
    return FlopCount(block_per_sample=block, block_apps_forward=forward, block_apps_grad=grad,
                     train_step=batch_size * (block * (forward + 2 * grad) + 3 * head),
                     eval_act_step=batch_size * (block * eval_forward + head))


# ---- measurement helpers ----------------------------------------------------------------------

def matmul_ceiling_gflops(dtype: torch.dtype, shapes: list[tuple[int, int, int]], *,
                          min_seconds: float = 0.3) -> dict[str, float]:
    """Best median GFLOP/s over (M, K, N) shapes of x (M, K) @ W (N, K)^T, in this process's threads.

    Two kernels: `F.linear` (what torch picks: MKL for float32, oneDNN for bfloat16) and oneDNN
    called directly (the model's `cpu_matmul: onednn`). Returns {"torch": ..., "onednn": ...,
    "best": ...}. Each shape and kernel: two warm-up calls, then >= 3 timed calls and `min_seconds`.
    """
    from trm.layers import matmul_nt

    kernels = {"torch": lambda x, w: F.linear(x, w), "onednn": lambda x, w: matmul_nt(x, w, onednn=True)}
    best = {name: 0.0 for name in kernels}
    for m, k, n in shapes:
        x, w = torch.randn(m, k, dtype=dtype), torch.randn(n, k, dtype=dtype)
        for name, kernel in kernels.items():
            for _ in range(2):
                kernel(x, w)
            times, end = [], time.perf_counter() + min_seconds
            while len(times) < 3 or time.perf_counter() < end:
                start = time.perf_counter()
                kernel(x, w)
                times.append(time.perf_counter() - start)
            best[name] = max(best[name], 2.0 * m * k * n / statistics.median(times) / 1e9)
    best["best"] = max(best.values())
    return best


def ceiling_shapes(setup: BenchSetup) -> list[tuple[int, int, int]]:
    """The model's channel SwiGLU matmuls at this batch, and a square GEMM (whichever runs fastest)."""
    width = setup.model.hidden_size
    inner = swiglu_width(width, setup.model.expansion)
    rows = setup.batch_size * positions(setup.model, setup.seq_len)
    return [(rows, width, 2 * inner), (rows, inner, width), (1024, 1024, 1024)]


# ---- the step ---------------------------------------------------------------------------------

def synthetic_batches(setup: BenchSetup, count: int, *, seed: int = 1, device: str = "cpu") -> list[dict]:
    """Random batches shaped like the loader's (timing does not depend on token values)."""
    gen = torch.Generator().manual_seed(seed)
    B, S, V = setup.batch_size, setup.seq_len, setup.vocab_size
    return [{"inputs": torch.randint(1, V, (B, S), generator=gen, dtype=torch.int32).to(device),
             "labels": torch.randint(1, V, (B, S), generator=gen, dtype=torch.int64).to(device),
             "puzzle_identifiers": torch.zeros(B, dtype=torch.int32).to(device)} for _ in range(count)]


class Trainer:
    """The trainer's per-update work on one model: `trm.train.train_step` then the EMA update."""

    def __init__(self, setup: BenchSetup, *, dtype: str, device: str = "cpu", compile: bool = False, seed: int = 0):
        from trm.ema import EMA
        from trm.model import RecursiveModel
        from trm.optim import build_optimisers

        torch.manual_seed(seed)
        t = setup.optim
        self.setup = setup
        self.model = RecursiveModel(replace(setup.model, forward_dtype=dtype), seq_len=setup.seq_len,
                                    vocab_size=setup.vocab_size,
                                    num_puzzle_identifiers=setup.num_puzzle_identifiers).to(device)
        if compile:
            self.model.compile()
        self.adam, self.sign_sgd = build_optimisers(self.model, t)  # the learning rates are set every step
        self.ema = EMA(self.model, t.ema_rate) if t.ema else None
        self.explore = torch.Generator(device).manual_seed(seed + 2)
        self.carry = None

    def step(self, batch: dict) -> dict:
        """One optimizer update; returns the step's metric sums (floats, with 'loss')."""
        from trm.train import train_step

        t = self.setup.optim
        self.model.train()
        self.carry, sums = train_step(self, batch, lr=t.lr, emb_lr=t.puzzle_emb_lr,
                                      global_batch_size=self.setup.batch_size)
        if self.ema is not None:
            self.ema.update(self.model)
        return sums

    def evaluate(self, batch: dict, act_steps: Optional[int] = None) -> list[float]:
        """An evaluation on one batch (model.eval(), inference mode, from a fresh carry): the wall
        seconds of each of its first `act_steps` supervision steps (default all N_sup)."""
        from trm.act import initial_carry, supervision_step

        self.model.eval()
        times = []
        with torch.inference_mode():
            carry = initial_carry(self.model, batch)
            for _ in range(act_steps or self.model.cfg.halt_max_steps):
                start = time.perf_counter()
                carry, _ = supervision_step(self.model, carry, batch, training=False)
                times.append(time.perf_counter() - start)
        return times


def _timed(fn, count: int) -> tuple[list[float], float]:
    """Wall seconds of `count` calls of fn(i), and CPU-seconds per wall-second over them."""
    times, cpu0, wall0 = [], cpu_seconds(), time.perf_counter()
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return times, (cpu_seconds() - cpu0) / max(time.perf_counter() - wall0, 1e-9)


def profile_step(fn, *, top: int = 15) -> list[dict]:
    """The `top` operators of one call of fn() by self CPU time: op, calls, self_ms, self_pct."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [dict(op=e.key, calls=e.count, self_ms=round(e.self_cpu_time_total / 1e3, 2),
                 self_pct=round(100.0 * e.self_cpu_time_total / total, 1)) for e in rows]


def run_bench(setup: BenchSetup, *, dtype: str = "float32", threads: Optional[int] = None, steps: int = 5,
              warmup: int = 2, eval: bool = False, eval_steps: Optional[int] = None,
              eval_batch_size: Optional[int] = None, compile: bool = False, profile: int = 0,
              ceiling_seconds: float = 0.3, seed: int = 0) -> dict:
    """Time `steps` training updates (after `warmup`), optionally an evaluation pass; a JSON-able dict.

    eval: time an evaluation (N_sup supervision steps, no grad) of one batch of `eval_batch_size`
    (default the training batch); with `eval_steps` < N_sup only that many steps are run and the
    pass time is their median times N_sup (every evaluation step computes the same thing).
    profile > 0: also run one more training step under torch.profiler and list its `profile` top
    operators by self CPU time.
    """
    torch.set_num_threads(threads or available_cores())  # 0 / None: every core this process may use
    batches = synthetic_batches(setup, 4, seed=seed + 1)
    trainer = Trainer(setup, dtype=dtype, compile=compile, seed=seed)
    compile_start = time.perf_counter()
    losses = [trainer.step(batches[i % 4])["loss"] for i in range(warmup)]
    warmup_s = time.perf_counter() - compile_start
    load_before = loadavg()
    times, cores = _timed(lambda i: losses.append(trainer.step(batches[(warmup + i) % 4])["loss"]), steps)
    load_after = loadavg()
    flops = flop_count(setup.model, setup.seq_len, setup.vocab_size, setup.batch_size)
    median = statistics.median(times)
    out = dict(config=setup.name, dtype=dtype, batch_size=setup.batch_size, threads=torch.get_num_threads(),
               compiled=compile, cpu_matmul=setup.model.cpu_matmul,
               omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"), steps=steps, warmup_s=warmup_s,
               ms_per_step_median=median * 1e3, ms_per_step_min=min(times) * 1e3, ms_per_step_max=max(times) * 1e3,
               ms_per_step_all=[round(t * 1e3, 1) for t in times],
               samples_per_s=setup.batch_size / median, gflop_per_step=flops.train_step / 1e9,
               achieved_gflops=flops.train_step / median / 1e9, eff_cores=cores,
               loss_finite=all(math.isfinite(x) for x in losses), loadavg_before_after=[load_before, load_after])
    if eval:
        n_sup = setup.model.halt_max_steps
        eval_setup = replace(setup, batch_size=eval_batch_size or setup.batch_size)
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        per_step = trainer.evaluate(synthetic_batches(eval_setup, 1, seed=seed + 3)[0], min(eval_steps or n_sup, n_sup))
        eval_cores = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
        pass_s = statistics.median(per_step) * n_sup  # as the official bench extrapolates a partial pass
        eval_flops = flop_count(setup.model, setup.seq_len, setup.vocab_size, eval_setup.batch_size).eval_act_step
        out["eval"] = dict(batch_size=eval_setup.batch_size, act_steps=n_sup, act_steps_timed=len(per_step),
                           ms_per_act_step_median=statistics.median(per_step) * 1e3, ms_per_pass=pass_s * 1e3,
                           samples_per_s=eval_setup.batch_size / pass_s,
                           achieved_gflops=eval_flops * n_sup / pass_s / 1e9, eff_cores=eval_cores)
    if profile:
        out["profile_top_self_cpu"] = profile_step(lambda: trainer.step(batches[0]), top=profile)
    out["peak_rss_mib"] = peak_rss_mib()  # before the ceiling's buffers
    ceilings = matmul_ceiling_gflops(getattr(torch, dtype), ceiling_shapes(setup), min_seconds=ceiling_seconds)
    ceiling = ceilings["best"]
    out["matmul_ceiling_gflops"] = ceiling
    out["matmul_ceiling_by_kernel"] = ceilings
    out["utilisation"] = out["achieved_gflops"] / ceiling
    if eval:
        out["eval"]["utilisation"] = out["eval"]["achieved_gflops"] / ceiling
    return out


def main(argv: Optional[list[str]] = None, *, resolve: Callable[[str], BenchSetup] = resolve_setup,
         prog: str = "python -m trm.bench",
         config_help: str = f"{', '.join(PAPER_SETUPS)} or a TrainConfig .yaml file") -> None:
    """The command line: parse `argv`, look CONFIG up with `resolve` (which raises KeyError for an
    unknown name), run the bench and print its one JSON line. Bad input exits with code 2."""
    from trm.schema import ConfigError
    from trm.yamlio import YamlFileError

    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help=config_help)
    parser.add_argument("--batch-size", type=int, default=None, help="override the config's batch")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="compute dtype")
    parser.add_argument("--threads", default=None,
                        help="torch threads: N, or 'auto' for the cores the current load leaves (default: the CPUs available)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed training steps first")
    parser.add_argument("--eval", action="store_true", help="also time an evaluation pass (N_sup steps, no grad)")
    parser.add_argument("--eval-steps", type=int, default=None, help="time only this many evaluation steps, extrapolate")
    parser.add_argument("--eval-batch-size", type=int, default=None, help="evaluation batch (default: the training batch)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the blocks (OptimConfig.compile)")
    parser.add_argument("--cpu-matmul", choices=["torch", "onednn"], default=None,
                        help="float32 CPU matmul kernels (ModelConfig.cpu_matmul; default: the config's)")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="profile one more training step and list its TOP operators")
    parser.add_argument("--ceiling-seconds", type=float, default=0.3, help="timing per shape of the matmul ceiling")
    args = parser.parse_args(argv)
    try:
        setup = resolve(args.config)
    except KeyError as err:
        parser.exit(2, f"error: {err.args[0]}\n")
    except YamlFileError as err:
        parser.exit(2, f"error: {err}\n")
    except ConfigError as err:
        parser.exit(2, f"error: {args.config}: {err}\n")
    if args.batch_size:
        setup = replace(setup, batch_size=args.batch_size)
    if args.cpu_matmul:
        setup = replace(setup, model=replace(setup.model, cpu_matmul=args.cpu_matmul))
    if args.threads == "auto":
        threads = threads_for_current_load()
    else:
        threads = int(args.threads) if args.threads else None
    result = run_bench(setup, dtype=args.dtype, threads=threads, steps=args.steps, warmup=args.warmup,
                       eval=args.eval, eval_steps=args.eval_steps, eval_batch_size=args.eval_batch_size,
                       compile=args.compile, profile=args.profile, ceiling_seconds=args.ceiling_seconds)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
