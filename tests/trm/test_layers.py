"""Layers of f: init statistics, RMSNorm, SwiGLU widths, RoPE, attention and the two block mixers."""
import math

import pytest
import torch

from trm.layers import (Attention, Block, Linear, RotaryEmbedding, SwiGLU, apply_rope, rms_norm, rotate_half,
                        swiglu_width, truncated_normal_)


@pytest.mark.parametrize("std", [1.0, 0.05])
def test_truncated_normal_has_the_requested_std(std):
    torch.manual_seed(0)
    x = truncated_normal_(torch.empty(400_000), std)
    assert float(x.std()) == pytest.approx(std, rel=5e-3)
    # truncated at two of the *underlying* std, 1.1368 * std
    assert float(x.abs().max()) <= 2.2737 * std * (1 + 1e-4)
    assert float(x.abs().max()) > 2.2 * std


def test_truncated_normal_std_zero_gives_zeros():
    assert torch.equal(truncated_normal_(torch.ones(5), 0.0), torch.zeros(5))


def test_linear_init_is_lecun_and_casts_to_the_input_dtype():
    torch.manual_seed(0)
    layer = Linear(400, 300)
    assert float(layer.weight.detach().std()) == pytest.approx(1 / math.sqrt(400), rel=0.02)
    assert layer.bias is None
    assert layer(torch.ones(2, 400, dtype=torch.bfloat16)).dtype == torch.bfloat16
    assert layer.weight.dtype == torch.float32


def test_rms_norm_is_weightless_float32_and_keeps_dtype():
    x = torch.tensor([[3.0, 4.0]])
    expected = x / math.sqrt((9 + 16) / 2 + 1e-5)
    assert torch.allclose(rms_norm(x, 1e-5), expected, atol=1e-7)
    y = rms_norm(torch.randn(4, 7, 32, dtype=torch.bfloat16) * 10, 1e-5)
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float().square().mean(-1), torch.ones(4, 7), atol=2e-2)


@pytest.mark.parametrize("width, expected", [(512, 1536), (97, 512), (81, 256), (916, 2560), (64, 256)])
def test_swiglu_width_rounds_up_to_256(width, expected):
    assert swiglu_width(width, 4.0) == expected
    mlp = SwiGLU(width, 4.0)
    assert tuple(mlp.gate_up.weight.shape) == (2 * expected, width)
    assert tuple(mlp.down.weight.shape) == (width, expected)


def test_swiglu_gate_is_the_first_half():
    mlp = SwiGLU(4, 4.0)  # I = 256
    with torch.no_grad():
        mlp.gate_up.weight.zero_()
        mlp.gate_up.weight[:256] = 1.0  # gate = sum(x), up = 0 -> output 0
    assert torch.equal(mlp(torch.ones(1, 4)), torch.zeros(1, 4))


def test_rotate_half_and_rope_at_position_zero():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert torch.equal(rotate_half(x), torch.tensor([-3.0, -4.0, 1.0, 2.0]))
    rope = RotaryEmbedding(head_dim=8, positions=5, theta=10000.0)
    q = torch.randn(2, 5, 3, 8)
    rotated = apply_rope(q, rope.cos, rope.sin)
    assert torch.allclose(rotated[:, 0], q[:, 0])  # angle 0
    assert torch.allclose(rotated.norm(dim=-1), q.norm(dim=-1), atol=1e-5)  # a rotation


def test_rope_scores_depend_only_on_relative_position():
    rope = RotaryEmbedding(head_dim=8, positions=10, theta=10000.0)
    torch.manual_seed(1)
    q, k = torch.randn(8), torch.randn(8)
    qs = apply_rope(q.expand(1, 10, 1, 8), rope.cos, rope.sin)[0, :, 0]
    ks = apply_rope(k.expand(1, 10, 1, 8), rope.cos, rope.sin)[0, :, 0]
    assert float(qs[3] @ ks[1]) == pytest.approx(float(qs[7] @ ks[5]), abs=1e-5)
    assert float(qs[3] @ ks[1]) != pytest.approx(float(qs[3] @ ks[2]), abs=1e-3)


def test_rope_tables_are_not_saved():
    assert RotaryEmbedding(head_dim=8, positions=4, theta=1e4).state_dict() == {}


def test_attention_without_positions_is_permutation_equivariant():
    torch.manual_seed(0)
    attention = Attention(hidden_size=16, num_heads=4)
    x = torch.randn(2, 6, 16)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    assert torch.allclose(attention(x, None)[:, perm], attention(x[:, perm], None), atol=1e-6)
    assert tuple(attention.qkv.weight.shape) == (48, 16)


@pytest.mark.parametrize("mixer", ["attention", "mlp"])
def test_block_output_is_rms_normalised(mixer):
    torch.manual_seed(0)
    block = Block(hidden_size=16, num_heads=2, expansion=4.0, positions=6, mixer=mixer, eps=1e-5)
    rope = RotaryEmbedding(8, 6, 1e4)
    y = block(torch.randn(3, 6, 16) * 5, rope)
    assert y.shape == (3, 6, 16)
    assert torch.allclose(y.square().mean(-1), torch.ones(3, 6), atol=1e-4)


def test_mlp_mixer_mixes_positions_and_normalises_over_them():
    torch.manual_seed(0)
    block = Block(hidden_size=16, num_heads=2, expansion=4.0, positions=6, mixer="mlp", eps=1e-5)
    assert tuple(block.mixer.gate_up.weight.shape) == (2 * 256, 6)  # a SwiGLU over the 6 positions
    h = torch.randn(2, 6, 16)
    mixed = h + block.mixer(h.transpose(1, 2)).transpose(1, 2)
    normed_over_positions = mixed / torch.sqrt(mixed.square().mean(1, keepdim=True) + 1e-5)
    expected = rms_norm(normed_over_positions + block.mlp(normed_over_positions), 1e-5)
    assert torch.allclose(block(h, None), expected, atol=1e-5)
