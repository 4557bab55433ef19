"""Equivalence with the official TRM/HRM code, through fixtures made with the official classes.

Every folder under tests/data/official is replayed by `run_fixture` and compared with its
expected.pt at the tolerances of `compare_fixture`; the checkpoint-name mapping and config
translation are tested on the same files.
"""
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from trm.config import ModelConfig
from trm.model import RecursiveModel
from trm.official import (LOGIT_TOLERANCE_PER_STEP, OfficialCheckpointError, compare_fixture, expected_file,
                          load_official_checkpoint, load_official_state_dict, model_config_from_official, our_name, run_fixture)
from trm.schema import ConfigError

OFFICIAL = Path(__file__).parents[1] / "data" / "official"
FOLDERS = sorted(p for p in OFFICIAL.iterdir() if (p / "expected.pt").exists())
ATT = OFFICIAL / "trm_att_tiny"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the fixtures were made with one intra-op thread
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def replays():
    """{folder name: (our result, expected)}, computed once per folder."""
    torch.set_num_threads(1)
    return {folder.name: (run_fixture(folder), torch.load(expected_file(folder), weights_only=False))
            for folder in FOLDERS}


def test_fixtures_are_present():
    assert ATT in FOLDERS


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_replay_matches_official_outputs(folder, replays):
    result, expected = replays[folder.name]
    assert compare_fixture(result, expected) == []
    assert result["num_steps"] == expected["num_steps"] == json.loads((folder / "config.json").read_text())[
        "resolved_config"]["halt_max_steps"]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_first_step_is_within_the_strict_tolerance(folder, replays):
    """Step 1 is where a semantic difference (eps, prefix, RoPE layout, Q position) would show."""
    result, expected = replays[folder.name]
    for key in ("logits", "q_halt_logits", "q_continue_logits"):
        assert float((result[key][0] - expected[key][0]).abs().max()) <= 1e-5
    assert float(result["loss"][0]) == pytest.approx(float(expected["loss"][0]), rel=1e-6)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_training_record_matches(folder, replays):
    result, expected = replays[folder.name]
    mine, theirs = result["train"], expected["train"]
    assert float(mine["grad_global_norm"]) == pytest.approx(float(theirs["grad_global_norm"]), rel=1e-5)
    for i in range(2):
        assert torch.equal(mine["per_step"][i]["halted"], theirs["per_step"][i]["halted"])
        assert torch.equal(mine["per_step"][i]["steps"].int(), theirs["per_step"][i]["steps"].int())
        assert float(mine["per_step"][i]["loss"]) == pytest.approx(float(theirs["per_step"][i]["loss"]), rel=1e-6)
    for key, grad in theirs["grads_small"].items():
        assert torch.allclose(mine["grads_small"][key], grad, rtol=1e-4, atol=1e-6), key
    if theirs.get("puzzle_emb_grad") is not None:
        assert torch.allclose(mine["puzzle_emb_grad"], theirs["puzzle_emb_grad"], rtol=1e-4, atol=1e-6)


def test_comparison_catches_differences(replays):
    result, expected = replays[ATT.name]
    assert compare_fixture(result, expected) == []
    shifted = dict(result, logits=[t.clone() for t in result["logits"]])
    shifted["logits"][0][0, 0, 0] += 2 * LOGIT_TOLERANCE_PER_STEP
    assert any("eval step 1 logits" in p for p in compare_fixture(shifted, expected))
    wrong_metric = dict(result, metrics=[dict(m) for m in result["metrics"]])
    wrong_metric["metrics"][-1]["exact_accuracy"] = wrong_metric["metrics"][-1]["exact_accuracy"] + 1
    assert any("exact_accuracy" in p for p in compare_fixture(wrong_metric, expected))


def test_the_trm_fixture_exercises_halting_and_exactness(replays):
    """Guards the fixture itself: a solved row and mixed training halts, so those paths are tested."""
    result, expected = replays[ATT.name]
    assert int(expected["metrics"][-1]["exact_accuracy"]) == 1 == int(result["metrics"][-1]["exact_accuracy"])
    assert expected["train"]["per_step"][0]["halted"].tolist() == [True, True, False, True, False, True]


def fixture_config(folder=ATT) -> dict:
    return json.loads((folder / "config.json").read_text())


def test_config_translation_of_the_trm_fixture():
    fx = fixture_config()
    cfg = model_config_from_official({**fx["resolved_config"], "model_class": fx["model_class"]})
    assert cfg == ModelConfig(arch="trm", hidden_size=64, num_heads=4, expansion=4.0, l_layers=2, h_layers=0,
                              h_cycles=2, l_cycles=2, mixer="attention", pos_encodings="rope", puzzle_emb_ndim=64,
                              puzzle_emb_len=16, halt_max_steps=4, halt_exploration_prob=0.1, act_continue=False,
                              forward_dtype="float32", loss_type="stablemax")


def test_config_translation_of_the_official_arch_files():
    trm_yaml = dict(name="recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
                    loss={"name": "losses@ACTLossHead", "loss_type": "stablemax_cross_entropy"},
                    halt_exploration_prob=0.1, halt_max_steps=16, H_cycles=3, L_cycles=6, H_layers=0, L_layers=2,
                    hidden_size=512, num_heads=8, expansion=4, puzzle_emb_ndim=512, pos_encodings="rope",
                    forward_dtype="bfloat16", mlp_t=True, puzzle_emb_len=16, no_ACT_continue=True)
    trm = model_config_from_official(trm_yaml)
    assert (trm.arch, trm.mixer, trm.prefix_len, trm.act_continue, trm.forward_dtype) == (
        "trm", "mlp", 16, False, "bfloat16")
    hrm_yaml = {k: v for k, v in trm_yaml.items() if k not in ("mlp_t", "puzzle_emb_len", "no_ACT_continue")}
    hrm_yaml.update(name="recursive_reasoning.hrm@HierarchicalReasoningModel_ACTV1", H_cycles=2, L_cycles=2,
                    H_layers=4, L_layers=4)
    hrm = model_config_from_official(hrm_yaml)
    assert (hrm.arch, hrm.h_layers, hrm.prefix_len, hrm.act_continue, hrm.mixer) == ("hrm", 4, 1, True, "attention")


def test_config_translation_rejects_unknown_fields_and_architectures():
    resolved = fixture_config()["resolved_config"]
    with pytest.raises(ConfigError, match="H_level_cycles"):
        model_config_from_official({**resolved, "H_level_cycles": 3})
    with pytest.raises(ConfigError, match="unsupported"):
        model_config_from_official({**resolved, "name": "recursive_reasoning.trm_singlez@Model"})
    with pytest.raises(ConfigError, match="L_cycles"):
        model_config_from_official({k: v for k, v in resolved.items() if k != "L_cycles"})


def test_every_official_name_maps():
    assert our_name("_orig_mod.model.inner.L_level.layers.1.self_attn.qkv_proj.weight") == "f_L.blocks.1.mixer.qkv.weight"
    assert our_name("inner.H_level.layers.3.mlp.down_proj.weight") == "f_H.blocks.3.mlp.down.weight"
    assert our_name("L_level.layers.0.mlp_t.gate_up_proj.weight") == "f_L.blocks.0.mixer.gate_up.weight"
    assert our_name("model.inner.embed_pos.embedding_weight") == "pos_emb.weight"
    assert our_name("_orig_mod.model.inner.puzzle_emb.weights") == "puzzle_emb.weights"
    assert our_name("model.inner.rotary_emb.cos_cached") is None


def fixture_model(**config_overrides) -> RecursiveModel:
    fx = fixture_config()
    resolved = fx["resolved_config"]
    cfg = replace(model_config_from_official(resolved), **config_overrides)
    return RecursiveModel(cfg, seq_len=resolved["seq_len"], vocab_size=resolved["vocab_size"],
                          num_puzzle_identifiers=resolved["num_puzzle_identifiers"])


@pytest.mark.parametrize("strip", ["", "_orig_mod.", "_orig_mod.model.inner."])
def test_state_dict_loads_with_or_without_prefixes(strip):
    state = torch.load(ATT / "state_dict.pt", weights_only=True)
    state = {key.removeprefix(strip): value for key, value in state.items()}
    model = fixture_model()
    mapping = load_official_state_dict(model, state)
    assert len(mapping) == len(state) == 15
    assert torch.equal(model.f_L.blocks[1].mlp.down.weight, state[f"{'_orig_mod.model.inner.'.removeprefix(strip)}"
                                                                   "L_level.layers.1.mlp.down_proj.weight"])
    assert torch.equal(model.H_init, state[[k for k in state if k.endswith("H_init")][0]])


def test_state_dict_errors_list_unused_missing_and_misshapen_keys():
    state = torch.load(ATT / "state_dict.pt", weights_only=True)
    extra = dict(state, **{"_orig_mod.model.inner.rotary_emb.cos_cached": torch.zeros(1)})
    with pytest.raises(OfficialCheckpointError, match="unused official keys.*rotary_emb.cos_cached"):
        load_official_state_dict(fixture_model(), extra)
    partial = {k: v for k, v in state.items() if "q_head.bias" not in k}
    with pytest.raises(OfficialCheckpointError, match=r"not in the checkpoint \['q_head.bias'\]"):
        load_official_state_dict(fixture_model(), partial)
    with pytest.raises(OfficialCheckpointError, match="shape mismatches.*L_level.layers.0.mlp.gate_up_proj"):
        load_official_state_dict(fixture_model(expansion=8.0), state)
    with pytest.raises(OfficialCheckpointError, match="our tensors not in the checkpoint.*pos_emb.weight"):
        load_official_state_dict(fixture_model(pos_encodings="learned"), state)


def test_bf16_official_buffers_load_exactly():
    state = torch.load(ATT / "state_dict.pt", weights_only=True)
    state = {k: (v.to(torch.bfloat16) if k.endswith("_init") else v) for k, v in state.items()}
    model = fixture_model()
    load_official_state_dict(model, state)
    assert model.H_init.dtype == torch.float32
    assert torch.equal(model.H_init, state["_orig_mod.model.inner.H_init"].float())


def test_load_official_checkpoint_from_a_file():
    fx = fixture_config()
    model = load_official_checkpoint(ATT / "state_dict.pt", fx["model_config"])
    assert model.cfg.hidden_size == 64 and model.seq_len == 81 and model.puzzle_emb.weights.shape == (5, 64)
    state = torch.load(ATT / "state_dict.pt", weights_only=True)
    assert torch.equal(model.lm_head.weight, state["_orig_mod.model.inner.lm_head.weight"])
    arch_only = {k: v for k, v in fx["resolved_config"].items() if k not in ("seq_len", "vocab_size", "batch_size",
                                                                               "num_puzzle_identifiers")}
    with pytest.raises(ConfigError, match="seq_len"):
        load_official_checkpoint(ATT / "state_dict.pt", {"arch": arch_only})
    model = load_official_checkpoint(ATT / "state_dict.pt", {"arch": arch_only}, seq_len=81)
    assert model.lm_head.weight.shape == (11, 64)  # vocabulary read from the checkpoint


def test_expected_file_prefers_this_cpus_official_outputs(tmp_path):
    """Official outputs replayed on this CPU model win over the folder's default expected.pt."""
    from trm.host import cpu_name
    from trm.official import cpu_key

    assert cpu_key("cpu: Intel(R) Xeon(R) Processor") == "intel-xeon-processor"
    assert cpu_key("AMD EPYC 9R14 96-Core Processor") == "amd-epyc-9r14-96-core-processor"
    (tmp_path / "expected.pt").write_bytes(b"")
    assert expected_file(tmp_path) == tmp_path / "expected.pt"
    own = tmp_path / f"expected.{cpu_key(cpu_name())}.pt"
    own.write_bytes(b"")
    assert expected_file(tmp_path) == own
