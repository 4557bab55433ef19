"""The trainer options behind the paper's Table 1 ablations (docs/model-spec.md §6.1).

The official TRM code has only one of them (HRM's ACT continue loss, `no_ACT_continue=False`), so
that one is checked against the official semantics; the others are checked by their defining
property: a 1-step gradient is the gradient of the last z and y updates alone, separate networks
have disjoint parameters and equal the shared network when given its weights, raw-weight
evaluation scores exactly what a run without EMA would and leaves the EMA scores alone.
"""
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import yaml

from trm.act import initial_carry, supervision_step
from trm.config import ModelConfig, TrainConfig
from trm.model import RecursiveModel
from trm.official import model_config_from_official
from trm.params import count_parameters
from trm.schema import ConfigError
from trm.train import train

S, V, IDS = 10, 7, 5
TINY = Path(__file__).parents[1] / "data" / "trm_tiny_train.yaml"


def tiny(**overrides) -> ModelConfig:
    base = dict(hidden_size=16, num_heads=2, l_layers=1, h_cycles=3, l_cycles=3, mixer="attention",
                pos_encodings="rope", puzzle_emb_ndim=16, puzzle_emb_len=2, halt_max_steps=3)
    base.update(overrides)
    return ModelConfig(**base)


def build(cfg: ModelConfig, seed: int = 0) -> RecursiveModel:
    torch.manual_seed(seed)
    return RecursiveModel(cfg, seq_len=S, vocab_size=V, num_puzzle_identifiers=IDS)


def inputs(batch: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, V, (batch, S), generator=g, dtype=torch.int32),
            torch.randint(0, IDS, (batch,), generator=g, dtype=torch.int32))


def random_states(model: RecursiveModel, batch: int = 3, seed: int = 2):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, *model.state_shape)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def loss_and_grads(model: RecursiveModel, z_H, z_L, tokens, ids):
    model.zero_grad(set_to_none=True)
    _, _, logits, q_halt, q_continue = model(z_H, z_L, tokens, ids)
    (logits.square().sum() + q_halt.sum() + q_continue.sum()).backward()
    grads = {n: p.grad.clone() if p.grad is not None else torch.zeros_like(p) for n, p in model.named_parameters()}
    return logits.detach(), grads


def count_calls(net):
    calls = {"grad": 0, "no_grad": 0}

    def hook(module, args, output):
        calls["grad" if torch.is_grad_enabled() else "no_grad"] += 1

    net.register_forward_hook(hook)
    return calls


# --- config rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, field", [
    (dict(arch="hrm", h_layers=1, puzzle_emb_len=0, act_continue=True, one_step_gradient=True), "one_step_gradient"),
    (dict(arch="hrm", h_layers=1, puzzle_emb_len=0, act_continue=True, separate_nets=True), "separate_nets"),
    (dict(separate_nets=True), "h_layers"),
    (dict(h_layers=2), "h_layers"),
])
def test_model_options_refuse_what_they_cannot_mean(overrides, field):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"model": {**asdict(tiny()), **overrides}})
    assert err.value.field == f"model.{field}"


def test_raw_weight_evaluation_needs_ema():
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"train": {"ema": False, "eval_raw_weights": True}})
    assert err.value.field == "train.eval_raw_weights"
    arc = TrainConfig.from_dict({"data": {"task": "arc", "grid_size": 10}, "train": {"eval_raw_weights": True}})
    assert arc.train.eval_raw_weights  # ARC scores them too, with their own pool of votes (tests/trm/test_train.py)


def test_defaults_are_the_official_recipe():
    cfg = ModelConfig()
    assert (cfg.one_step_gradient, cfg.separate_nets, TrainConfig().train.eval_raw_weights) == (False, False, False)


# --- 1-step gradient ---------------------------------------------------------------------------

def test_one_step_gradient_changes_no_value_only_what_is_differentiated():
    full, one = build(tiny()), build(tiny(one_step_gradient=True))
    one.load_state_dict(full.state_dict())
    states, data = random_states(full), inputs()
    calls = count_calls(one.f_L)
    logits_one, _ = loss_and_grads(one, *states, *data)
    logits_full, _ = loss_and_grads(full, *states, *data)
    assert torch.equal(logits_one, logits_full)
    # T=3, n=3: 2 cycles of n+1 calls and n-1 latent updates without gradient, the last z and y with it
    assert calls == {"grad": 2, "no_grad": 2 * 4 + 2}


def test_one_step_gradient_is_the_gradient_of_the_last_two_updates_alone():
    """No gradient flows through any earlier recursion step: the gradient equals that of the last z
    update and y update applied, with gradient, to states computed entirely without it."""
    model = build(tiny(one_step_gradient=True))
    z_H, z_L = random_states(model)
    tokens, ids = inputs()
    _, grads = loss_and_grads(model, z_H, z_L, tokens, ids)

    model.zero_grad(set_to_none=True)
    with torch.no_grad():  # every call but the last two, as constants
        x = model.embed_input(tokens, ids)
        for _ in range(model.cfg.h_cycles - 1):
            for _ in range(model.cfg.l_cycles):
                z_L = model.f_L(z_L, z_H + x, model.rope)
            z_H = model.f_L(z_H, z_L, model.rope)
        for _ in range(model.cfg.l_cycles - 1):
            z_L = model.f_L(z_L, z_H + x, model.rope)
    x = model.embed_input(tokens, ids)  # the input embedding is differentiated where the last z update reads it
    z_L = model.f_L(z_L, z_H + x, model.rope)
    z_H = model.f_L(z_H, z_L, model.rope)
    logits = model.lm_head(z_H[:, model.prefix_len:])
    q = model.q_head(z_H[:, 0])
    (logits.square().sum() + q.sum()).backward()
    for name, p in model.named_parameters():
        assert torch.allclose(grads[name], p.grad, rtol=1e-5, atol=1e-7), name

    full = build(tiny())
    full.load_state_dict(model.state_dict())
    _, full_grads = loss_and_grads(full, *random_states(full), tokens, ids)
    assert any(not torch.allclose(grads[n], full_grads[n]) for n in grads)  # the full recursion differs


# --- separate f_H and f_L ----------------------------------------------------------------------

def test_separate_networks_have_disjoint_parameters_and_their_own_calls():
    model = build(tiny(separate_nets=True, h_layers=1))
    low, high = {id(p) for p in model.f_L.parameters()}, {id(p) for p in model.f_H.parameters()}
    assert low and high and not low & high
    calls_L, calls_H = count_calls(model.f_L), count_calls(model.f_H)
    _, grads = loss_and_grads(model, *random_states(model), *inputs())
    assert calls_L == {"grad": 3, "no_grad": 2 * 3}  # n z updates per cycle
    assert calls_H == {"grad": 1, "no_grad": 2}  # one y update per cycle
    assert all(grads[n].abs().sum() > 0 for n, _ in model.named_parameters() if n.startswith("f_H."))


def test_separate_networks_with_equal_weights_are_the_shared_network():
    shared, separate = build(tiny()), build(tiny(separate_nets=True, h_layers=1))
    missing, unexpected = separate.load_state_dict(shared.state_dict(), strict=False)
    assert unexpected == [] and missing and all(k.startswith("f_H.") for k in missing)
    separate.f_H.load_state_dict(shared.f_L.state_dict())
    states, data = random_states(shared), inputs()
    assert torch.equal(loss_and_grads(shared, *states, *data)[0], loss_and_grads(separate, *states, *data)[0])


def test_paper_parameter_counts_of_the_ablations():
    """Table 1: separate f_H and f_L, and 4 layers with n=3, are 10M against TRM-MLP's 5M."""
    sudoku = dict(seq_len=81, vocab_size=11)
    full = count_parameters(ModelConfig(), **sudoku)
    assert full == 5_028_866
    assert count_parameters(ModelConfig(separate_nets=True, h_layers=2), **sudoku) == 10_045_442
    assert count_parameters(ModelConfig(l_layers=4, l_cycles=3), **sudoku) == 10_045_442
    assert count_parameters(ModelConfig(one_step_gradient=True), **sudoku) == full


# --- HRM's ACT continue loss in TRM (official no_ACT_continue=False) ----------------------------

def test_trm_act_continue_is_the_official_no_act_continue_false():
    official = {"H_cycles": 3, "L_cycles": 6, "H_layers": 0, "L_layers": 2, "hidden_size": 512, "num_heads": 8,
                "expansion": 4, "puzzle_emb_ndim": 512, "pos_encodings": "none", "halt_max_steps": 16,
                "halt_exploration_prob": 0.1, "mlp_t": True, "puzzle_emb_len": 16, "no_ACT_continue": False,
                "forward_dtype": "bfloat16"}
    cfg = model_config_from_official(official)
    assert (cfg.arch, cfg.act_continue) == ("trm", True)
    assert model_config_from_official({**official, "no_ACT_continue": True}).act_continue is False


def test_trm_with_act_continue_halts_and_learns_as_the_official_trm_does():
    """Official TRM with no_ACT_continue=False: halt when q_halt > q_continue; the continue target is
    sigmoid(max(next q_halt, next q_continue)) (sigmoid(next q_halt) at the last step) from a second,
    gradient-free call on the new carry and the same data; the loss adds 0.5 * its BCE."""
    model = build(tiny(act_continue=True, halt_exploration_prob=0.0, l_cycles=2, h_cycles=2))
    model.train()
    g = torch.Generator().manual_seed(3)
    tokens, ids = inputs(4)
    batch = {"inputs": tokens, "labels": torch.randint(0, V, (4, S), generator=g), "puzzle_identifiers": ids}
    with torch.no_grad():
        model.q_head.weight.normal_(0, 0.1, generator=g)
    calls = []
    model.register_forward_hook(lambda m, a, o: calls.append(torch.is_grad_enabled()))
    carry, out = supervision_step(model, initial_carry(model, batch), batch, training=True)
    assert calls == [True, False]
    assert torch.equal(carry.halted, out.q_halt_logits > out.q_continue_logits)
    with torch.no_grad():
        _, _, _, next_halt, next_continue = model(carry.z_H, carry.z_L, tokens, ids)
    target = torch.sigmoid(torch.maximum(next_halt, next_continue))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out.q_continue_logits, target, reduction="sum")
    assert float(out.metrics["q_continue_loss"]) == pytest.approx(float(expected), rel=1e-6)


# --- raw-weight evaluation beside EMA ------------------------------------------------------------

def tiny_run(**train_overrides) -> TrainConfig:
    body = yaml.safe_load(TINY.read_text())
    body["train"].update(train_overrides)
    return TrainConfig.from_dict(body)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The tiny run three ways: EMA only, EMA with raw scoring, no EMA (same seed)."""
    root = tmp_path_factory.mktemp("raw")
    cache = root / "data"
    made = {}
    for name, overrides in (("ema", {}), ("both", {"eval_raw_weights": True}), ("raw", {"ema": False})):
        made[name] = (train(tiny_run(**overrides), root / name, data_cache=cache), root / name)
    return made


def csv_rows(run_dir: Path, split: str) -> list[str]:
    return [line for line in (run_dir / "metrics.csv").read_text().splitlines()[1:] if line.split(",")[1] == split]


def test_raw_scoring_leaves_training_and_the_ema_scores_unchanged(runs):
    (ema, ema_dir), (both, both_dir) = runs["ema"], runs["both"]
    assert [e.to_dict() for e in ema.evaluations] == [
        {k: v for k, v in e.to_dict().items() if k != "raw"} for e in both.evaluations]
    for split in ("train", "test"):
        assert csv_rows(ema_dir, split) == csv_rows(both_dir, split)
    assert ema.raw_final is None and "raw_final" not in ema.to_dict()


def test_raw_scores_are_those_of_the_same_run_without_ema(runs):
    """EMA never feeds back into training, so the raw weights are those of a run without it."""
    (both, both_dir), (raw, _) = runs["both"], runs["raw"]
    assert len(both.evaluations) == 2 and all(e.raw is not None for e in both.evaluations)
    assert [e.raw.to_dict() for e in both.evaluations] == [e.to_dict() for e in raw.evaluations]
    assert both.raw_final == raw.final and both.raw_best == raw.best
    assert any(e.raw.metrics != e.metrics for e in both.evaluations)  # the EMA copy is another model
    logged = {(int(r.split(",")[0]), r.split(",")[2]): float(r.split(",")[3]) for r in csv_rows(both_dir, "test_raw")}
    assert logged[(both.final.step, "exact_accuracy")] == both.raw_final.value("exact_accuracy")


def test_raw_scores_survive_the_result_dict_and_a_resume(runs, tmp_path):
    both, _ = runs["both"]
    data = both.to_dict()
    assert data["raw_final"] == both.raw_final.to_dict() and data["raw_best"] == both.raw_best.to_dict()
    from trm.result import RunResult

    assert RunResult.from_dict(data).raw_final == both.raw_final

    class Crash(Exception):
        pass

    def crash(done, total):
        if done == 20:  # after the first evaluation (step 15), before the second
            raise Crash()

    cfg = tiny_run(eval_raw_weights=True)
    with pytest.raises(Crash):
        train(cfg, tmp_path, data_cache=tmp_path / "data", progress=crash)
    resumed = train(cfg, tmp_path, data_cache=tmp_path / "data")
    assert [e.to_dict() for e in resumed.evaluations] == [e.to_dict() for e in both.evaluations]
