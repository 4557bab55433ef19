import pytest
import torch

from trm.ema import EMA


def _toy():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    model.register_buffer("table", torch.zeros(4))
    model.bias.requires_grad_(False)  # frozen parameters are not averaged
    return model


def test_ema_starts_from_initial_weights_without_bias_correction():
    model = _toy()
    w0 = model.weight.detach().clone()
    ema = EMA(model, rate=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.shadow["weight"], 0.9 * w0 + 0.1)
    ema.update(model)
    assert torch.allclose(ema.shadow["weight"], 0.81 * w0 + 0.19)
    assert "bias" not in ema.shadow


def test_ema_model_has_shadow_params_and_current_buffers():
    model = _toy()
    ema = EMA(model, rate=0.5)
    with torch.no_grad():
        model.weight.add_(2.0)
        model.table.fill_(7.0)
    ema.update(model)
    twin = ema.ema_model(model)
    assert torch.allclose(twin.weight, model.weight - 1.0)
    assert torch.equal(twin.table, model.table)
    assert torch.equal(twin.bias, model.bias)
    twin.weight.data.zero_()  # a copy: the live model is untouched
    assert model.weight.abs().sum() > 0


def test_ema_state_round_trip():
    model = _toy()
    ema = EMA(model, rate=0.99)
    with torch.no_grad():
        model.weight.mul_(3)
    ema.update(model)
    other = EMA(_toy(), rate=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.rate == 0.99 and torch.equal(other.shadow["weight"], ema.shadow["weight"])
    with pytest.raises(ValueError):
        EMA(torch.nn.Linear(2, 2), rate=0.9).load_state_dict({"rate": 0.9, "shadow": {"x": torch.zeros(1)}})
