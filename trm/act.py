"""Deep supervision with adaptive halting (ACT): the carry and one supervision step (docs/model-spec.md §3).

The trainer keeps one `Carry` of B slots for the whole run and calls `supervision_step` once per
optimizer step with a fresh batch. Slots that halted at the previous step are reset to
H_init/L_init and take the batch's example in the same slot; the others keep their example and
state (the batch's example for those slots is discarded). Evaluation runs exactly N_sup steps.

    carry = initial_carry(model, batch)              # every slot "halted": all take the batch
    carry, out = supervision_step(model, carry, batch, training=True, generator=g)
    (out.loss / global_batch_size).backward()
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from trm.losses import IGNORE_LABEL, TOKEN_LOSSES, per_sequence_mean, q_bce
from trm.model import RecursiveModel


@dataclass
class Carry:
    """What persists between supervision steps, per slot b of a batch of B.

    z_H, z_L (B, P, D) compute dtype, detached; steps (B,) int32, steps taken on the current
    example; halted (B,) bool, the slot takes a new example at the next step; data: the slot's
    current example, the batch dict layout (inputs, labels, puzzle_identifiers).
    """

    z_H: torch.Tensor
    z_L: torch.Tensor
    steps: torch.Tensor
    halted: torch.Tensor
    data: dict[str, torch.Tensor]


@dataclass
class StepOutput:
    """Result of one supervision step.

    loss: float64 scalar with grad, SUM over all slots of lm + 0.5 * (q_halt + q_continue); divide by
    the global batch size before backward. metrics: un-reduced sums over the slots that halted
    and have a supervised token (the official ACTLossHead keys: count, accuracy, exact_accuracy,
    q_halt_accuracy, steps, lm_loss, q_halt_loss, plus q_continue_loss when a continue target was
    computed). logits (B, S, V), preds (B, S) int64, q_halt_logits / q_continue_logits (B,) are
    detached. all_halted: every slot halted (in eval: the last step was taken).
    """

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor]
    logits: torch.Tensor
    preds: torch.Tensor
    q_halt_logits: torch.Tensor
    q_continue_logits: torch.Tensor
    all_halted: bool


def initial_carry(model: RecursiveModel, batch: dict[str, torch.Tensor]) -> Carry:
    """A carry for batches shaped like `batch` in which every slot is halted (takes new data)."""
    size = batch["inputs"].shape[0]
    device = batch["inputs"].device
    z_H, z_L = model.initial_states(size, device)
    return Carry(z_H=z_H, z_L=z_L,
                 steps=torch.zeros(size, dtype=torch.int32, device=device),
                 halted=torch.ones(size, dtype=torch.bool, device=device),
                 data={key: torch.zeros_like(value) for key, value in batch.items()})


def supervision_step(model: RecursiveModel, carry: Carry, batch: dict[str, torch.Tensor], *, training: bool,
                     generator: Optional[torch.Generator] = None,
                     min_steps: Optional[torch.Tensor] = None) -> tuple[Carry, StepOutput]:
    """Refill halted slots from `batch`, run one model step, decide halting, compute the loss.

    training selects the halting rules (and must match `model.training`, which selects how the
    puzzle embedding behaves). In training a slot halts when its Q head says so (TRM: q_halt > 0;
    with `act_continue`: q_halt > q_continue) and, with probability `halt_exploration_prob`, not
    before a minimum step drawn uniformly from {2..N_sup} with `generator` (None: torch's global
    generator); step N_sup always halts. In eval every slot runs exactly N_sup steps.
    min_steps: those minimum steps (B,), drawn by the caller with `exploration_min_steps` instead
    (gradient accumulation draws them for the whole batch, then steps its micro-batches).
    """
    if training != model.training:
        raise ValueError(f"supervision_step(training={training}) on a model in "
                         f"{'training' if model.training else 'eval'} mode; call model.train() or model.eval()")
    cfg = model.cfg
    reset = carry.halted
    z_H, z_L = model.reset_states(reset, carry.z_H, carry.z_L)
    steps = torch.where(reset, 0, carry.steps)
    data = {key: torch.where(reset.view(-1, *[1] * (old.ndim - 1)), batch[key], old) for key, old in carry.data.items()}

    z_H, z_L, logits, q_halt, q_continue = model(z_H, z_L, data["inputs"], data["puzzle_identifiers"])

    with torch.no_grad():
        steps = steps + 1
        is_last = steps >= cfg.halt_max_steps
        halted = is_last
        target_continue = None
        if training and cfg.halt_max_steps > 1:
            halted = halted | (q_halt > q_continue if cfg.act_continue else q_halt > 0)
            if min_steps is None:
                min_steps = exploration_min_steps(cfg, steps, generator)
            halted = halted & (steps >= min_steps)
            if cfg.act_continue:
                # Q-learning target without replay or target network: one more model call on the new
                # carry and the same data (HRM; PQN-style bootstrapping).
                _, _, _, next_halt, next_continue = model(z_H, z_L, data["inputs"], data["puzzle_identifiers"])
                target_continue = torch.sigmoid(torch.where(is_last, next_halt, torch.maximum(next_halt, next_continue)))

    loss, metrics, preds = _loss_and_metrics(cfg.loss_type, logits, q_halt, q_continue, target_continue,
                                             data["labels"], halted, steps)
    new_carry = Carry(z_H=z_H, z_L=z_L, steps=steps, halted=halted, data=data)
    output = StepOutput(loss=loss, metrics=metrics, logits=logits.detach(), preds=preds,
                        q_halt_logits=q_halt.detach(), q_continue_logits=q_continue.detach(),
                        all_halted=bool(halted.all()))
    return new_carry, output


def exploration_min_steps(cfg, steps: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """(B,) int: a uniform draw from {2..N_sup} for the slots that explore, 0 for the others.

    Redrawn at every step, so exploration can only delay halting.
    """
    size = steps.shape[0]
    draw_device = generator.device if generator is not None else steps.device
    explore = torch.rand(size, generator=generator, device=draw_device) < cfg.halt_exploration_prob
    minimum = torch.randint(2, cfg.halt_max_steps + 1, (size,), generator=generator, device=draw_device)
    return (explore * minimum).to(steps.device)


def _loss_and_metrics(loss_type, logits, q_halt, q_continue, target_continue, labels, halted, steps):
    """The official ACTLossHead: summed losses and un-reduced metric sums over halted slots."""
    with torch.no_grad():
        preds = logits.argmax(-1)
        mask = labels != IGNORE_LABEL
        counts = mask.sum(-1)
        is_correct = mask & (preds == labels)
        seq_correct = is_correct.sum(-1) == counts
        valid = halted & (counts > 0)
        metrics = {
            "count": valid.sum(),
            "accuracy": torch.where(valid, (is_correct.to(torch.float32) / counts.clamp_min(1).unsqueeze(-1)).sum(-1), 0).sum(),
            "exact_accuracy": (valid & seq_correct).sum(),
            "q_halt_accuracy": (valid & ((q_halt >= 0) == seq_correct)).sum(),
            "steps": torch.where(valid, steps, 0).sum(),
        }
    lm_loss = per_sequence_mean(TOKEN_LOSSES[loss_type](logits, labels), labels).sum()
    q_halt_loss = q_bce(q_halt, seq_correct)
    metrics["lm_loss"] = lm_loss.detach()
    metrics["q_halt_loss"] = q_halt_loss.detach()
    q_loss = q_halt_loss
    if target_continue is not None:
        q_continue_loss = q_bce(q_continue, target_continue)
        metrics["q_continue_loss"] = q_continue_loss.detach()
        q_loss = q_halt_loss + q_continue_loss
    loss = (lm_loss + 0.5 * q_loss).to(torch.float64)
    return loss, metrics, preds
