"""RecursiveModel: shapes for every variant, init, the puzzle-embedding contract, gradient depth."""
import pytest
import torch

from trm.config import ModelConfig
from trm.model import RecursiveModel
from trm.schema import ConfigError

S, V, IDS = 10, 7, 5



def tiny(**overrides) -> ModelConfig:
    base = dict(hidden_size=16, num_heads=2, l_layers=1, h_cycles=2, l_cycles=2, mixer="attention",
                pos_encodings="rope", puzzle_emb_ndim=16, puzzle_emb_len=2, halt_max_steps=3)
    base.update(overrides)
    return ModelConfig(**base)


HRM = dict(arch="hrm", l_layers=1, h_layers=1, puzzle_emb_len=0, act_continue=True)
VARIANTS = {
    "trm-att-rope": {},
    "trm-mlp-none": dict(mixer="mlp", pos_encodings="none"),
    "trm-att-learned": dict(pos_encodings="learned"),
    "trm-mlp-learned": dict(mixer="mlp", pos_encodings="learned"),
    "trm-no-puzzle-emb": dict(puzzle_emb_ndim=0, puzzle_emb_len=0),
    "hrm-att-rope": HRM,
}


def build(cfg, seed=0):
    torch.manual_seed(seed)
    return RecursiveModel(cfg, seq_len=S, vocab_size=V, num_puzzle_identifiers=IDS)


def inputs(batch=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, V, (batch, S), generator=g, dtype=torch.int32),
            torch.randint(0, IDS, (batch,), generator=g, dtype=torch.int32))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_forward_shapes_and_detached_states(name):
    model = build(tiny(**VARIANTS[name]))
    tokens, ids = inputs()
    z_H, z_L = model.initial_states(3, torch.device("cpu"))
    assert z_H.shape == (3, model.prefix_len + S, 16)
    z_H, z_L, logits, q_halt, q_continue = model(z_H, z_L, tokens, ids)
    assert logits.shape == (3, S, V) and logits.dtype == torch.float32
    assert q_halt.shape == q_continue.shape == (3,) and q_halt.dtype == torch.float32
    assert z_H.shape == z_L.shape == (3, model.prefix_len + S, 16)
    assert not z_H.requires_grad and not z_L.requires_grad
    assert logits.requires_grad and torch.isfinite(logits).all()


def test_prefix_length_follows_the_config():
    assert build(tiny()).prefix_len == 2
    assert build(tiny(puzzle_emb_len=0, puzzle_emb_ndim=40)).prefix_len == 3  # ceil(40 / 16)
    no_emb = build(tiny(puzzle_emb_ndim=0, puzzle_emb_len=16))
    assert no_emb.prefix_len == 0 and no_emb.puzzle_emb is None
    with pytest.raises(ConfigError, match="puzzle_emb_len"):
        build(tiny(puzzle_emb_ndim=40, puzzle_emb_len=2))


def test_initialisation():
    model = build(tiny())
    assert torch.equal(model.q_head.weight, torch.zeros(2, 16))
    assert torch.equal(model.q_head.bias, torch.full((2,), -5.0))
    assert torch.equal(model.puzzle_emb.weights, torch.zeros(IDS, 16))
    for init in (model.H_init, model.L_init):
        assert init.dtype == torch.float32 and torch.equal(init, init.to(torch.bfloat16).float())
    names = {name for name, _ in model.named_parameters()}
    assert "puzzle_emb.weights" not in names and "H_init" not in names
    saved = set(model.state_dict())
    assert {"puzzle_emb.weights", "H_init", "L_init", "token_emb.weight", "lm_head.weight"} <= saved
    assert not any("rope" in name for name in saved)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_q_logits_start_at_minus_five():
    model = build(tiny())
    z_H, z_L = model.initial_states(3, torch.device("cpu"))
    *_, q_halt, q_continue = model(z_H, z_L, *inputs())
    assert torch.equal(q_halt, torch.full((3,), -5.0)) and torch.equal(q_continue, torch.full((3,), -5.0))


def test_puzzle_embedding_contract_in_training():
    model = build(tiny())
    model.train()
    with torch.no_grad():
        model.puzzle_emb.weights.copy_(torch.randn(IDS, 16))
    tokens, ids = inputs()
    z_H, z_L = model.initial_states(3, torch.device("cpu"))
    _, _, logits, _, _ = model(z_H, z_L, tokens, ids)
    emb = model.puzzle_emb
    assert emb.local_weights.is_leaf and emb.local_weights.requires_grad
    assert emb.local_weights.shape == (3, 16) and emb.local_weights.dtype == torch.float32
    assert torch.equal(emb.local_weights, emb.weights[ids])
    assert torch.equal(emb.local_ids, ids)
    logits.float().square().sum().backward()
    assert emb.local_weights.grad is not None and emb.local_weights.grad.abs().sum() > 0
    assert emb.weights.grad is None  # a buffer: only the sign-SGD optimizer writes it


def test_puzzle_embedding_without_grad_or_in_eval_leaves_local_weights_alone():
    model = build(tiny())
    tokens, ids = inputs()
    z_H, z_L = model.initial_states(3, torch.device("cpu"))
    model.train()
    with torch.no_grad():
        model(z_H, z_L, tokens, ids)
    assert model.puzzle_emb.local_weights is None
    model.eval()
    model(z_H, z_L, tokens, ids)
    assert model.puzzle_emb.local_weights is None


def test_forward_is_deterministic():
    a, b = build(tiny(), seed=3), build(tiny(), seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    tokens, ids = inputs()
    z = a.initial_states(3, torch.device("cpu"))
    first = a(*z, tokens, ids)
    second = b(*z, tokens, ids)
    assert all(torch.equal(x, y) for x, y in zip(first, second))
    assert not torch.equal(build(tiny(), seed=4).lm_head.weight, a.lm_head.weight)


def count_calls(net):
    calls = {"grad": 0, "no_grad": 0}

    def hook(module, args, output):
        calls["grad" if torch.is_grad_enabled() else "no_grad"] += 1

    net.register_forward_hook(hook)
    return calls


def test_trm_runs_T_minus_1_cycles_without_grad_and_one_with():
    model = build(tiny(h_cycles=3, l_cycles=4))
    calls = count_calls(model.f_L)
    model(*model.initial_states(2, torch.device("cpu")), *inputs(2))
    assert calls == {"grad": 4 + 1, "no_grad": 2 * (4 + 1)}


def test_hrm_one_step_gradient():
    model = build(tiny(**HRM, h_cycles=2, l_cycles=3))
    low, high = count_calls(model.f_L), count_calls(model.f_H)
    model(*model.initial_states(2, torch.device("cpu")), *inputs(2))
    assert low == {"grad": 1, "no_grad": 2 * 3 - 1}
    assert high == {"grad": 1, "no_grad": 2 - 1}


def test_gradients_reach_every_parameter():
    for name in ("trm-att-rope", "trm-mlp-learned", "hrm-att-rope"):
        model = build(tiny(**VARIANTS[name]))
        with torch.no_grad():
            model.q_head.weight.normal_()
        _, _, logits, q_halt, q_continue = model(*model.initial_states(2, torch.device("cpu")), *inputs(2))
        (logits.square().sum() + q_halt.sum() + q_continue.sum()).backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
        assert missing == [], name


def test_bfloat16_forward_on_cpu():
    model = build(tiny(forward_dtype="bfloat16"))
    assert model.compute_dtype == torch.bfloat16
    z_H, z_L = model.initial_states(2, torch.device("cpu"))
    assert z_H.dtype == torch.bfloat16
    z_H, z_L, logits, q_halt, _ = model(z_H, z_L, *inputs(2))
    assert logits.dtype == torch.bfloat16 and z_H.dtype == torch.bfloat16 and q_halt.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert build(tiny()).compute_dtype == torch.float32  # "auto" on CPU
