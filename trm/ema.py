"""Exponential moving average of the trainable parameters (docs/model-spec.md §4, official `ema=True`).

The shadow starts as a copy of the initial parameters and after every training batch becomes
`rate * shadow + (1 - rate) * weights`, with no bias correction and no warm-up. Buffers (the
puzzle-embedding table, H_init / L_init) are not averaged: the evaluated copy carries the current
raw buffers, as the official `ema_copy` does.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Shadow copies of `model`'s parameters that require grad, keyed by parameter name."""

    def __init__(self, model: nn.Module, rate: float):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"EMA rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """shadow <- rate * shadow + (1 - rate) * weights, for every tracked parameter."""
        for name, p in model.named_parameters():
            if name in self.shadow:
                self.shadow[name].mul_(self.rate).add_(p.detach(), alpha=1.0 - self.rate)

    @torch.no_grad()
    def ema_model(self, model: nn.Module) -> nn.Module:
        """A deep copy of `model` whose tracked parameters hold the shadow; buffers stay the current ones."""
        twin = copy.deepcopy(model)
        for name, p in twin.named_parameters():
            if name in self.shadow:
                p.copy_(self.shadow[name])
        return twin

    def state_dict(self) -> dict:
        return {"rate": self.rate, "shadow": {k: v.clone() for k, v in self.shadow.items()}}

    def load_state_dict(self, state: dict) -> None:
        if set(state["shadow"]) != set(self.shadow):
            raise ValueError("EMA state does not match the model's trainable parameters")
        self.rate = state["rate"]
        for name, value in state["shadow"].items():
            self.shadow[name].copy_(value)
