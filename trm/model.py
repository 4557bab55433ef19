"""The recursive reasoning model: TRM (one network f) and HRM (f_L and f_H), docs/model-spec.md §1-2, §6.

`RecursiveModel.forward` is one supervision step of the paper's pseudocode: a few cycles of
latent recursion without gradient, one with gradient, then the heads. The deep-supervision loop
around it (carry, halting, losses) lives in `trm.act`.

Notation: x is the input embedding `e`, y the answer state `z_H`, z the latent `z_L`;
T = `h_cycles`, n = `l_cycles` (TRM); HRM's N = `h_cycles`, T = `l_cycles`. States are
(B, P, D) with P = K + S: K puzzle-embedding prefix positions, then the S grid tokens.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from trm.config import ModelConfig, check
from trm.layers import Block, Embedding, Linear, RotaryEmbedding, Stack, cast_once, truncated_normal_

# The official code scales (tokens + learned positions) by this rounded 1/sqrt(2); kept verbatim so
# that the learned-position variant matches it to the last bit.
_LEARNED_POS_SCALE = 0.707106781


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The compute dtype: 'auto' is bfloat16 on CUDA and float32 elsewhere (same maths)."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, name)


class PuzzleEmbedding(nn.Module):
    """Per-identifier learned vectors, trained by sign-SGD on the rows in the batch (trm.optim).

    `weights` (num_ids, ndim) float32 is a zero-initialised BUFFER: no Adam, no EMA, no weight
    decay from the main optimizer. In training mode with autograd on, a call copies the batch's
    rows into a fresh leaf `local_weights` (B, ndim, requires_grad) and records `local_ids` (B,),
    so the optimizer can read `local_weights.grad` after backward and update those rows only.
    Otherwise (eval, no_grad) it returns `weights[ids]` and leaves `local_weights` alone.
    """

    def __init__(self, num_ids: int, ndim: int):
        super().__init__()
        self.register_buffer("weights", torch.zeros(num_ids, ndim, dtype=torch.float32))
        self.local_weights: Optional[torch.Tensor] = None
        self.local_ids: Optional[torch.Tensor] = None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B,) int -> (B, ndim) float32."""
        rows = self.weights[ids]
        if not (self.training and torch.is_grad_enabled()):
            return rows
        self.local_weights = rows.detach().requires_grad_(True)
        self.local_ids = ids
        return self.local_weights


class RecursiveModel(nn.Module):
    """TRM or HRM with its input embedding, lm head and Q head (docs/model-spec.md §1-2, §6).

    Parameters are float32; activations use `cfg.forward_dtype`. `H_init` / `L_init` (D,) are
    fixed buffers drawn once (std 1, rounded to bfloat16 as the official bf16 runs store them) and
    saved with the model. The puzzle-embedding table is a buffer too, so `parameters()` is exactly
    what the paper counts.
    """

    def __init__(self, cfg: ModelConfig, *, seq_len: int, vocab_size: int, num_puzzle_identifiers: int):
        super().__init__()
        check(cfg)  # ConfigError (model.<field>) for a config made in code that loading would refuse
        self.cfg = cfg
        self.seq_len = seq_len
        # K prefix positions; with no puzzle embedding there is no prefix at all.
        self.prefix_len = cfg.prefix_len if cfg.puzzle_emb_ndim else 0
        positions = self.prefix_len + seq_len
        width = cfg.hidden_size
        self.embed_scale = math.sqrt(width)

        self.token_emb = Embedding(vocab_size, width, std=1.0 / self.embed_scale)
        self.puzzle_emb = PuzzleEmbedding(num_puzzle_identifiers, cfg.puzzle_emb_ndim) if cfg.puzzle_emb_ndim else None
        self.rope = RotaryEmbedding(cfg.head_dim, positions, cfg.rope_theta) if cfg.pos_encodings == "rope" else None
        self.pos_emb = Embedding(positions, width, std=1.0 / self.embed_scale) if cfg.pos_encodings == "learned" else None

        def stack(layers: int) -> Stack:
            return Stack([Block(hidden_size=width, num_heads=cfg.num_heads, expansion=cfg.expansion,
                                positions=positions, mixer=cfg.mixer, eps=cfg.rms_norm_eps) for _ in range(layers)])

        self.f_L = stack(cfg.l_layers)  # TRM: the one network f (or the z network); HRM: the low-level f_L
        self.f_H = stack(cfg.h_layers) if cfg.arch == "hrm" or cfg.separate_nets else None

        self.lm_head = Linear(width, vocab_size)
        self.q_head = Linear(width, 2, bias=True)
        with torch.no_grad():  # both Q logits start at -5: "do not halt" until learned otherwise
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)

        self.register_buffer("H_init", _bf16_rounded(truncated_normal_(torch.empty(width), 1.0)))
        self.register_buffer("L_init", _bf16_rounded(truncated_normal_(torch.empty(width), 1.0)))
        self.use_onednn_float32(cfg.cpu_matmul == "onednn")

    def compile(self, **kwargs) -> None:
        """torch.compile each block in place (OptimConfig.compile); the recursion loops stay eager.

        A block is what the recursion repeats (~40 calls per supervision step), so one compiled
        graph per grad mode serves every call, while compiling the whole forward would unroll
        every cycle into one huge graph. Inductor is asked to round every intermediate to the
        compute dtype as eager does (`emulate_precision_casts`): a compiled bfloat16 block gives
        the eager bits; in float32 fused reductions may sum in another order.
        """
        options = {"emulate_precision_casts": True, **kwargs.pop("options", {})}
        for stack in (self.f_L, self.f_H):
            if stack is not None:
                for block in stack.blocks:
                    block.compile(options=options, **kwargs)

    def use_onednn_float32(self, enabled: bool = True) -> None:
        """Send float32 CPU matmuls to oneDNN instead of MKL (see `trm.layers.Linear`).

        2-3x faster matmuls on AMD CPUs, the same maths in another summation order: results are
        no longer bit-identical to the official float32 code, only equal to rounding.
        """
        for module in self.modules():
            if isinstance(module, Linear):
                module.onednn_float32 = enabled

    @property
    def compute_dtype(self) -> torch.dtype:
        return resolve_dtype(self.cfg.forward_dtype, self.lm_head.weight.device)

    @property
    def state_shape(self) -> tuple[int, int]:
        """(P, D) of z_H and z_L per example."""
        return self.prefix_len + self.seq_len, self.cfg.hidden_size

    def initial_states(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_H, z_L), each (B, P, D) in the compute dtype, equal to H_init / L_init everywhere."""
        shape = (batch_size, *self.state_shape)
        dtype = self.compute_dtype
        return (self.H_init.to(device, dtype).expand(shape).clone(),
                self.L_init.to(device, dtype).expand(shape).clone())

    def reset_states(self, reset: torch.Tensor, z_H: torch.Tensor, z_L: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Replace the states of the slots where `reset` (B,) bool is set by H_init / L_init."""
        where = reset.view(-1, 1, 1)
        return (torch.where(where, self.H_init.to(z_H.dtype), z_H),
                torch.where(where, self.L_init.to(z_L.dtype), z_L))

    def embed_input(self, inputs: torch.Tensor, puzzle_identifiers: torch.Tensor) -> torch.Tensor:
        """x = sqrt(D) * [puzzle prefix ; token embeddings]: (B, S) tokens, (B,) ids -> (B, P, D)."""
        dtype = self.compute_dtype
        e = self.token_emb(inputs, dtype)
        if self.puzzle_emb is not None:
            rows = self.puzzle_emb(puzzle_identifiers).to(dtype)  # (B, ndim)
            rows = F.pad(rows, (0, self.prefix_len * self.cfg.hidden_size - rows.shape[-1]))
            e = torch.cat((rows.view(-1, self.prefix_len, self.cfg.hidden_size), e), dim=-2)
        if self.pos_emb is not None:
            e = _LEARNED_POS_SCALE * (e + self.pos_emb.weight.to(dtype))
        return self.embed_scale * e

    def forward(self, z_H: torch.Tensor, z_L: torch.Tensor, inputs: torch.Tensor, puzzle_identifiers: torch.Tensor):
        """One supervision step.

        z_H, z_L (B, P, D) compute dtype; inputs (B, S) int; puzzle_identifiers (B,) int.
        Returns (z_H, z_L) detached for the next step, logits (B, S, V) in the compute dtype (prefix
        positions dropped), and q_halt, q_continue (B,) float32 read from z_H at position 0.
        """
        with cast_once():
            x = self.embed_input(inputs, puzzle_identifiers)
            if self.cfg.arch == "trm":
                z_H, z_L = self._trm_recursion(z_H, z_L, x)
            else:
                z_H, z_L = self._hrm_recursion(z_H, z_L, x)
            logits = self.lm_head(z_H[:, self.prefix_len:])
            q = self.q_head(z_H[:, 0]).to(torch.float32)
        return z_H.detach(), z_L.detach(), logits, q[:, 0], q[:, 1]

    def _trm_recursion(self, z_H, z_L, x):
        """T-1 full cycles without gradient, then one with gradient (n+1 calls of f).

        With `one_step_gradient` the last cycle's first n-1 latent updates run without gradient
        too, so only the last z update and the y update are differentiated (HRM's 1-step gradient).
        """
        with torch.no_grad():
            for _ in range(self.cfg.h_cycles - 1):
                z_H, z_L = self._trm_cycle(z_H, z_L, x, self.cfg.l_cycles)
        if not self.cfg.one_step_gradient:
            return self._trm_cycle(z_H, z_L, x, self.cfg.l_cycles)
        with torch.no_grad():
            for _ in range(self.cfg.l_cycles - 1):
                z_L = self.f_L(z_L, z_H + x, self.rope)
        return self._trm_cycle(z_H, z_L, x, 1)

    def _trm_cycle(self, z_H, z_L, x, latent_updates: int):
        """`latent_updates` (n) updates z <- f(z + y + x), then the answer update y <- f(y + z).

        With `separate_nets` y is updated by f_H, else by the same network f (f_L) as z.
        """
        for _ in range(latent_updates):
            z_L = self.f_L(z_L, z_H + x, self.rope)
        answer_net = self.f_H if self.f_H is not None else self.f_L
        z_H = answer_net(z_H, z_L, self.rope)
        return z_H, z_L

    def _hrm_recursion(self, z_H, z_L, x):
        """N*T f_L calls and N f_H calls; the gradient flows through the last of each only."""
        calls_L = self.cfg.h_cycles * self.cfg.l_cycles
        with torch.no_grad():
            for i in range(1, calls_L):
                z_L = self.f_L(z_L, z_H + x, self.rope)
                if i % self.cfg.l_cycles == 0:  # every T low-level steps, one high-level step
                    z_H = self.f_H(z_H, z_L, self.rope)
        z_L = self.f_L(z_L, z_H + x, self.rope)
        z_H = self.f_H(z_H, z_L, self.rope)
        return z_H, z_L


def _bf16_rounded(t: torch.Tensor) -> torch.Tensor:
    """t with its values rounded to bfloat16, stored as float32 (exact, device-independent)."""
    return t.to(torch.bfloat16).to(torch.float32)
