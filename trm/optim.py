"""The two optimisers of a TRM/HRM run and their shared learning-rate schedule (docs/model-spec.md §4).

- `AdamATan2` updates every parameter (the network, its heads, H_init/L_init excepted since those
  are buffers): Adam whose m / (sqrt(v) + eps) is replaced by atan2(m, sqrt(v)), with decoupled
  weight decay applied before the update and no epsilon.
- `SignSGDEmbedding` updates the puzzle-embedding table (a buffer, not a parameter): only the
  rows whose identifiers were in the batch, by the sign of their summed gradient.
- `lr_at` is the schedule both use, each with its own base rate.
- `build_optimisers` makes the pair for a model from the `train:` settings.
"""
from __future__ import annotations

import math
from typing import Iterable, Optional

import torch
import torch.distributed as dist
from torch import nn

from trm.config import OptimConfig


def lr_at(step: int, base_lr: float, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """Learning rate of optimizer update number `step` (counted from 1, as the official code does).

    Linear warm-up `base_lr * step / warmup_steps` while step < warmup_steps, then a half cosine
    from base_lr down to `base_lr * min_ratio` at `total_steps`. `min_ratio = 1.0` (every Table-1
    run) makes it constant after warm-up.
    """
    if step < warmup_steps:
        return base_lr * step / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return base_lr * (min_ratio + max(0.0, (1.0 - min_ratio) * cosine))


class AdamATan2(torch.optim.Optimizer):
    """Adam with atan2 in place of the epsilon-guarded division (the `adam-atan2` package's update).

    Per parameter, at step t (from 1), learning rate lr, decay wd:
        p <- p * (1 - lr * wd)                                    decoupled, before the update
        m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
        p <- p - lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t))
    The bias correction of m sits outside atan2, so the first step is lr * sign(g) * 0.997 rather
    than lr * pi / 4; the update is bounded by lr * (pi/2) / (1 - b1^t) whatever the gradient scale.
    """

    def __init__(self, params: Iterable, *, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.95),
                 weight_decay: float = 0.0):
        if lr < 0 or weight_decay < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid AdamATan2 settings lr={lr} betas={betas} weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("AdamATan2 takes no closure")
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"]
                m, v, g = state["exp_avg"], state["exp_avg_sq"], p.grad
                p.mul_(1.0 - lr * wd)
                m.mul_(beta1).add_(g, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
                denom = v.sqrt().div_(math.sqrt(1.0 - beta2 ** t))
                p.add_(torch.atan2(m, denom), alpha=-lr / (1.0 - beta1 ** t))


def sign_sgd_rows(weights: torch.Tensor, ids: torch.Tensor, grads: torch.Tensor, *, lr: float,
                  weight_decay: float) -> None:
    """In place: for each distinct id, w[id] <- w[id] (1 - lr wd) - lr sign(sum of its rows' grads).

    weights (num_ids, ndim); ids (N,) integer; grads (N, ndim). Rows of `weights` whose id is not in
    `ids` are left exactly as they were (no decay either).
    """
    unique_ids, position = ids.long().unique(return_inverse=True)
    summed = torch.zeros(unique_ids.shape[0], grads.shape[1], dtype=grads.dtype, device=grads.device)
    summed.index_add_(0, position, grads)
    rows = weights[unique_ids]
    rows.mul_(1.0 - lr * weight_decay).add_(torch.sign(summed).to(rows.dtype), alpha=-lr)
    weights[unique_ids] = rows


class SignSGDEmbedding(torch.optim.Optimizer):
    """Sign-SGD on the puzzle-embedding rows present in the batch (official sparse embedding optimiser).

    `embedding` is the model's puzzle-embedding module: its `weights` buffer (num_ids, ndim) is what
    this optimiser changes; after a training backward it exposes the leaf `local_weights` (B, ndim),
    whose gradient this step reads, and `local_ids` (B,). Under torch.distributed the (ids, grads)
    of every rank are all-gathered first, so every rank applies the same update to its copy.
    """

    def __init__(self, embedding: nn.Module, *, lr: float = 1e-3, weight_decay: float = 0.0):
        if lr < 0 or weight_decay < 0:
            raise ValueError(f"invalid sign-SGD settings lr={lr} weight_decay={weight_decay}")
        self.embedding = embedding
        super().__init__([embedding.weights], dict(lr=lr, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("SignSGDEmbedding takes no closure")
        local = getattr(self.embedding, "local_weights", None)
        if local is None or local.grad is None:
            return
        grads, ids = local.grad, self.embedding.local_ids
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            grads, ids = _all_gather_rows(grads), _all_gather_rows(ids)
        group = self.param_groups[0]
        sign_sgd_rows(self.embedding.weights, ids, grads, lr=group["lr"], weight_decay=group["weight_decay"])
        local.grad = None


def build_optimisers(model: nn.Module, cfg: OptimConfig) -> tuple[AdamATan2, Optional[SignSGDEmbedding]]:
    """AdamATan2 over `model`'s parameters and sign-SGD over its puzzle embedding (None without one).

    Betas and weight decays come from `cfg`; both learning rates start at 0, since the schedule
    (`lr_at`) sets them before every update.
    """
    adam = AdamATan2(model.parameters(), lr=0.0, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    sign_sgd = (SignSGDEmbedding(model.puzzle_emb, lr=0.0, weight_decay=cfg.puzzle_emb_weight_decay)
                if model.puzzle_emb is not None else None)
    return adam, sign_sgd


def _all_gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate along dim 0 the same-shaped `tensor` of every rank, in rank order."""
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)
