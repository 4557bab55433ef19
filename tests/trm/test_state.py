"""TrainState: built the same way every time, and a checkpoint restores every part of it exactly."""
import dataclasses
from pathlib import Path

import pytest
import torch
import yaml

import trm.train
from trm.checkpoint import load_checkpoint
from trm.config import TrainConfig
from trm.data.dataset import PuzzleDataset
from trm.data.prepare import prepare_dataset
from trm.distributed import Context
from trm.result import MetricsLog
from trm.state import Position, ResumeMismatch, TrainState
from trm.train import train_step

TINY = Path(__file__).parents[1] / "data" / "trm_tiny_train.yaml"
CPU = Context(rank=0, world_size=1, device=torch.device("cpu"), owns_group=False)


def tiny(**model_overrides) -> TrainConfig:
    body = yaml.safe_load(TINY.read_text())
    body["model"].update(model_overrides)
    return TrainConfig.from_dict(body)


@pytest.fixture(scope="module")
def train_set(tmp_path_factory):
    return PuzzleDataset(prepare_dataset(tiny().data, tmp_path_factory.mktemp("data-cache")), "train")


def advance(state: TrainState, train_set, updates: int) -> None:
    """`updates` optimizer updates and EMA steps, as the loop makes them."""
    batches = train_set.train_batches(16, seed=0, iteration=0, epochs_per_iter=1)
    for _, batch in zip(range(updates), batches):
        state.position.step += 1
        state.carry, _ = train_step(state, batch, lr=1e-3, emb_lr=1e-2, global_batch_size=16)
        state.ema.update(state.model)


def weights(state: TrainState) -> dict:
    return {k: v.clone() for k, v in state.model.state_dict().items()}


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_build_is_determined_by_the_seed(train_set):
    first, again = TrainState.build(tiny(), train_set, CPU), TrainState.build(tiny(), train_set, CPU)
    other = TrainState.build(tiny().with_seed(1), train_set, CPU)
    assert same_tensors(weights(first), weights(again))
    assert not same_tensors(weights(first), weights(other))
    assert torch.equal(first.explore.get_state(), again.explore.get_state())
    assert first.carry is None and first.position == Position() and first.arc is None
    assert first.config_hash == tiny().config_hash()


def test_build_follows_the_config(train_set):
    state = TrainState.build(tiny(), train_set, CPU)
    assert state.sign_sgd is not None and state.sign_sgd.param_groups[0]["weight_decay"] == 0.1
    assert state.adam.param_groups[0]["betas"] == (0.9, 0.95) and state.adam.param_groups[0]["weight_decay"] == 0.1
    assert state.ema is not None and state.ema.rate == 0.9
    assert TrainState.build(tiny(puzzle_emb_ndim=0), train_set, CPU).sign_sgd is None
    body = yaml.safe_load(TINY.read_text())
    body["train"]["ema"] = False
    plain = TrainState.build(TrainConfig.from_dict(body), train_set, CPU)
    assert plain.ema is None and plain.eval_model() is plain.model


def test_eval_model_holds_the_ema_weights_and_the_raw_buffers(train_set):
    state = TrainState.build(tiny(), train_set, CPU)
    advance(state, train_set, 3)
    twin = state.eval_model()
    assert twin is not state.model
    evaluated = twin.state_dict()
    assert all(torch.equal(evaluated[name], shadow) for name, shadow in state.ema.shadow.items())
    assert not all(torch.equal(evaluated[name], state.model.state_dict()[name]) for name in state.ema.shadow)
    assert torch.equal(evaluated["puzzle_emb.weights"], state.model.puzzle_emb.weights)


def test_restore_gives_back_every_part_of_the_saved_state(tmp_path, train_set):
    log = MetricsLog(tmp_path / "metrics.csv")
    state = TrainState.build(tiny(), train_set, CPU)
    advance(state, train_set, 3)
    state.position.batch_index, state.position.evaluations = 3, [{"step": 3}]
    log.write(3, "train", {"lm_loss": 1.0})
    state.save(tmp_path / "checkpoint", log, wall_time_s=12.5)
    saved_size = log.size()
    log.write(4, "train", {"lm_loss": 0.5})  # a row after the checkpoint: dropped on restore

    torch.manual_seed(123)  # the restore must reset torch's generator too
    fresh = TrainState.build(tiny(), train_set, CPU)
    assert fresh.restore(tmp_path / "checkpoint", log)
    assert same_tensors(weights(fresh), weights(state))
    assert same_tensors(fresh.ema.shadow, state.ema.shadow)
    assert same_tensors(fresh.carry.data, state.carry.data)
    for name in ("z_H", "z_L", "steps", "halted"):
        assert torch.equal(getattr(fresh.carry, name), getattr(state.carry, name)), name
    assert torch.equal(fresh.explore.get_state(), state.explore.get_state())
    assert torch.equal(torch.get_rng_state(), load_checkpoint(tmp_path / "checkpoint")["ranks"][0]["torch"])
    assert fresh.position == Position(step=3, iteration=0, batch_index=3, evaluations=[{"step": 3}], wall_time_s=12.5)
    assert log.size() == saved_size

    # Both continue identically: the optimiser moments came back too.
    advance(state, train_set, 2)
    advance(fresh, train_set, 2)
    assert same_tensors(weights(fresh), weights(state))


def test_without_a_checkpoint_restore_starts_fresh_and_empties_the_log(tmp_path, train_set):
    log = MetricsLog(tmp_path / "metrics.csv")
    log.write(1, "train", {"lm_loss": 1.0})  # from a session that died before its first checkpoint
    state = TrainState.build(tiny(), train_set, CPU)
    assert not state.restore(tmp_path / "checkpoint", log)
    assert state.carry is None and state.position == Position()
    assert (tmp_path / "metrics.csv").read_text() == MetricsLog.HEADER


def test_the_checkpoint_layout_is_the_one_every_earlier_checkpoint_has(tmp_path, train_set):
    """Checkpoints of earlier versions resume only while these keys keep their meaning."""
    state = TrainState.build(tiny(), train_set, CPU)
    advance(state, train_set, 1)
    state.save(tmp_path, MetricsLog(tmp_path / "metrics.csv"), wall_time_s=1.0)
    saved = load_checkpoint(tmp_path)
    assert set(saved) == {"format", "config_hash", "config", "world_size", "position", "model", "adam", "sign_sgd",
                          "ema", "arc_votes", "metrics_bytes", "ranks"}
    assert saved["config"] == tiny().to_dict()
    assert saved["format"] == 1 and saved["world_size"] == 1 and saved["arc_votes"] is None
    assert set(saved["position"]) == {"step", "iteration", "batch_index", "evaluations", "wall_time_s"}
    (rank,) = saved["ranks"]
    assert set(rank) == {"carry", "explore", "torch", "cuda"} and rank["cuda"] is None
    assert set(rank["carry"]) == {"z_H", "z_L", "steps", "halted", "data"}
    assert set(saved["ema"]) == {"rate", "shadow"}


def test_a_checkpoint_of_another_config_or_world_size_is_refused(tmp_path, train_set):
    log = MetricsLog(tmp_path / "metrics.csv")
    TrainState.build(tiny(), train_set, CPU).save(tmp_path / "one", log, wall_time_s=0.0)
    with pytest.raises(ResumeMismatch, match="^checkpoint config"):
        TrainState.build(tiny().with_seed(1), train_set, CPU).restore(tmp_path / "one", log)
    two = dataclasses.replace(TrainState.build(tiny(), train_set, CPU), ctx=dataclasses.replace(CPU, world_size=2))
    two.save(tmp_path / "two", log, wall_time_s=0.0)
    with pytest.raises(ResumeMismatch, match="written by 2 processes"):
        TrainState.build(tiny(), train_set, CPU).restore(tmp_path / "two", log)


def test_a_checkpoint_is_judged_by_its_configs_meaning(tmp_path, train_set):
    """A field added to the trainer since the checkpoint (absent from its saved config, default kept)
    resumes; a changed value is refused; a checkpoint from before configs were saved needs its hash."""
    log = MetricsLog(tmp_path / "metrics.csv")
    state = TrainState.build(tiny(), train_set, CPU)
    advance(state, train_set, 1)
    state.save(tmp_path / "older", log, wall_time_s=0.0)
    path = tmp_path / "older"
    saved = load_checkpoint(path)
    del saved["config"]["train"]["grad_accum_steps"]  # as a checkpoint written before that field existed
    saved["config_hash"] = "0" * 16  # whose hash was therefore another
    state._load(saved)  # resumes: same meaning
    changed = dict(saved, config={**saved["config"], "train": {**saved["config"]["train"], "lr": 0.5}})
    with pytest.raises(ResumeMismatch, match="^checkpoint config"):
        TrainState.build(tiny(), train_set, CPU)._load(changed)
    hash_only = {k: v for k, v in saved.items() if k != "config"}
    with pytest.raises(ResumeMismatch, match="^checkpoint config"):
        TrainState.build(tiny(), train_set, CPU)._load(hash_only)
    TrainState.build(tiny(), train_set, CPU)._load(dict(hash_only, config_hash=tiny().config_hash()))


def test_resume_mismatch_is_still_trm_train_s():
    assert trm.train.ResumeMismatch is ResumeMismatch
