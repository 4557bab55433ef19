"""The training loop (docs/model-spec.md §3-4, the official pretrain.py), read top to bottom like nanoGPT.

    data -> state (model, AdamATan2 + sign-SGD, EMA; trm.state) -> resume?
    for each loader iteration (eval_interval epochs):
        for each batch: lr, one supervision step on the persistent carry, loss / global batch,
                        backward, all-reduce, both optimisers, EMA
        evaluate (the EMA copy; with eval_raw_weights the raw weights too), log, checkpoint

One optimizer update per batch; the carry of B slots lives for the whole run (halted slots take
the batch's example in their slot, the others keep theirs). The budget is the official
`int(epochs * total_groups * mean_puzzle_examples / global_batch)` updates, capped by max_steps.
A rerun on the same run_dir resumes from its newest intact checkpoint and ends, on CPU, with
exactly the metrics of an uninterrupted run.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

import torch

from trm import distributed, host
from trm.act import Carry, exploration_min_steps, initial_carry, supervision_step
from trm.config import OptimConfig, TrainConfig, check
from trm.schema import ConfigError
from trm.evaluate import evaluate
from trm.optim import lr_at
from trm.result import EvalResult, MetricsLog, RunResult, pick_best
from trm.seeding import run_seeds
from trm.state import ResumeMismatch, TrainState  # ResumeMismatch: callers catch it as trm.train's
from trm.tracking import Tracker, Tracking, open_tracker

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""progress(step, total_steps), called on rank 0 after every optimizer update."""


def primary_metric(task: str) -> str:
    return "pass@2" if task == "arc" else "exact_accuracy"


def planned_steps(cfg: TrainConfig, total_groups: int, mean_puzzle_examples: float) -> int:
    """The official update budget, capped by `cfg.train.max_steps`."""
    t = cfg.train
    steps = int(t.epochs * total_groups * mean_puzzle_examples / t.global_batch_size)
    return min(steps, t.max_steps) if t.max_steps is not None else steps


def train(cfg: TrainConfig, run_dir: Path, device: str = "cpu", *, data_cache: Optional[Path] = None,
          progress: Optional[Progress] = None, collective_timeout_s: Optional[float] = None,
          tracking: Optional[Tracking] = None) -> RunResult:
    """Train `cfg` (resuming from `run_dir/checkpoint/` if present) and return the RunResult.

    Writes `run_dir/metrics.csv` (step,split,metric,value) as it goes and resumable checkpoints;
    under torchrun only rank 0 writes. data_cache: where processed datasets are cached (default
    `run_dir/data`). collective_timeout_s: how long a rank waits for the others in a collective
    (trm.distributed.setup). tracking: also log every metrics.csv row elsewhere (trm.tracking; rank 0
    only; not part of the config). A non-finite loss stops the run with status 'failed' and the reason.
    """
    started = time.monotonic()  # the run's wall time includes its data build, as it always has
    check(cfg)  # a config built in code meets the same rules as one loaded from a claims file
    run_dir = Path(run_dir)
    # Every process prepares the data before it joins the process group: the cache's file lock
    # lets one build while the others wait on the lock, not in a collective whose timeout a full
    # ARC build (~4 minutes) could exceed.
    data = _build_data(cfg, Path(data_cache or run_dir / "data"))
    ctx = distributed.setup(device, timeout_s=collective_timeout_s)
    tracker = Tracker()
    try:
        tracker = open_tracker(tracking, run_dir, enabled=ctx.is_main)
        result = _train(cfg, run_dir, ctx, data, progress, started, tracker)
    except BaseException:
        distributed.teardown(ctx)
        raise
    finally:
        tracker.close()
    distributed.teardown(ctx, synchronise=True)
    return result


def _train(cfg: TrainConfig, run_dir: Path, ctx: distributed.Context, data: tuple,
           progress: Optional[Progress], started: float, tracker: Tracker) -> RunResult:
    t = cfg.train
    if t.global_batch_size % ctx.world_size:
        raise ValueError(f"global_batch_size {t.global_batch_size} is not divisible by world size {ctx.world_size}")
    if (t.global_batch_size // ctx.world_size) % t.grad_accum_steps:
        raise ConfigError("train.grad_accum_steps", f"must divide the per-process batch {t.global_batch_size} / "
                          f"{ctx.world_size} = {t.global_batch_size // ctx.world_size}, got {t.grad_accum_steps}")
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)

    train_set, test_set, data_info = data
    total_steps = planned_steps(cfg, train_set.meta.total_groups, train_set.meta.mean_puzzle_examples)
    iterations = t.epochs // t.eval_interval
    loader_seed = run_seeds(cfg.seed, ctx.rank).loader

    # State: fresh, or where the newest checkpoint left it
    state = TrainState.build(cfg, train_set, ctx)
    metrics_log = MetricsLog(run_dir / "metrics.csv", enabled=ctx.is_main)
    state.restore(run_dir / "checkpoint", metrics_log)
    pos = state.position

    def log_metrics(step: int, split: str, metrics: dict) -> None:
        metrics_log.write(step, split, metrics)
        tracker.log(step, split, metrics)

    def wall_time_s() -> float:
        return pos.wall_time_s + time.monotonic() - started

    def result(status: str = "completed", error: Optional[str] = None) -> RunResult:
        evaluations = tuple(EvalResult.from_dict(e) for e in pos.evaluations)
        metric = primary_metric(cfg.data.task)
        return RunResult(status=status, error=error, steps=pos.step, total_steps=total_steps, primary_metric=metric,
                         evaluations=evaluations, final=evaluations[-1] if evaluations else None,
                         best=pick_best(evaluations, metric), data=data_info, environment=_environment(ctx, t),
                         wall_time_s=wall_time_s())

    while pos.iteration < iterations:
        state.model.train()
        batches = train_set.train_batches(t.global_batch_size, seed=loader_seed, iteration=pos.iteration,
                                          epochs_per_iter=t.eval_interval, rank=ctx.rank, world_size=ctx.world_size)
        for index, batch in enumerate(batches):
            if index < pos.batch_index:
                continue  # consumed before the checkpoint we resumed from
            pos.batch_index = index + 1
            updated = pos.step < total_steps
            if updated:
                pos.step += 1
                batch = {key: value.to(ctx.device) for key, value in batch.items()}
                lr = lr_at(pos.step, t.lr, t.lr_warmup_steps, total_steps, t.lr_min_ratio)
                emb_lr = lr_at(pos.step, t.puzzle_emb_lr, t.lr_warmup_steps, total_steps, t.lr_min_ratio)
                state.carry, sums = train_step(state, batch, lr=lr, emb_lr=emb_lr,
                                               global_batch_size=t.global_batch_size, accum_steps=t.grad_accum_steps)
                if not math.isfinite(sums["loss"]):
                    reason = f"non-finite loss {sums['loss']} at step {pos.step}"
                    log.error("run failed: %s", reason)
                    pos.step -= 1  # that update was not applied
                    return result("failed", reason)
                log_metrics(pos.step, "train", _train_metrics(sums, t.global_batch_size, lr))
                if progress is not None and ctx.is_main:
                    progress(pos.step, total_steps)
            # Past the budget the official loop still draws batches and moves the EMA toward the
            # (now fixed) weights until the iteration ends; so do we.
            if state.ema is not None:
                state.ema.update(state.model)
            if updated and pos.step % t.checkpoint_every == 0:
                state.save(run_dir / "checkpoint", metrics_log, wall_time_s())

        # Evaluate the EMA copy (or the raw weights; with eval_raw_weights both), log, checkpoint.
        evaluation = _evaluate(state, test_set, cfg, epoch=(pos.iteration + 1) * t.eval_interval)
        pos.evaluations.append(evaluation.to_dict())
        log_metrics(pos.step, "test", evaluation.metrics)
        if evaluation.raw is not None:
            log_metrics(pos.step, "test_raw", evaluation.raw.metrics)
        log.info("step %d epoch %d: %s", pos.step, evaluation.epoch, _summary(evaluation.metrics))
        pos.iteration += 1
        pos.batch_index = 0
        if pos.step >= total_steps:
            pos.iteration = iterations  # the remaining iterations would not update anything
        state.save(run_dir / "checkpoint", metrics_log, wall_time_s())
    return result()


def train_step(state: TrainState, batch: dict, *, lr: float, emb_lr: float, global_batch_size: int,
               accum_steps: int = 1):
    """One optimizer update: a supervision step on `state.carry`, backward of loss / global batch, both optimisers.

    state: reads model, carry (None: start from `batch`), adam, sign_sgd and explore; the weights
    and optimiser moments change in place. batch: this rank's slice (inputs (B, S), labels (B, S),
    puzzle_identifiers (B,)) on the model's device; lr, emb_lr: this update's AdamATan2 and
    sign-SGD rates; accum_steps: k micro-batches of B / k slots each (`_accumulate`). Returns the
    next carry and the step's metric sums over all ranks (floats, with 'loss'). A non-finite loss
    skips the update (the caller stops the run).
    """
    carry = state.carry if state.carry is not None else initial_carry(state.model, batch)
    if accum_steps > 1:
        carry, sums = _accumulate(state, carry, batch, accum_steps, global_batch_size)
        if not math.isfinite(sums["loss"]):
            state.adam.zero_grad(set_to_none=True)
            return carry, sums
    else:
        carry, out = supervision_step(state.model, carry, batch, training=True, generator=state.explore)
        sums = _sum_step_metrics([out])
        if not math.isfinite(sums["loss"]):
            return carry, sums
        (out.loss / global_batch_size).backward()
    distributed.all_reduce_gradients(state.model)
    for group in state.adam.param_groups:
        group["lr"] = lr
    state.adam.step()
    state.adam.zero_grad(set_to_none=True)
    if state.sign_sgd is not None:
        state.sign_sgd.param_groups[0]["lr"] = emb_lr
        state.sign_sgd.step()
    return carry, sums


def _accumulate(state: TrainState, carry: Carry, batch: dict, accum_steps: int, global_batch_size: int):
    """The supervision step and backward of `train_step` in `accum_steps` micro-batches; the gradients add up.

    Micro-batch i owns slots [i B/k, (i+1) B/k) of the persistent carry: it refills, steps and halts
    them exactly as the whole batch would (the model treats slots independently), so the loss sum,
    the gradients and the next carry are the large batch's up to float rounding. The exploration
    draws are made once for all B slots, as one supervision step draws them, so the explore stream
    (and every later halting decision) stays that of a run without accumulation. Each micro-batch's
    puzzle-embedding rows and gradients are kept and handed to sign-SGD together.
    """
    model = state.model
    size = batch["inputs"].shape[0]
    min_steps = exploration_min_steps(model.cfg, carry.steps, state.explore) if model.cfg.halt_max_steps > 1 else None
    carries, outs, rows = [], [], []
    for part in torch.arange(size).chunk(accum_steps):
        slots = slice(int(part[0]), int(part[-1]) + 1)
        micro, out = supervision_step(model, _carry_slots(carry, slots), {k: v[slots] for k, v in batch.items()},
                                      training=True, generator=state.explore,
                                      min_steps=min_steps[slots] if min_steps is not None else None)
        (out.loss / global_batch_size).backward()  # frees this micro-batch's activations
        if model.puzzle_emb is not None:
            rows.append((model.puzzle_emb.local_ids, model.puzzle_emb.local_weights))
        carries.append(micro)
        outs.append(out)
    if rows:
        embedding = model.puzzle_emb
        embedding.local_ids = torch.cat([ids for ids, _ in rows])
        embedding.local_weights = torch.cat([weights.detach() for _, weights in rows]).requires_grad_(True)
        embedding.local_weights.grad = torch.cat([weights.grad for _, weights in rows])
    return _join_carries(carries), _sum_step_metrics(outs)


def _carry_slots(carry: Carry, slots: slice) -> Carry:
    return Carry(z_H=carry.z_H[slots], z_L=carry.z_L[slots], steps=carry.steps[slots], halted=carry.halted[slots],
                 data={key: value[slots] for key, value in carry.data.items()})


def _join_carries(carries: list[Carry]) -> Carry:
    return Carry(z_H=torch.cat([c.z_H for c in carries]), z_L=torch.cat([c.z_L for c in carries]),
                 steps=torch.cat([c.steps for c in carries]), halted=torch.cat([c.halted for c in carries]),
                 data={key: torch.cat([c.data[key] for c in carries]) for key in carries[0].data})


def _evaluate(state: TrainState, test_set, cfg: TrainConfig, epoch: int) -> EvalResult:
    """Score `state.eval_model()` on the test split; the copy is dropped before training goes on.

    With `eval_raw_weights` (an EMA run) the raw weights are scored next, into the result's `raw`:
    evaluation draws no random numbers and changes no weight, so training and the EMA scores are
    those of a run without it.
    """
    t = cfg.train

    def score(model: torch.nn.Module, arc_evaluator) -> EvalResult:
        scores = evaluate(model, test_set, batch_size=t.eval_batch_size or t.global_batch_size,
                          device=state.ctx.device, arc_evaluator=arc_evaluator,
                          rank=state.ctx.rank, world_size=state.ctx.world_size)
        return EvalResult(state.position.step, epoch, scores.metrics, scores.counts)

    evaluation = score(state.eval_model(), state.arc)
    if t.eval_raw_weights:  # ARC: the raw weights pool their votes in their own scorer
        evaluation = replace(evaluation, raw=score(state.model, state.arc_raw))
    return evaluation


def _build_data(cfg: TrainConfig, cache: Path):
    """Processed dataset (built once: by whichever process takes the cache's lock first), its
    train/test views and a provenance dict. Needs no process group."""
    from trm.data.dataset import PuzzleDataset
    from trm.data.prepare import absent_train_groups, prepare_dataset

    root = prepare_dataset(cfg.data, cache)
    train_set, test_set = PuzzleDataset(root, "train"), PuzzleDataset(root, "test")
    from trm.data.processed import read_build_info

    build = read_build_info(root) or {}
    info = {"task": cfg.data.task, "source": cfg.data.source, "processed_dir": str(root),
            "processed_hash": build.get("content_hash"), **_sizes(train_set, test_set)}
    if cfg.data.task == "arc":
        info["arc_pool_votes"] = cfg.train.eval_pool_votes
        absent = absent_train_groups(build)  # e.g. ConceptARC missing: the run is not the paper's setup
        if absent is not None:
            info["arc_absent"] = absent
    return train_set, test_set, info


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


def _sum_step_metrics(outs: list) -> dict:
    """The step's metric sums and loss (over its micro-batches' StepOutputs), summed over the ranks, as floats."""
    names = sorted(outs[0].metrics)
    parts = [torch.stack([out.metrics[k].detach().to(torch.float64) for k in names] + [out.loss.detach()])
             for out in outs]
    values = torch.stack(parts).sum(0)  # exactly the one step's values without accumulation
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


def _environment(ctx: distributed.Context, t: OptimConfig) -> dict:
    """host.environment plus the examples each device ran per forward (the per-rank batch / grad_accum_steps)."""
    name = torch.cuda.get_device_name(ctx.device) if ctx.device.type == "cuda" else host.cpu_name()
    micro_batch = t.global_batch_size // ctx.world_size // t.grad_accum_steps
    return {**host.environment(name, ctx.world_size), "micro_batch_size": micro_batch}
