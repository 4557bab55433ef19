"""Every random stream of a training run, derived from its one run seed.

`run_seeds(seed, rank)` is the only place seeds are made. Each stream gets its own child of a
`np.random.SeedSequence` (never Python's salted `hash()`), so streams are independent, the same
run seed always gives the same numbers on every machine, and seed 0 is as good as any other. The
one exception is the loader, which takes the run seed unchanged, as the official loader does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Fixed stream indices: changing one changes every run made after the change.
_MODEL_INIT, _EXPLORATION, _TORCH = 0, 2, 3


@dataclass(frozen=True)
class RunSeeds:
    """Seeds of one process of a run (32-bit, non-negative)."""

    model_init: int
    """torch.manual_seed before building the model; the same on every rank (rank 0's copy wins anyway)."""
    loader: int
    """training sampler; the loader seeds its Philox with loader + iteration index; same on every rank.
    It is the run seed itself, as in the official code, so seed 0 gives the official batch order."""
    exploration: int
    """torch.Generator of the ACT exploration draws; different per rank (each rank owns its slots)."""
    torch_global: int
    """torch's global generator after the model is built; different per rank (official seed + rank)."""


def run_seeds(seed: int, rank: int = 0) -> RunSeeds:
    """The seeds of process `rank` of the run with run seed `seed` (an integer >= 0)."""
    if seed is None or seed < 0 or rank < 0:
        raise ValueError(f"run seed and rank must be integers >= 0, got seed={seed} rank={rank}")

    def child(stream: int, per_rank: bool) -> int:
        key = (stream, rank) if per_rank else (stream,)
        return int(np.random.SeedSequence(entropy=int(seed), spawn_key=key).generate_state(1)[0])

    return RunSeeds(
        model_init=child(_MODEL_INIT, False),
        loader=int(seed),
        exploration=child(_EXPLORATION, True),
        torch_global=child(_TORCH, True),
    )
