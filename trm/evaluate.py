"""Evaluation on the test split (docs/model-spec.md §7): every example runs all N_sup supervision steps.

Metrics are taken after the last step, summed over every test batch (and every rank) and divided
by the total count of real examples (padding rows have no supervised token and are not counted);
losses are divided by the count too. exact_accuracy also keeps its (correct, total) integers.
ARC's pass@k comes from `trm.data.arc_eval.ArcEvaluator`, fed with every test batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from trm import distributed
from trm.act import initial_carry, supervision_step


@dataclass(frozen=True)
class Scores:
    """One evaluation's numbers: metrics as fractions, counts as [correct, total]."""

    metrics: dict
    counts: dict


@torch.inference_mode()
def evaluate(model: nn.Module, test_set, *, batch_size: int, device: torch.device,
             arc_evaluator=None, rank: int = 0, world_size: int = 1) -> Scores:
    """Score `model` (left in eval mode) on `test_set.test_batches(batch_size)`.

    batch_size is the global eval batch (each rank takes its slice). With `arc_evaluator`, every
    batch's inputs, identifiers, predictions and q_halt logits are gathered to rank 0 and fed to
    `arc_evaluator.update`, and its `result()` (pass@k fractions and counts) is merged in on rank 0.
    Returns the same Scores on every rank for the per-example metrics; pass@k only on rank 0.
    """
    model.eval()
    n_sup = model.cfg.halt_max_steps
    sums: Optional[dict[str, torch.Tensor]] = None
    for batch in test_set.test_batches(batch_size, rank=rank, world_size=world_size):
        batch = {key: value.to(device) for key, value in batch.items()}
        carry = initial_carry(model, batch)
        for _ in range(n_sup):
            carry, out = supervision_step(model, carry, batch, training=False)
        step_sums = {key: value.detach().to(torch.float64) for key, value in out.metrics.items()}
        sums = step_sums if sums is None else {key: sums[key] + step_sums[key] for key in sums}
        if arc_evaluator is not None:
            gathered = [distributed.gather_rows(t) for t in
                        (batch["inputs"], batch["puzzle_identifiers"], out.preds, out.q_halt_logits)]
            if rank == 0:
                arc_evaluator.update(*[t.cpu() for t in gathered])
    if sums is None:
        raise ValueError("the test split yielded no batch")
    names = sorted(sums)
    totals = distributed.sum_over_ranks(torch.stack([sums[k] for k in names]))
    totals = dict(zip(names, totals.tolist()))
    count = totals.pop("count")
    metrics = {key: value / max(count, 1.0) for key, value in totals.items()}
    counts = {"exact_accuracy": [int(round(totals["exact_accuracy"])), int(round(count))]}
    if arc_evaluator is not None and rank == 0:
        pass_metrics, pass_counts = split_arc_result(arc_evaluator.result())
        metrics.update(pass_metrics)
        counts.update(pass_counts)
    return Scores(metrics=metrics, counts=counts)


def split_arc_result(result: dict) -> tuple[dict, dict]:
    """ArcEvaluator.result() -> ({'pass@k': fraction}, {'pass@k': [summed task score, tasks]})."""
    metrics = {key: float(value) for key, value in result.items() if key.startswith("pass@")}
    counts = {key: list(result["counts"][key]) for key in metrics}
    return metrics, counts


def evaluate_official(cfg, checkpoint: Path, device: str = "cpu", *, data_cache: Path) -> "EvalResult":
    """Score a published official checkpoint on `cfg`'s test split, without training.

    cfg.model must describe the checkpoint's architecture (trm.official maps the names and checks
    every shape); cfg.data names the test set. ARC runs a fresh evaluator (no pooled votes).
    """
    from trm.data.dataset import PuzzleDataset
    from trm.data.prepare import prepare_dataset
    from trm.official import load_official_checkpoint
    from trm.result import EvalResult

    root = prepare_dataset(cfg.data, Path(data_cache))
    test_set = PuzzleDataset(root, "test")
    meta = test_set.meta
    model = load_official_checkpoint(checkpoint, cfg.model, seq_len=meta.seq_len, vocab_size=meta.vocab_size,
                                     num_puzzle_identifiers=meta.num_puzzle_identifiers).to(device)
    arc = None
    if cfg.data.task == "arc":
        from trm.data.arc_eval import ArcEvaluator

        arc = ArcEvaluator(root, pool_votes=False, task_credit=cfg.train.eval_task_credit)
    scores = evaluate(model, test_set, batch_size=cfg.train.eval_batch_size or cfg.train.global_batch_size,
                      device=torch.device(device), arc_evaluator=arc)
    return EvalResult(step=0, epoch=0, metrics=scores.metrics, counts=scores.counts)
