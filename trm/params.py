"""Parameter counts of a model configuration, as the paper's Table 1 reports them (docs/model-spec.md §5.3)."""
from __future__ import annotations

import torch

from trm.config import ModelConfig
from trm.model import RecursiveModel


def count_parameters(cfg: ModelConfig, *, seq_len: int, vocab_size: int, num_puzzle_identifiers: int = 1) -> int:
    """Number of trainable values of the model, built on the meta device (nothing is allocated).

    The puzzle-embedding table is a buffer and is not counted, as in the paper (for ARC-AGI-1 it
    holds ~449M values, trained by sign-SGD but not "parameters"); H_init / L_init are fixed buffers.
    """
    with torch.device("meta"):
        model = RecursiveModel(cfg, seq_len=seq_len, vocab_size=vocab_size,
                               num_puzzle_identifiers=num_puzzle_identifiers)
    return sum(p.numel() for p in model.parameters())
