"""Losses of deep supervision (docs/model-spec.md §3): token cross entropy and the Q-head BCE.

Token losses are returned per position (B, S) with ignored positions set to 0, so the caller
chooses the normalisation; `per_sequence_mean` is the official one (mean over each sequence's
supervised tokens, then a sum over the batch).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_LABEL = -100


def stablemax_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """log of stablemax over the last axis, in float64.

    s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0 (a tiny 1e-30 in that denominator, as
    officially); p_i = s(x_i) / sum_j s(x_j). Unlike softmax it grows linearly, so confident
    logits do not overflow or collapse to exact zeros ("grokking at the edge of stability").
    """
    x = logits.to(torch.float64)
    s = torch.where(x < 0, 1 / (1 - x + 1e-30), x + 1)
    return torch.log(s / s.sum(dim=-1, keepdim=True))


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log p(label) under stablemax: logits (..., V), labels (...) with -100 ignored -> (...) float64."""
    mask = labels != IGNORE_LABEL
    log_probs = stablemax_log_probs(logits)
    picked = log_probs.gather(-1, torch.where(mask, labels, 0).long().unsqueeze(-1)).squeeze(-1)
    return -torch.where(mask, picked, 0)


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Ordinary cross entropy in float32: logits (..., V), labels (...) -> (...), 0 where ignored."""
    flat = F.cross_entropy(logits.to(torch.float32).reshape(-1, logits.shape[-1]), labels.long().reshape(-1),
                           ignore_index=IGNORE_LABEL, reduction="none")
    return flat.view(labels.shape)


TOKEN_LOSSES = {"stablemax": stablemax_cross_entropy, "softmax": softmax_cross_entropy}


def per_sequence_mean(token_losses: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, S) token losses -> (B,): each sequence's sum / max(1, its supervised token count).

    A row with no supervised token (a padding row) contributes 0, not NaN.
    """
    counts = (labels != IGNORE_LABEL).sum(-1).clamp_min(1)
    return (token_losses / counts.unsqueeze(-1)).sum(-1)


def q_bce(q_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed BCE-with-logits of Q logits (B,) against targets (B,) in [0, 1] (bool allowed)."""
    return F.binary_cross_entropy_with_logits(q_logits, targets.to(q_logits.dtype), reduction="sum")
