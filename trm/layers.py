"""Building blocks of the TRM/HRM network f (docs/model-spec.md §2).

Every block is post-norm with a weightless RMSNorm and has no bias. Weights are kept in float32
("master" weights) and used in the dtype of the activations, so one module serves a float32 CPU
forward and a bfloat16 forward; the lower-precision copy is made once per weight update.

The float32 operation order follows the official code where it changes rounding (RMSNorm as
x * rsqrt(mean(x^2) + eps) in float32, one fused qkv projection fed to
`scaled_dot_product_attention`, RoPE in float32): the recursion amplifies rounding from one
supervision step to the next, and the official-equivalence fixture allows 1e-5 on the logits.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator, Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

# Standard deviation of N(0, 1) truncated to [-2, 2]: sqrt(1 - 4*phi(2) / (2*Phi(2) - 1)).
_TRUNCATED_UNIT_STD = math.sqrt(1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2.0 * math.pi) / math.erf(math.sqrt(2.0)))


# Which `cast_once` scope is open (0: none). Casts are cached per scope, never across scopes: a
# weight can be changed between two forwards in ways nothing can see (a write through `.data`,
# e.g. the start-up broadcast, leaves the version counter alone), but not during one.
_cast_scope = 0
_cast_scopes_opened = 0


@contextmanager
def cast_once() -> Iterator[None]:
    """Within this block each `Linear` casts its weight to a lower dtype once and reuses the cast.

    RecursiveModel.forward opens it around one supervision step (~40 calls of each block with the
    same weights); nested use joins the outer scope. No weight may be written inside it.
    """
    global _cast_scope, _cast_scopes_opened
    if _cast_scope:
        yield
        return
    _cast_scopes_opened += 1
    _cast_scope = _cast_scopes_opened
    try:
        yield
    finally:
        _cast_scope = 0


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


def _find_onednn_linear():
    """oneDNN's dense-layout linear (the op inductor emits for CPU linears), or None if this torch lacks it."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise.default
    except (AttributeError, RuntimeError):
        return None


_ONEDNN_LINEAR = _find_onednn_linear()


def matmul_nt(a: torch.Tensor, b: torch.Tensor, *, onednn: bool) -> torch.Tensor:
    """a (M, K) @ b (N, K)^T -> (M, N) in a's dtype; either operand may be a strided view.

    onednn: call oneDNN directly on CPU. torch sends float32 matmuls to MKL's sgemm, which on the
    AMD EPYC we measured runs 2-3x slower than oneDNN at the model's shapes (MKL does not take its
    AVX-512 path on AMD CPUs); torch's bfloat16 matmuls already run on oneDNN.
    """
    if onednn and _ONEDNN_LINEAR is not None and a.device.type == "cpu":
        return _ONEDNN_LINEAR(a, b, None, "none", [], "")
    return F.linear(a, b)


class _LinearFunction(torch.autograd.Function):
    """y = x W^T computed with `weight_c`, the weight already in x's dtype.

    The gradients are the products autograd forms for `F.linear(x, weight.to(x.dtype))`, in x's
    dtype, and the weight's is returned in the master weight's dtype: a bfloat16 model's float32
    master gradients still sum the ~15 uses of a weight per step in float32, as officially.
    """

    @staticmethod
    def forward(ctx, x, weight, weight_c, onednn: bool):
        x2 = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x2, weight_c)
        ctx.master_dtype, ctx.onednn = weight.dtype, onednn
        return matmul_nt(x2, weight_c, onednn=onednn).view(*x.shape[:-1], weight_c.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x2, weight_c = ctx.saved_tensors
        grad2 = grad.reshape(-1, grad.shape[-1])
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = matmul_nt(grad2, weight_c.t(), onednn=ctx.onednn).view(*grad.shape[:-1], weight_c.shape[1])
        if ctx.needs_input_grad[1]:
            grad_w = matmul_nt(grad2.t(), x2.t(), onednn=ctx.onednn).to(ctx.master_dtype)
        return grad_x, grad_w, None, None


class Linear(nn.Module):
    """y = x W^T (+ b), weight cast to x's dtype; LeCun truncated-normal init (std 1/sqrt(in)).

    In a lower compute dtype the cast of the float32 master weight is made once per `cast_once`
    scope (one model forward; a supervision step calls each block ~40 times with the same weights). In
    float32 the default is exactly `F.linear` (torch's kernels: bit for bit the official
    computation); `onednn_float32 = True` (ModelConfig.cpu_matmul "onednn") sends float32 CPU
    matmuls to oneDNN: 2-3x faster on AMD CPUs, the same maths in another summation order.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(truncated_normal_(torch.empty(out_features, in_features), 1.0 / math.sqrt(in_features)))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.onednn_float32 = False
        self._casts: dict[bool, tuple[tuple, torch.Tensor]] = {}  # by inference mode, see weight_as

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is not None:  # only the tiny Q head has a bias
            return F.linear(x, self.weight.to(x.dtype), self.bias.to(x.dtype))
        if torch.compiler.is_compiling() or (x.dtype == self.weight.dtype and not self.onednn_float32):
            return F.linear(x, self.weight.to(x.dtype))  # inductor picks its own matmul kernels
        return _LinearFunction.apply(x, self.weight, self.weight_as(x.dtype), self.onednn_float32 and x.dtype == torch.float32)

    def weight_as(self, dtype: torch.dtype) -> torch.Tensor:
        """The weight's values in `dtype`, detached: cast anew outside `cast_once`, cached inside it.

        The cache is keyed on the scope as well as on the storage and version counter, so a
        write that bypasses autograd (`weight.data.copy_`) between two forwards is always seen.
        A cast made under inference mode is an inference tensor, which autograd may not save, so
        evaluation keeps its own copy instead of handing it to the next training step.
        """
        weight = self.weight.detach()
        if weight.dtype == dtype:
            return weight
        if not _cast_scope:
            return weight.to(dtype)
        key = (dtype, weight.data_ptr(), weight._version, _cast_scope)
        inference = torch.is_inference_mode_enabled()
        cached = self._casts.get(inference)
        if cached is None or cached[0] != key:
            cached = self._casts[inference] = (key, weight.to(dtype))
        return cached[1]


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
        return self.down(_GatedSilu.apply(self.gate_up(x)))


class _GatedSilu(torch.autograd.Function):
    """silu(gate) * up from the fused projection [gate | up] (..., 2I) -> (..., I).

    The same element-wise operations as autograd's (so the same rounding), but the backward writes
    both halves of the gradient into one (..., 2I) tensor instead of concatenating two, and only
    the projection is kept for it (silu(gate) is recomputed).
    """

    @staticmethod
    def forward(ctx, gate_up):
        ctx.save_for_backward(gate_up)
        gate, up = gate_up.chunk(2, dim=-1)
        return F.silu(gate) * up

    @staticmethod
    def backward(ctx, grad):
        (gate_up,) = ctx.saved_tensors
        gate, up = gate_up.chunk(2, dim=-1)
        grad_gate_up = torch.empty_like(gate_up)
        grad_gate, grad_up = grad_gate_up.chunk(2, dim=-1)
        torch.mul(grad, F.silu(gate), out=grad_up)
        torch.ops.aten.silu_backward.grad_input(grad * up, gate, grad_input=grad_gate)
        return grad_gate_up


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
        qk, v = qkv.split((2 * self.num_heads, self.num_heads), dim=2)
        if rope is not None:  # q and k rotated together: the same element-wise maths in half the calls
            qk = apply_rope(qk, rope.cos[:positions], rope.sin[:positions])
        q, k = qk.split(self.num_heads, dim=2)  # each (B, P, H, head_dim)
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
