"""Token losses and the Q BCE: anchors from docs/model-spec.md §9 and the normalisation rules of §3."""
import math

import pytest
import torch
import torch.nn.functional as F

from trm.losses import (IGNORE_LABEL, per_sequence_mean, q_bce, softmax_cross_entropy, stablemax_cross_entropy,
                        stablemax_log_probs)


def test_stablemax_anchor():
    loss = stablemax_cross_entropy(torch.tensor([[0.0, 1.0, -1.0]]), torch.tensor([1]))
    assert loss.dtype == torch.float64
    assert float(loss[0]) == pytest.approx(0.5596157879, abs=1e-10)  # -log(2 / 3.5)


def test_stablemax_is_a_distribution_computed_in_float64():
    logits = torch.randn(4, 5, 9, dtype=torch.bfloat16) * 30
    log_probs = stablemax_log_probs(logits)
    assert log_probs.dtype == torch.float64
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(4, 5, dtype=torch.float64))


def test_ignored_positions_cost_nothing():
    logits = torch.randn(2, 3, 4)
    labels = torch.tensor([[1, IGNORE_LABEL, 3], [IGNORE_LABEL] * 3])
    for loss_fn in (stablemax_cross_entropy, softmax_cross_entropy):
        loss = loss_fn(logits, labels)
        assert loss.shape == (2, 3)
        assert float(loss[0, 1]) == 0 and float(loss[1].abs().sum()) == 0 and float(loss[0, 0]) > 0


def test_softmax_cross_entropy_matches_torch():
    logits, labels = torch.randn(2, 3, 4), torch.tensor([[1, 0, 3], [2, 2, 1]])
    expected = F.cross_entropy(logits.reshape(-1, 4), labels.reshape(-1), reduction="none").view(2, 3)
    assert torch.allclose(softmax_cross_entropy(logits, labels), expected)


def test_per_sequence_mean_divides_by_each_rows_supervised_count():
    token_losses = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([[0, 0, 0], [0, IGNORE_LABEL, IGNORE_LABEL], [IGNORE_LABEL] * 3])
    assert torch.equal(per_sequence_mean(token_losses, labels), torch.tensor([2.0, 4.0, 0.0]))


def test_q_halt_bce_at_initialisation_is_softplus_minus_five_per_sequence():
    q_logits = torch.full((6,), -5.0)
    loss = q_bce(q_logits, torch.zeros(6, dtype=torch.bool))
    # float32, as officially: torch evaluates log(1 + e^-5) with ~1e-5 relative rounding
    assert float(loss) == pytest.approx(6 * 0.0067153485, rel=2e-5)
    assert float(q_bce(q_logits.double(), torch.zeros(6))) == pytest.approx(6 * math.log1p(math.exp(-5.0)), rel=1e-12)
    assert float(q_bce(q_logits[:1], torch.ones(1, dtype=torch.bool))) == pytest.approx(5.0067153485, rel=1e-6)
