"""The training loop (trm-spec.md §3-4, the official pretrain.py), read top to bottom like nanoGPT.

    data -> model -> optimisers (AdamATan2 + sign-SGD) -> EMA -> resume?
    for each loader iteration (eval_interval epochs):
        for each batch: lr, one supervision step on the persistent carry, loss / global batch,
                        backward, all-reduce, both optimisers, EMA
        evaluate (the EMA copy), log, checkpoint

One optimizer update per batch; the carry of B slots lives for the whole run (halted slots take
the batch's example in their slot, the others keep theirs). The budget is the official
`int(epochs * total_groups * mean_puzzle_examples / global_batch)` updates, capped by max_steps.
A rerun on the same run_dir resumes from its newest intact checkpoint and ends, on CPU, with
exactly the metrics of an uninterrupted run.
"""
from __future__ import annotations

import logging
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from trm import distributed
from trm.act import initial_carry, supervision_step
from trm.checkpoint import load_checkpoint, save_checkpoint
from trm.config import TrainConfig
from trm.ema import EMA
from trm.errors import ResumeConfigMismatch, ResumeMismatch, ResumeWorldSizeMismatch  # noqa: F401 (ResumeMismatch: re-exported)
from trm.evaluate import evaluate
from trm.model import RecursiveModel
from trm.optim import AdamATan2, SignSGDEmbedding, lr_at
from trm.result import EvalResult, MetricsLog, RunResult, pick_best
from trm.seeding import run_seeds

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""progress(step, total_steps), called on rank 0 after every optimizer update."""


@dataclass
class Position:
    """Where the loop is; saved in every checkpoint."""

    step: int = 0
    """optimizer updates done"""
    iteration: int = 0
    """loader iteration in progress (each is eval_interval epochs, then an evaluation)"""
    batch_index: int = 0
    """batches of that iteration already consumed"""
    evaluations: list = field(default_factory=list)
    """EvalResult dicts so far"""
    wall_time_s: float = 0.0
    """time spent in earlier sessions of this run"""


def primary_metric(task: str) -> str:
    return "pass@2" if task == "arc" else "exact_accuracy"


def planned_steps(cfg: TrainConfig, total_groups: int, mean_puzzle_examples: float) -> int:
    """The official update budget, capped by `cfg.train.max_steps`."""
    t = cfg.train
    steps = int(t.epochs * total_groups * mean_puzzle_examples / t.global_batch_size)
    return min(steps, t.max_steps) if t.max_steps is not None else steps


def train(cfg: TrainConfig, run_dir: Path, device: str = "cpu", *, data_cache: Optional[Path] = None,
          progress: Optional[Progress] = None) -> RunResult:
    """Train `cfg` (resuming from `run_dir/checkpoint/` if present) and return the RunResult.

    Writes `run_dir/metrics.csv` (step,split,metric,value) as it goes and resumable checkpoints;
    under torchrun only rank 0 writes. data_cache: where processed datasets are cached (default
    `run_dir/data`). A non-finite loss stops the run with status 'failed' and the reason.
    """
    ctx = distributed.setup(device)
    try:
        result = _train(cfg, Path(run_dir), ctx, data_cache, progress)
    except BaseException:
        distributed.teardown(ctx)
        raise
    distributed.teardown(ctx, synchronise=True)
    return result


def _train(cfg: TrainConfig, run_dir: Path, ctx: distributed.Context, data_cache: Optional[Path],
           progress: Optional[Progress]) -> RunResult:
    started = time.monotonic()
    t = cfg.train
    if t.global_batch_size % ctx.world_size:
        raise ValueError(f"global_batch_size {t.global_batch_size} is not divisible by world size {ctx.world_size}")
    seeds = run_seeds(cfg.seed, ctx.rank)
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)

    # Data
    train_set, test_set, data_info = _build_data(cfg, data_cache or run_dir / "data", ctx)
    meta = train_set.meta
    total_steps = planned_steps(cfg, meta.total_groups, meta.mean_puzzle_examples)
    iterations = t.epochs // t.eval_interval

    # Model (rank 0's initial weights everywhere), then the per-rank random streams
    torch.manual_seed(seeds.model_init)
    model = RecursiveModel(cfg.model, seq_len=meta.seq_len, vocab_size=meta.vocab_size,
                           num_puzzle_identifiers=meta.num_puzzle_identifiers).to(ctx.device)
    distributed.broadcast_module(model)
    torch.manual_seed(seeds.torch_global)
    explore = torch.Generator(ctx.device).manual_seed(seeds.exploration)
    if t.compile:
        model.compile()

    # Optimisers and EMA
    adam = AdamATan2(model.parameters(), lr=0.0, betas=(t.beta1, t.beta2), weight_decay=t.weight_decay)
    sign_sgd = (SignSGDEmbedding(model.puzzle_emb, lr=0.0, weight_decay=t.puzzle_emb_weight_decay)
                if model.puzzle_emb is not None else None)
    ema = EMA(model, t.ema_rate) if t.ema else None
    arc = _arc_evaluator(cfg, train_set.root)

    # Resume
    metrics_log = MetricsLog(run_dir / "metrics.csv", enabled=ctx.is_main)
    position, carry = Position(), None
    # Rank 0 reads first (it sets damaged files aside), then the others read what it kept.
    saved = load_checkpoint(run_dir / "checkpoint") if ctx.is_main else None
    distributed.barrier()
    if not ctx.is_main:
        saved = load_checkpoint(run_dir / "checkpoint")
    if saved is not None:
        position, carry = _restore(saved, cfg, ctx, model, adam, sign_sgd, ema, arc, explore, metrics_log)
    else:
        metrics_log.truncate_to(0)

    def checkpoint() -> None:
        state = _snapshot(cfg, ctx, position, carry, model, adam, sign_sgd, ema, arc, explore, metrics_log,
                          position.wall_time_s + time.monotonic() - started)
        if ctx.is_main:
            save_checkpoint(run_dir / "checkpoint", state)

    def result(status: str = "completed", error: Optional[str] = None) -> RunResult:
        evaluations = tuple(EvalResult.from_dict(e) for e in position.evaluations)
        return RunResult(status=status, error=error, steps=position.step, total_steps=total_steps,
                         primary_metric=primary_metric(cfg.data.task), evaluations=evaluations,
                         final=evaluations[-1] if evaluations else None,
                         best=pick_best(evaluations, primary_metric(cfg.data.task)),
                         data=data_info, environment=_environment(ctx),
                         wall_time_s=position.wall_time_s + time.monotonic() - started)

    while position.iteration < iterations:
        model.train()
        batches = train_set.train_batches(t.global_batch_size, seed=seeds.loader, iteration=position.iteration,
                                          epochs_per_iter=t.eval_interval, rank=ctx.rank, world_size=ctx.world_size)
        for index, batch in enumerate(batches):
            if index < position.batch_index:
                continue  # consumed before the checkpoint we resumed from
            position.batch_index = index + 1
            updated = position.step < total_steps
            if updated:
                position.step += 1
                batch = {key: value.to(ctx.device) for key, value in batch.items()}
                if carry is None:
                    carry = initial_carry(model, batch)
                lr = lr_at(position.step, t.lr, t.lr_warmup_steps, total_steps, t.lr_min_ratio)
                emb_lr = lr_at(position.step, t.puzzle_emb_lr, t.lr_warmup_steps, total_steps, t.lr_min_ratio)
                carry, sums = train_step(model, carry, batch, adam=adam, sign_sgd=sign_sgd, lr=lr, emb_lr=emb_lr,
                                         explore=explore, global_batch_size=t.global_batch_size)
                if not math.isfinite(sums["loss"]):
                    reason = f"non-finite loss {sums['loss']} at step {position.step}"
                    log.error("run failed: %s", reason)
                    position.step -= 1  # that update was not applied
                    return result("failed", reason)
                metrics_log.write(position.step, "train", _train_metrics(sums, t.global_batch_size, lr))
                if progress is not None and ctx.is_main:
                    progress(position.step, total_steps)
            # Past the budget the official loop still draws batches and moves the EMA toward the
            # (now fixed) weights until the iteration ends; so do we.
            if ema is not None:
                ema.update(model)
            if updated and position.step % t.checkpoint_every == 0:
                checkpoint()

        # Evaluate the EMA copy (or the raw weights), log, checkpoint.
        eval_model = ema.ema_model(model) if ema is not None else model
        scores = evaluate(eval_model, test_set, batch_size=t.eval_batch_size or t.global_batch_size,
                          device=ctx.device, arc_evaluator=arc,
                          rank=ctx.rank, world_size=ctx.world_size)
        del eval_model
        epoch = (position.iteration + 1) * t.eval_interval
        position.evaluations.append(EvalResult(position.step, epoch, scores.metrics, scores.counts).to_dict())
        metrics_log.write(position.step, "test", scores.metrics)
        log.info("step %d epoch %d: %s", position.step, epoch, _summary(scores.metrics))
        position.iteration += 1
        position.batch_index = 0
        if position.step >= total_steps:
            position.iteration = iterations  # the remaining iterations would not update anything
        checkpoint()
    return result()


def train_step(model, carry, batch: dict, *, adam: AdamATan2, sign_sgd: Optional[SignSGDEmbedding], lr: float,
               emb_lr: float, explore: torch.Generator, global_batch_size: int):
    """One optimizer update: a supervision step on `carry`, backward of loss / global batch, both optimisers.

    batch: this rank's slice (inputs (B, S), labels (B, S), puzzle_identifiers (B,)) on the model's
    device. Returns the new carry and the step's metric sums over all ranks (floats, with 'loss').
    A non-finite loss skips the backward and the update (the caller stops the run).
    """
    carry, out = supervision_step(model, carry, batch, training=True, generator=explore)
    sums = _sum_step_metrics(out)
    if not math.isfinite(sums["loss"]):
        return carry, sums
    (out.loss / global_batch_size).backward()
    distributed.all_reduce_gradients(model)
    for group in adam.param_groups:
        group["lr"] = lr
    adam.step()
    adam.zero_grad(set_to_none=True)
    if sign_sgd is not None:
        sign_sgd.param_groups[0]["lr"] = emb_lr
        sign_sgd.step()
    return carry, sums


def _build_data(cfg: TrainConfig, cache: Path, ctx: distributed.Context):
    """Processed dataset (built once, by rank 0 first), its train/test views and a provenance dict."""
    from trm.data.dataset import PuzzleDataset
    from trm.data.prepare import prepare_dataset

    if ctx.is_main:
        root = prepare_dataset(cfg.data, Path(cache))
    distributed.barrier()
    if not ctx.is_main:
        root = prepare_dataset(cfg.data, Path(cache))
    train_set, test_set = PuzzleDataset(root, "train"), PuzzleDataset(root, "test")
    from trm.data.processed import read_build_info

    build = read_build_info(root) or {}
    info = {"task": cfg.data.task, "source": cfg.data.source, "processed_dir": str(root),
            "processed_hash": build.get("content_hash"), **_sizes(train_set, test_set)}
    if cfg.data.task == "arc":
        info["arc_pool_votes"] = cfg.train.eval_pool_votes
    return train_set, test_set, info


def _arc_evaluator(cfg: TrainConfig, dataset_root: Path):
    """ARC's pass@k scorer for the whole run: it pools votes across evaluations when
    cfg.train.eval_pool_votes (the official default), else scores each evaluation on its own."""
    if cfg.data.task != "arc":
        return None
    from trm.data.arc_eval import ArcEvaluator

    return ArcEvaluator(dataset_root, pool_votes=cfg.train.eval_pool_votes)


def _sizes(train_set, test_set) -> dict:
    meta = train_set.meta
    sizes = {"seq_len": meta.seq_len, "vocab_size": meta.vocab_size,
             "num_puzzle_identifiers": meta.num_puzzle_identifiers, "train_groups": meta.total_groups,
             "mean_puzzle_examples": meta.mean_puzzle_examples}
    for name, dataset in (("train", train_set), ("test", test_set)):
        examples = getattr(dataset, "num_examples", None)
        if examples is not None:
            sizes[f"{name}_examples"] = int(examples)
    return sizes


def _sum_step_metrics(out) -> dict:
    """The step's metric sums and loss, summed over the ranks, as Python floats."""
    names = sorted(out.metrics)
    values = torch.stack([out.metrics[k].detach().to(torch.float64) for k in names] + [out.loss.detach()])
    values = distributed.sum_over_ranks(values).tolist()  # on the device: nccl reduces CUDA tensors only
    return dict(zip(names + ["loss"], values))


def _train_metrics(sums: dict, global_batch_size: int, lr: float) -> dict:
    """Official normalisation: losses / global batch, other metrics / count of halted slots."""
    count = max(sums["count"], 1.0)
    out = {key: value / (global_batch_size if key.endswith("loss") else count)
           for key, value in sums.items() if key != "count"}
    out["count"] = sums["count"]
    out["lr"] = lr
    return out


def _summary(metrics: dict) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))


# ---- checkpoint state -------------------------------------------------------------------------

# What an ArcEvaluator accumulates between evaluations (pooled votes, round bookkeeping); the rest
# of it (ground truth, identifier names) is rebuilt from the dataset, so it is not saved.
_ARC_VOTE_STATE = ("votes", "rounds", "_round_closed")


def _snapshot(cfg, ctx, position, carry, model, adam, sign_sgd, ema, arc, explore, metrics_log, wall_time_s) -> dict:
    """Everything needed to continue bit for bit; per-rank parts are gathered to rank 0."""
    rank_state = {"carry": _to_cpu(carry.__dict__ if carry is not None else None),
                  "explore": explore.get_state(), "torch": torch.get_rng_state(),
                  "cuda": torch.cuda.get_rng_state(ctx.device) if ctx.device.type == "cuda" else None}
    ranks = distributed.gather_objects(rank_state)
    if not ctx.is_main:
        return {}
    return {
        "format": 1, "config_hash": cfg.config_hash(), "world_size": ctx.world_size,
        "position": dict(position.__dict__, wall_time_s=wall_time_s),
        "model": model.state_dict(),
        "adam": adam.state_dict(),
        "sign_sgd": sign_sgd.state_dict() if sign_sgd is not None else None,
        "ema": ema.state_dict() if ema is not None else None,
        "arc_votes": {k: arc.__dict__[k] for k in _ARC_VOTE_STATE} if arc is not None else None,
        "metrics_bytes": metrics_log.size(),
        "ranks": ranks,
    }


def _restore(saved, cfg, ctx, model, adam, sign_sgd, ema, arc, explore, metrics_log):
    if saved["config_hash"] != cfg.config_hash():
        raise ResumeConfigMismatch(f"checkpoint config {saved['config_hash']} differs from this run's "
                                   f"{cfg.config_hash()}; use a fresh run directory")
    if saved["world_size"] != ctx.world_size:
        raise ResumeWorldSizeMismatch(f"checkpoint was written by {saved['world_size']} processes, this run has "
                                      f"{ctx.world_size}")
    model.load_state_dict(saved["model"])
    adam.load_state_dict(saved["adam"])
    if sign_sgd is not None:
        sign_sgd.load_state_dict(saved["sign_sgd"])
    if ema is not None:
        ema.load_state_dict(saved["ema"])
    if arc is not None:
        arc.__dict__.update(saved["arc_votes"])
    mine = saved["ranks"][ctx.rank]
    explore.set_state(mine["explore"])
    torch.set_rng_state(mine["torch"])
    if mine["cuda"] is not None:
        torch.cuda.set_rng_state(mine["cuda"], ctx.device)
    carry = None
    if mine["carry"] is not None:
        from trm.act import Carry

        fields = {k: _to_device(v, ctx.device) for k, v in mine["carry"].items()}
        carry = Carry(**fields)
    metrics_log.truncate_to(saved["metrics_bytes"])
    position = Position(**saved["position"])
    log.info("resumed at step %d (iteration %d, batch %d)", position.step, position.iteration, position.batch_index)
    return position, carry


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    return obj


def _to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _environment(ctx: distributed.Context) -> dict:
    if ctx.device.type == "cuda":
        name = torch.cuda.get_device_name(ctx.device)
    else:
        name = _cpu_name()
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "device": name, "world_size": ctx.world_size, "threads": torch.get_num_threads(),
            "platform": sys.platform}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu: " + (platform.processor() or platform.machine())


def step_throughput(cfg: TrainConfig, *, seq_len: int, vocab_size: int, num_puzzle_identifiers: int = 1,
                    batch_size: Optional[int] = None, steps: int = 3, warmup: int = 1, device: str = "cpu") -> float:
    """Training samples per second of `train_step` (forward, backward, both optimisers, EMA).

    Random tokens (the cost does not depend on them), one process, the carry persisting across
    steps as in training. The first `warmup` steps are not timed. batch_size defaults to the
    config's global batch.
    """
    dev = torch.device(device)
    t = cfg.train
    batch_size = batch_size or t.global_batch_size
    torch.manual_seed(cfg.seed)
    model = RecursiveModel(cfg.model, seq_len=seq_len, vocab_size=vocab_size,
                           num_puzzle_identifiers=num_puzzle_identifiers).to(dev).train()
    adam = AdamATan2(model.parameters(), lr=0.0, betas=(t.beta1, t.beta2), weight_decay=t.weight_decay)
    sign_sgd = SignSGDEmbedding(model.puzzle_emb, lr=0.0) if model.puzzle_emb is not None else None
    ema = EMA(model, t.ema_rate) if t.ema else None
    explore = torch.Generator(dev).manual_seed(0)
    carry, started = None, 0.0
    for i in range(warmup + steps):
        if i == warmup:
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            started = time.perf_counter()
        batch = {"inputs": torch.randint(1, vocab_size, (batch_size, seq_len), dtype=torch.int32, device=dev),
                 "labels": torch.randint(1, vocab_size, (batch_size, seq_len), dtype=torch.int64, device=dev),
                 "puzzle_identifiers": torch.zeros(batch_size, dtype=torch.int32, device=dev)}
        carry = carry if carry is not None else initial_carry(model, batch)
        carry, _ = train_step(model, carry, batch, adam=adam, sign_sgd=sign_sgd, lr=t.lr, emb_lr=t.puzzle_emb_lr,
                              explore=explore, global_batch_size=batch_size)
        if ema is not None:
            ema.update(model)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return batch_size * steps / (time.perf_counter() - started)
