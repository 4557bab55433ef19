import copy
import math

import pytest
import torch

from trm.optim import AdamATan2, SignSGDEmbedding, lr_at, sign_sgd_rows


def test_adam_atan2_two_step_anchor():
    # docs/model-spec.md §9: theta0=1, lr=0.1, wd=0.1, betas (0.9, 0.95), gradients 0.5 then -0.25.
    theta = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = AdamATan2([theta], lr=0.1, betas=(0.9, 0.95), weight_decay=0.1)
    expected = [0.8903313475, 0.8546143117]
    for grad, want in zip([0.5, -0.25], expected):
        theta.grad = torch.tensor([grad], dtype=torch.float64)
        opt.step()
        assert theta.item() == pytest.approx(want, abs=1e-10)


def test_adam_atan2_first_step_is_scale_free_and_decays_every_parameter():
    # The first step is lr * sign(g) * atan2(1, 1/sqrt(1-b2)) * 1/(1-b1) ~ 0.997 lr; gradient scale irrelevant.
    for scale in (1e-6, 1.0, 1e6):
        p = torch.nn.Parameter(torch.tensor([2.0, -3.0]))
        opt = AdamATan2([p], lr=0.01, betas=(0.9, 0.95), weight_decay=1.0)
        p.grad = torch.tensor([scale, -scale])
        opt.step()
        step = 0.01 / 0.1 * math.atan2(0.1, 1.0)
        assert p.tolist() == pytest.approx([2.0 * 0.99 - step, -3.0 * 0.99 + step], rel=1e-6)


def test_adam_atan2_state_dict_round_trip():
    p = torch.nn.Parameter(torch.ones(3))
    opt = AdamATan2([p], lr=0.1, weight_decay=0.0)
    p.grad = torch.tensor([1.0, -2.0, 0.5])
    opt.step()
    twin_p = torch.nn.Parameter(p.detach().clone())
    twin = AdamATan2([twin_p], lr=0.1, weight_decay=0.0)
    twin.load_state_dict(copy.deepcopy(opt.state_dict()))  # as if read back from a file
    for o, q in ((opt, p), (twin, twin_p)):
        q.grad = torch.tensor([0.3, 0.3, -0.3])
        o.step()
    assert torch.equal(p, twin_p)


@pytest.mark.parametrize("step,expected", [
    (1, 1e-4 * 1 / 2000), (1000, 0.5e-4), (1999, 1e-4 * 1999 / 2000), (2000, 1e-4), (65100, 1e-4),
])
def test_lr_constant_after_warmup_with_min_ratio_one(step, expected):
    assert lr_at(step, 1e-4, 2000, 65100, 1.0) == pytest.approx(expected, rel=1e-12)


def test_lr_cosine_to_floor():
    assert lr_at(10, 1.0, 10, 110, 0.1) == pytest.approx(1.0)
    assert lr_at(60, 1.0, 10, 110, 0.1) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_at(110, 1.0, 10, 110, 0.1) == pytest.approx(0.1)
    assert lr_at(500, 1.0, 0, 100, 0.0) == pytest.approx(0.0, abs=1e-12)  # past the end: floor, never negative
    assert lr_at(1, 1.0, 0, 100, 0.0) == pytest.approx(math.cos(math.pi * 0.01) * 0.5 + 0.5)


def test_lr_is_pure():
    first = [lr_at(s, 3e-4, 5, 50, 0.0) for s in range(1, 60)]
    assert first == [lr_at(s, 3e-4, 5, 50, 0.0) for s in range(1, 60)]


def test_sign_sgd_updates_batch_rows_only_and_sums_duplicates():
    weights = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    ids = torch.tensor([2, 0, 2], dtype=torch.int32)
    grads = torch.tensor([[1.0, -1.0], [-0.5, 0.0], [-3.0, 0.5]])  # id 2 sums to (-2, -0.5)
    sign_sgd_rows(weights, ids, grads, lr=0.1, weight_decay=0.5)
    assert weights[1].tolist() == [2.0, 2.0] and weights[3].tolist() == [4.0, 4.0]
    assert weights[0].tolist() == pytest.approx([1 * 0.95 + 0.1, 1 * 0.95 - 0.0])
    assert weights[2].tolist() == pytest.approx([3 * 0.95 + 0.1, 3 * 0.95 + 0.1])


class _ToyPuzzleEmbedding(torch.nn.Module):
    """The interface SignSGDEmbedding expects: a `weights` buffer plus local_weights/local_ids after forward."""

    def __init__(self):
        super().__init__()
        self.register_buffer("weights", torch.zeros(5, 3))

    def forward(self, ids):
        self.local_ids = ids
        self.local_weights = self.weights[ids].clone().requires_grad_(True)
        return self.local_weights


def test_sign_sgd_optimizer_reads_local_gradients():
    emb = _ToyPuzzleEmbedding()
    opt = SignSGDEmbedding(emb, lr=0.5, weight_decay=0.0)
    out = emb(torch.tensor([1, 1, 3], dtype=torch.int32))
    (out * torch.tensor([1.0, -2.0, 0.0])).sum().backward()
    opt.step()
    assert emb.weights[1].tolist() == [-0.5, 0.5, 0.0]  # sign of the two rows summed: (2, -4, 0)
    assert emb.weights[3].tolist() == [-0.5, 0.5, 0.0]
    assert emb.weights[[0, 2, 4]].abs().sum() == 0
    assert emb.local_weights.grad is None  # consumed: a second step without backward does nothing
    opt.step()
    assert emb.weights[1].tolist() == [-0.5, 0.5, 0.0]
