"""Deep supervision: carry refill, halting rules, exploration, losses and metrics, HRM's target call."""
import math

import pytest
import torch

from trm.act import Carry, initial_carry, supervision_step
from trm.config import ModelConfig
from trm.losses import IGNORE_LABEL
from trm.model import RecursiveModel

B, S, V, N_SUP = 4, 6, 5, 3



def build(**overrides) -> RecursiveModel:
    base = dict(hidden_size=16, num_heads=2, l_layers=1, h_cycles=2, l_cycles=1, mixer="attention",
                pos_encodings="rope", puzzle_emb_ndim=16, puzzle_emb_len=1, halt_max_steps=N_SUP,
                halt_exploration_prob=0.0)
    base.update(overrides)
    torch.manual_seed(0)
    return RecursiveModel(ModelConfig(**base), seq_len=S, vocab_size=V, num_puzzle_identifiers=3)


def make_batch(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"inputs": torch.randint(0, V, (B, S), generator=g, dtype=torch.int32),
            "labels": torch.randint(0, V, (B, S), generator=g).long(),
            "puzzle_identifiers": torch.randint(0, 3, (B,), generator=g, dtype=torch.int32)}


def set_q_bias(model, halt: float, cont: float):
    with torch.no_grad():
        model.q_head.bias.copy_(torch.tensor([halt, cont]))


def test_initial_carry_has_every_slot_halted():
    model = build()
    carry = initial_carry(model, make_batch(0))
    assert carry.halted.all() and carry.halted.dtype == torch.bool
    assert carry.steps.dtype == torch.int32 and not carry.steps.any()
    assert carry.z_H.shape == carry.z_L.shape == (B, 1 + S, 16)
    assert set(carry.data) == {"inputs", "labels", "puzzle_identifiers"}


def test_halted_slots_are_reset_and_refilled_slot_aligned():
    model = build()
    model.train()
    old, new = make_batch(1), make_batch(2)
    carry = initial_carry(model, old)
    carry, _ = supervision_step(model, carry, old, training=True)  # q_halt = -5: nobody halts at step 1
    assert not carry.halted.any() and carry.steps.tolist() == [1] * B
    # hand-made halting pattern: slots 0 and 2 finished their example
    carry = Carry(carry.z_H, carry.z_L, carry.steps, torch.tensor([True, False, True, False]), carry.data)
    carry, out = supervision_step(model, carry, new, training=True)
    for key in ("inputs", "labels", "puzzle_identifiers"):
        assert torch.equal(carry.data[key][[0, 2]], new[key][[0, 2]])
        assert torch.equal(carry.data[key][[1, 3]], old[key][[1, 3]])
    assert carry.steps.tolist() == [1, 2, 1, 2]
    # a refilled slot computes exactly what a fresh start on its example computes
    fresh, fresh_out = supervision_step(model, initial_carry(model, new), new, training=True)
    assert torch.allclose(out.logits[[0, 2]], fresh_out.logits[[0, 2]], atol=1e-5)
    assert not torch.allclose(out.logits[[1, 3]], fresh_out.logits[[1, 3]], atol=1e-3)


def test_training_without_q_signal_runs_N_sup_steps_then_halts_everyone():
    model = build()
    model.train()
    batch = make_batch(3)
    carry = initial_carry(model, batch)
    for step in range(1, N_SUP + 1):
        carry, out = supervision_step(model, carry, batch, training=True)
        assert out.all_halted == (step == N_SUP)
    assert carry.halted.all() and carry.steps.tolist() == [N_SUP] * B
    carry, _ = supervision_step(model, carry, make_batch(4), training=True)  # everyone restarts
    assert carry.steps.tolist() == [1] * B


def test_q_bias_plus_five_halts_every_training_slot_after_one_step_but_eval_runs_N_sup():
    model = build()
    set_q_bias(model, 5.0, 5.0)
    batch = make_batch(5)
    model.train()
    carry, out = supervision_step(model, initial_carry(model, batch), batch, training=True)
    assert out.all_halted and carry.steps.tolist() == [1] * B
    model.eval()
    carry = initial_carry(model, batch)
    with torch.no_grad():
        for step in range(1, N_SUP + 1):
            carry, out = supervision_step(model, carry, batch, training=False)
            assert carry.halted.all() == (step == N_SUP)
            assert int(out.metrics["count"]) == (B if step == N_SUP else 0)


def test_exploration_delays_halting_with_the_given_generator():
    model = build(halt_exploration_prob=1.0, halt_max_steps=5)
    set_q_bias(model, 5.0, 5.0)
    model.train()
    batch = make_batch(6)
    carry, out = supervision_step(model, initial_carry(model, batch), batch, training=True,
                                  generator=torch.Generator().manual_seed(0))
    assert not carry.halted.any()  # every slot explores with a minimum of at least 2 steps

    def halts(seed, prob):
        m = build(halt_exploration_prob=prob, halt_max_steps=16)
        set_q_bias(m, 5.0, 5.0)
        c = initial_carry(m, make_batch(7))
        c, _ = supervision_step(m, c, make_batch(7), training=True, generator=torch.Generator().manual_seed(seed))
        return c.halted.tolist()

    assert halts(11, 0.5) == halts(11, 0.5)  # reproducible from the generator
    patterns = {tuple(halts(seed, 0.5)) for seed in range(12)}
    assert len(patterns) > 1


def test_loss_and_metrics_follow_the_official_loss_head():
    model = build()
    model.train()
    batch = make_batch(8)
    batch["labels"][3] = IGNORE_LABEL  # a padding row: never counted, costs nothing
    batch["labels"][1, :2] = IGNORE_LABEL
    carry = initial_carry(model, batch)
    for _ in range(N_SUP):
        carry, out = supervision_step(model, carry, batch, training=True)
    m = out.metrics
    assert set(m) == {"count", "accuracy", "exact_accuracy", "q_halt_accuracy", "steps", "lm_loss", "q_halt_loss"}
    assert int(m["count"]) == 3 and int(m["steps"]) == 3 * N_SUP
    labels, preds = batch["labels"], out.preds
    mask = labels != IGNORE_LABEL
    per_row = ((preds == labels) & mask).sum(-1) / mask.sum(-1).clamp_min(1)
    assert float(m["accuracy"]) == pytest.approx(float(per_row[:3].sum()), rel=1e-6)
    assert out.loss.dtype == torch.float64 and out.loss.requires_grad
    assert out.loss.item() == pytest.approx(float(m["lm_loss"]) + 0.5 * float(m["q_halt_loss"]), rel=1e-12)
    # Q-halt loss over ALL slots (halted or not, padding included), target = whole-sequence exactness
    correct = ((preds == labels) | ~mask).all(-1)
    expected_halt = sum(math.log1p(math.exp(-5.0)) if not c else math.log1p(math.exp(5.0)) for c in correct.tolist())
    assert float(m["q_halt_loss"]) == pytest.approx(expected_halt, rel=2e-5)
    assert int(m["exact_accuracy"]) == int((correct[:3]).sum())


def test_exact_accuracy_and_q_halt_accuracy_on_a_solved_row():
    model = build()
    model.eval()
    batch = make_batch(9)
    with torch.no_grad():
        carry = initial_carry(model, batch)
        for _ in range(N_SUP):
            carry, out = supervision_step(model, carry, batch, training=False)
        batch["labels"][0] = out.preds[0]  # row 0 now solved at the last step
        carry = initial_carry(model, batch)
        for _ in range(N_SUP):
            carry, out = supervision_step(model, carry, batch, training=False)
    assert int(out.metrics["exact_accuracy"]) >= 1
    # q_halt = -5 < 0 predicts "wrong": right on unsolved rows, wrong on the solved one
    assert int(out.metrics["q_halt_accuracy"]) == B - int(out.metrics["exact_accuracy"])


def test_loss_backpropagates_into_puzzle_embedding_rows():
    model = build()
    model.train()
    batch = make_batch(10)
    _, out = supervision_step(model, initial_carry(model, batch), batch, training=True)
    (out.loss / B).backward()
    assert model.puzzle_emb.local_weights.grad.shape == (B, 16)
    assert torch.equal(model.puzzle_emb.local_ids, batch["puzzle_identifiers"])
    assert model.lm_head.weight.grad.abs().sum() > 0


def test_mode_mismatch_is_an_error():
    model = build()
    model.eval()
    batch = make_batch(0)
    with pytest.raises(ValueError, match="training"):
        supervision_step(model, initial_carry(model, batch), batch, training=True)


HRM = dict(arch="hrm", l_layers=1, h_layers=1, puzzle_emb_len=0, act_continue=True)


def count_forwards(model):
    calls = []
    model.register_forward_hook(lambda module, args, output: calls.append(torch.is_grad_enabled()))
    return calls


def test_hrm_training_step_makes_a_second_no_grad_call_for_the_continue_target():
    model = build(**HRM)
    model.train()
    batch = make_batch(11)
    calls = count_forwards(model)
    carry, out = supervision_step(model, initial_carry(model, batch), batch, training=True)
    assert calls == [True, False]
    assert out.logits.shape == (B, S, V) and out.q_continue_logits.shape == (B,)
    assert "q_continue_loss" in out.metrics
    # at initialisation both next Q logits are -5 and no slot is at its last step: target sigmoid(-5)
    target = torch.sigmoid(torch.tensor(-5.0))
    bce = -(target * math.log(target) + (1 - target) * math.log(1 - target))
    assert float(out.metrics["q_continue_loss"]) == pytest.approx(B * float(bce), rel=1e-4)
    assert out.loss.item() == pytest.approx(float(out.metrics["lm_loss"]) + 0.5 * (
        float(out.metrics["q_halt_loss"]) + float(out.metrics["q_continue_loss"])), rel=1e-12)
    model.eval()
    calls.clear()
    with torch.no_grad():
        _, out = supervision_step(model, initial_carry(model, batch), batch, training=False)
    assert calls == [False] and "q_continue_loss" not in out.metrics


def test_act_continue_halts_on_q_halt_above_q_continue():
    model = build(**HRM)
    model.train()
    batch = make_batch(12)
    set_q_bias(model, 1.0, 2.0)  # q_halt > 0 but below q_continue: keep going
    carry, _ = supervision_step(model, initial_carry(model, batch), batch, training=True)
    assert not carry.halted.any()
    set_q_bias(model, 2.0, 1.0)
    carry, _ = supervision_step(model, initial_carry(model, batch), batch, training=True)
    assert carry.halted.all()


def test_trm_has_no_continue_loss():
    model = build()
    model.train()
    batch = make_batch(13)
    calls = count_forwards(model)
    _, out = supervision_step(model, initial_carry(model, batch), batch, training=True)
    assert calls == [True] and "q_continue_loss" not in out.metrics
