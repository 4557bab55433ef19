"""Building blocks of the TRM/HRM network f (trm-spec.md §2).

Every block is post-norm with a weightless RMSNorm and has no bias. Weights are kept in float32
("master" weights) and cast to the dtype of the activations at each call, so one module serves a
float32 CPU forward and a bfloat16 GPU forward; a weight already in that dtype is used as is.

The float32 operation order follows the official code where it changes rounding (RMSNorm as
x * rsqrt(mean(x^2) + eps) in float32, one fused qkv projection fed to
`scaled_dot_product_attention`, RoPE in float32): the recursion amplifies rounding from one
supervision step to the next, and the official-equivalence fixture allows 1e-5 on the logits.
"""
from __future__ import annotations

import math
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

# Standard deviation of N(0, 1) truncated to [-2, 2]: sqrt(1 - 4*phi(2) / (2*Phi(2) - 1)).
_TRUNCATED_UNIT_STD = math.sqrt(1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2.0 * math.pi) / math.erf(math.sqrt(2.0)))


def truncated_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """Fill `tensor` in place, JAX-style: a normal truncated at ±2 of its own std, rescaled so that
    the *result* has standard deviation `std` (torch's `trunc_normal_(std=s)` gives less than s).

    Equivalently: N(0, (1.1368 std)^2) clipped to ±2.2737 std. `std == 0` gives zeros.
    """
    with torch.no_grad():
        if std == 0:
            return tensor.zero_()
        nn.init.trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0)
        return tensor.mul_(std / _TRUNCATED_UNIT_STD)


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Weightless RMSNorm over the last axis, computed in float32 and cast back to x's dtype."""
    x32 = x.to(torch.float32)
    variance = x32.square().mean(-1, keepdim=True)
    return (x32 * torch.rsqrt(variance + eps)).to(x.dtype)


def swiglu_width(in_features: int, expansion: float) -> int:
    """Hidden width I of a SwiGLU: round(expansion * in * 2/3) rounded up to a multiple of 256.

    512 -> 1536 (expansion 4); token mixing over P = 97 positions -> 512, P = 81 -> 256.
    """
    return 256 * math.ceil(round(expansion * in_features * 2 / 3) / 256)


class Linear(nn.Module):
    """y = x W^T (+ b), weight cast to x's dtype; LeCun truncated-normal init (std 1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(truncated_normal_(torch.empty(out_features, in_features), 1.0 / math.sqrt(in_features)))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight.to(x.dtype), bias)


class Embedding(nn.Module):
    """A lookup table (num, dim) with truncated-normal init of the given std, cast at use."""

    def __init__(self, num: int, dim: int, *, std: float):
        super().__init__()
        self.weight = nn.Parameter(truncated_normal_(torch.empty(num, dim), std))

    def forward(self, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """ids (...) int -> (..., dim) in `dtype`."""
        return F.embedding(ids, self.weight.to(dtype))


class SwiGLU(nn.Module):
    """down(silu(gate) * up) with one fused gate_up projection: in -> 2I -> in (gate first)."""

    def __init__(self, in_features: int, expansion: float):
        super().__init__()
        width = swiglu_width(in_features, expansion)
        self.gate_up = Linear(in_features, 2 * width)
        self.down = Linear(width, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class RotaryEmbedding(nn.Module):
    """cos/sin tables (positions, head_dim) for RoPE, "rotate-half" layout, float32.

    Angles [p * inv_freq, p * inv_freq] with inv_freq_i = theta^(-2i / head_dim). The tables are
    non-persistent buffers: rebuilt by the constructor, never saved in a checkpoint.
    """

    def __init__(self, head_dim: int, positions: int, theta: float):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(positions, dtype=torch.float32), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[a, b] -> [-b, a] over the two halves of the last axis."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, P, H, head_dim) by the tables (P, head_dim), in float32, cast back."""
    x32 = x.to(cos.dtype)
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)  # broadcast over heads
    return (x32 * cos + rotate_half(x32) * sin).to(x.dtype)


class Attention(nn.Module):
    """Non-causal multi-head self-attention: fused qkv (D -> 3D, q|k|v blocks), RoPE, SDPA, out."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.qkv = Linear(hidden_size, 3 * hidden_size)
        self.out = Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, rope: Optional[RotaryEmbedding]) -> torch.Tensor:
        """x (B, P, D) -> (B, P, D)."""
        batch, positions, width = x.shape
        qkv = self.qkv(x).view(batch, positions, 3 * self.num_heads, self.head_dim)
        q, k, v = qkv.split(self.num_heads, dim=2)  # each (B, P, H, head_dim)
        if rope is not None:
            q = apply_rope(q, rope.cos[:positions], rope.sin[:positions])
            k = apply_rope(k, rope.cos[:positions], rope.sin[:positions])
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, P, head_dim) for SDPA
        mixed = F.scaled_dot_product_attention(q, k, v)
        return self.out(mixed.transpose(1, 2).reshape(batch, positions, width))


class Block(nn.Module):
    """Post-norm block: h <- N(h + Mix(h)); h <- N(h + SwiGLU(h)); N is the weightless RMSNorm.

    mixer "attention": self-attention over positions. mixer "mlp" (the official `mlp_t`): a SwiGLU
    along the position axis, i.e. on the transposed (B, D, P) states, RMS-normalised over P.
    """

    def __init__(self, *, hidden_size: int, num_heads: int, expansion: float, positions: int,
                 mixer: Literal["attention", "mlp"], eps: float):
        super().__init__()
        self.mixer_kind = mixer
        if mixer == "attention":
            self.mixer = Attention(hidden_size, num_heads)
        else:
            self.mixer = SwiGLU(positions, expansion)
        self.mlp = SwiGLU(hidden_size, expansion)
        self.eps = eps

    def forward(self, h: torch.Tensor, rope: Optional[RotaryEmbedding]) -> torch.Tensor:
        """h (B, P, D) -> (B, P, D)."""
        if self.mixer_kind == "attention":
            h = rms_norm(h + self.mixer(h, rope), self.eps)
        else:
            t = h.transpose(1, 2)  # (B, D, P): mix positions, normalise over P
            h = rms_norm(t + self.mixer(t), self.eps).transpose(1, 2)
        return rms_norm(h + self.mlp(h), self.eps)


class Stack(nn.Module):
    """A network f: input injection (a sum) followed by a stack of blocks; no outer residual."""

    def __init__(self, blocks: list[Block]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, h: torch.Tensor, injection: torch.Tensor, rope: Optional[RotaryEmbedding]) -> torch.Tensor:
        """f(h + injection); h, injection (B, P, D) -> (B, P, D)."""
        h = h + injection
        for block in self.blocks:
            h = block(h, rope)
        return h
