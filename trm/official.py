"""Bridge to the official TRM/HRM code: its config names, its checkpoints, its equivalence fixtures.

The official repository (SamsungSAILMontreal/TinyRecursiveModels) names things differently
(`L_level.layers.0.self_attn.qkv_proj.weight` is our `f_L.blocks.0.mixer.qkv.weight`); this
module holds that mapping once, so an official checkpoint loads into `RecursiveModel` and a
fixture folder made with the official classes (tests/data/official/*/README.md) can be replayed
and compared number by number.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Union

import torch

from trm.act import initial_carry, supervision_step
from trm.config import ModelConfig
from trm.errors import TrmError
from trm.host import cpu_name
from trm.model import RecursiveModel
from trm.schema import ConfigError, from_dict


class OfficialCheckpointError(TrmError):
    """An official state dict does not fit the model: names unused or missing, or shapes differ."""


# Prefixes the official training script puts in front of the inner model's names:
# `_orig_mod.` from torch.compile, `model.` from ACTLossHead, `inner.` from the ACT wrapper.
_PREFIXES = ("_orig_mod.", "model.", "inner.")

# official name (prefixes stripped) -> ours, first match wins.
_NAME_RULES = [
    (r"embed_tokens\.embedding_weight", "token_emb.weight"),
    (r"embed_pos\.embedding_weight", "pos_emb.weight"),
    (r"(lm_head\.weight|q_head\.weight|q_head\.bias|puzzle_emb\.weights|H_init|L_init)", r"\1"),
    (r"([LH])_level\.layers\.(\d+)\.self_attn\.qkv_proj\.weight", r"f_\1.blocks.\2.mixer.qkv.weight"),
    (r"([LH])_level\.layers\.(\d+)\.self_attn\.o_proj\.weight", r"f_\1.blocks.\2.mixer.out.weight"),
    (r"([LH])_level\.layers\.(\d+)\.mlp_t\.(gate_up|down)_proj\.weight", r"f_\1.blocks.\2.mixer.\3.weight"),
    (r"([LH])_level\.layers\.(\d+)\.mlp\.(gate_up|down)_proj\.weight", r"f_\1.blocks.\2.mlp.\3.weight"),
]

# Official architecture fields -> ModelConfig fields with the same meaning.
_SAME_MEANING = {
    "H_cycles": "h_cycles", "L_cycles": "l_cycles", "L_layers": "l_layers", "hidden_size": "hidden_size",
    "num_heads": "num_heads", "expansion": "expansion", "puzzle_emb_ndim": "puzzle_emb_ndim",
    "pos_encodings": "pos_encodings", "rms_norm_eps": "rms_norm_eps", "rope_theta": "rope_theta",
    "halt_max_steps": "halt_max_steps", "halt_exploration_prob": "halt_exploration_prob",
    "forward_dtype": "forward_dtype",
}
_REQUIRED = ("H_cycles", "L_cycles", "H_layers", "L_layers", "hidden_size", "num_heads", "expansion", "pos_encodings",
             "halt_max_steps", "halt_exploration_prob")
# Fields that describe the data or the run, not the architecture (sizes come from the dataset).
_NOT_ARCHITECTURE = {"batch_size", "seq_len", "vocab_size", "num_puzzle_identifiers", "causal", "model_class"}
_LOSS_TYPES = {"stablemax_cross_entropy": "stablemax", "softmax_cross_entropy": "softmax"}


def official_arch(resolved: dict) -> str:
    """'trm' or 'hrm' from the official class name (`name` or `model_class`), else from TRM-only fields."""
    name = str(resolved.get("name") or resolved.get("model_class") or "")
    if name:
        if name.startswith("recursive_reasoning.trm@"):
            return "trm"
        if name.startswith("recursive_reasoning.hrm@"):
            return "hrm"
        raise ConfigError("name", f"unsupported official architecture {name!r} (supported: recursive_reasoning.trm, "
                          "recursive_reasoning.hrm)")
    return "trm" if ("no_ACT_continue" in resolved or "puzzle_emb_len" in resolved) else "hrm"


def model_config_from_official(resolved: dict) -> ModelConfig:
    """Our ModelConfig from an official architecture config (the resolved pydantic fields).

    Accepts the fields of `TinyRecursiveReasoningModel_ACTV1Config` / `HierarchicalReasoningModel_ACTV1Config`,
    optionally with `name` (the `module@Class` of config/arch/*.yaml) or `model_class`, and the loss
    type as `loss_type` or `loss: {loss_type: ...}`. Data sizes (seq_len, vocab_size, ...) are
    ignored here. Official defaults apply to absent optional fields. Raises ConfigError.
    """
    arch = official_arch(resolved)
    unknown = set(resolved) - set(_SAME_MEANING) - _NOT_ARCHITECTURE - {
        "name", "loss", "loss_type", "H_layers", "mlp_t", "puzzle_emb_len", "no_ACT_continue"}
    if unknown:
        raise ConfigError(sorted(unknown)[0], f"unknown official config field(s) {sorted(unknown)}")
    for key in _REQUIRED:
        if key not in resolved:
            raise ConfigError(key, "missing required official config field")
    ours: dict[str, Any] = {"arch": arch, "puzzle_emb_ndim": 0, "forward_dtype": "bfloat16"}  # official defaults
    ours.update({mine: resolved[theirs] for theirs, mine in _SAME_MEANING.items() if theirs in resolved})
    ours["expansion"] = float(ours["expansion"])
    ours["mixer"] = "mlp" if resolved.get("mlp_t", False) else "attention"
    loss = resolved.get("loss_type") or (resolved.get("loss") or {}).get("loss_type", "stablemax_cross_entropy")
    if loss not in _LOSS_TYPES:
        raise ConfigError("loss_type", f"expected one of {sorted(_LOSS_TYPES)}, got {loss!r}")
    ours["loss_type"] = _LOSS_TYPES[loss]
    if arch == "trm":
        ours["h_layers"] = 0  # the official TRM ignores H_layers: one network serves both updates
        ours["puzzle_emb_len"] = resolved.get("puzzle_emb_len", 16)
        ours["act_continue"] = not resolved.get("no_ACT_continue", True)
    else:
        ours["h_layers"] = resolved["H_layers"]
        ours["puzzle_emb_len"] = 0  # HRM: always ceil(puzzle_emb_ndim / hidden_size) prefix positions
        ours["act_continue"] = True  # HRM always trains the Q-continue head and halts on q_halt > q_continue
    return from_dict(ModelConfig, ours)


def strip_official_prefixes(key: str) -> str:
    """`_orig_mod.model.inner.L_init` -> `L_init` (each prefix optional, in that order)."""
    for prefix in _PREFIXES:
        key = key.removeprefix(prefix)
    return key


def our_name(official_key: str) -> Optional[str]:
    """Our state-dict name for an official key (prefixes allowed), or None if it has no counterpart."""
    name = strip_official_prefixes(official_key)
    for pattern, replacement in _NAME_RULES:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, replacement, name)
    return None


def load_official_state_dict(model: RecursiveModel, state_dict: dict[str, torch.Tensor]) -> dict[str, str]:
    """Copy an official state dict into `model`; returns {official key: our name}.

    Keys may carry the `_orig_mod.` / `model.` / `inner.` prefixes of the official script. Every
    official key must map to one of our persistent tensors and every one of ours must be
    covered, with equal shapes; otherwise OfficialCheckpointError lists the offenders. Values are
    converted to our dtypes (bf16 official buffers become exact float32).
    """
    ours = model.state_dict()
    mapping: dict[str, str] = {}
    covered: set[str] = set()
    unused, shape_errors = [], []
    for key, tensor in state_dict.items():
        name = our_name(key)
        if name is None or name not in ours or name in covered:
            unused.append(key)
            continue
        covered.add(name)
        if tuple(tensor.shape) != tuple(ours[name].shape):
            shape_errors.append(f"{key}: {tuple(tensor.shape)} vs our {name} {tuple(ours[name].shape)}")
        else:
            mapping[key] = name
    missing = sorted(set(ours) - covered)
    if unused or missing or shape_errors:
        parts = []
        if unused:
            parts.append(f"unused official keys {unused}")
        if missing:
            parts.append(f"our tensors not in the checkpoint {missing}")
        if shape_errors:
            parts.append(f"shape mismatches {shape_errors}")
        raise OfficialCheckpointError("official state dict does not fit the model: " + "; ".join(parts))
    with torch.no_grad():
        for key, name in mapping.items():
            ours[name].copy_(state_dict[key])
    return mapping


def load_official_checkpoint(path: Union[str, Path], config: Union[dict, ModelConfig], *, seq_len: Optional[int] = None,
                             vocab_size: Optional[int] = None, num_puzzle_identifiers: Optional[int] = None) -> RecursiveModel:
    """A RecursiveModel (float32, CPU) holding the weights of an official checkpoint file.

    `config` is the official architecture config (a flat dict like config/arch/*.yaml resolved,
    or a full `all_config.yaml` dict with an `arch` section) or our ModelConfig. seq_len is taken
    from the argument or the config (it cannot be read from RoPE weights); vocab_size and
    num_puzzle_identifiers default to the checkpoint's table shapes.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    flat = {}
    if isinstance(config, ModelConfig):
        cfg = config
    else:
        flat = dict(config["arch"]) if isinstance(config.get("arch"), dict) else dict(config)
        cfg = model_config_from_official(flat)
    tables = {our_name(k): v.shape for k, v in state.items()}
    seq_len = seq_len or flat.get("seq_len")
    if seq_len is None:
        raise ConfigError("seq_len", f"{path}: give seq_len (the dataset's) to build the model")
    vocab_size = vocab_size or flat.get("vocab_size") or tables["token_emb.weight"][0]
    if num_puzzle_identifiers is None:
        num_puzzle_identifiers = flat.get("num_puzzle_identifiers") or (tables["puzzle_emb.weights"][0] if "puzzle_emb.weights" in tables else 1)
    model = RecursiveModel(cfg, seq_len=seq_len, vocab_size=vocab_size, num_puzzle_identifiers=num_puzzle_identifiers)
    load_official_state_dict(model, state)
    return model


def _fixture_model(folder: Path, fixture: dict, overrides: dict, cpu_matmul: str = "torch") -> tuple[RecursiveModel, dict[str, str]]:
    resolved = dict(fixture["resolved_config"], **overrides)
    cfg = model_config_from_official({**resolved, "model_class": fixture["model_class"], "loss_type": fixture["loss_type"]})
    cfg = replace(cfg, cpu_matmul=cpu_matmul)
    model = RecursiveModel(cfg, seq_len=resolved["seq_len"], vocab_size=resolved["vocab_size"],
                           num_puzzle_identifiers=resolved["num_puzzle_identifiers"])
    mapping = load_official_state_dict(model, torch.load(folder / "state_dict.pt", map_location="cpu", weights_only=True))
    return model, mapping


def cpu_key(name: str) -> str:
    """A file-name form of a CPU model name: 'cpu: Intel(R) Xeon(R) Processor' -> 'intel-xeon-processor'."""
    words = re.sub(r"\((r|tm)\)", " ", name.lower().removeprefix("cpu: "))
    return re.sub(r"[^a-z0-9]+", "-", words).strip("-") or "unknown"


def expected_file(folder: Union[str, Path], *, this_cpu_only: bool = False) -> Path:
    """The official outputs to compare with on this CPU: `expected.<cpu>.pt` when the official code
    was replayed on this CPU model (scripts/make_official_fixture.py --replay), else `expected.pt`
    (made on the CPU its README names). Rounding differs between CPUs' kernels and the recursion
    compounds it, so equivalence is only meaningful against the official code on the same CPU."""
    own = Path(folder) / f"expected.{cpu_key(cpu_name())}.pt"
    return own if this_cpu_only or own.exists() else Path(folder) / "expected.pt"


def _step_record(carry, out) -> dict:
    return {"logits": out.logits, "q_halt_logits": out.q_halt_logits, "q_continue_logits": out.q_continue_logits,
            "loss": out.loss.detach(), "metrics": out.metrics, "preds": out.preds,
            "halted": carry.halted.clone(), "steps": carry.steps.clone()}


def run_fixture(folder: Union[str, Path], *, cpu_matmul: str = "torch", device: str = "cpu") -> dict:
    """Replay an official-equivalence fixture with our model; returns a dict laid out like expected.pt.

    cpu_matmul: the model's float32 CPU matmul kernels (ModelConfig.cpu_matmul). device: where the
    model runs (scripts/gpu_check.py replays on CUDA); the returned tensors are on the CPU.

    Eval record (the official evaluate() loop on batch.pt from the all-halted initial carry, until
    every slot halted): per-step lists `logits`, `q_halt_logits`, `q_continue_logits`, `loss`,
    `metrics`, `preds`, `halted`, `steps`, and `num_steps`. Training record `train`: a fresh model with
    the fixture's train overrides, two training steps, backward on the first step's loss as
    returned: `per_step` (two step dicts), `grad_global_norm` (float64, over all parameters),
    `grad_norms` and `grads_small` keyed by the official names, `puzzle_emb_grad` (B, ndim) or None.
    """
    folder = Path(folder)
    fixture = json.loads((folder / "config.json").read_text())
    batch = torch.load(folder / "batch.pt", map_location=device, weights_only=True)

    model, _ = _fixture_model(folder, fixture, {}, cpu_matmul)
    model.to(device).eval()
    steps = []
    with torch.no_grad():
        carry = initial_carry(model, batch)
        for _ in range(model.cfg.halt_max_steps):
            carry, out = supervision_step(model, carry, batch, training=False)
            steps.append(_step_record(carry, out))
            if out.all_halted:
                break
    result: dict[str, Any] = {key: [step[key] for step in steps] for key in steps[0]}
    result["num_steps"] = len(steps)
    result["train"] = _train_record(folder, fixture, batch, cpu_matmul, device)
    return _on_cpu(result)


def _on_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_on_cpu(item) for item in value]
    return value


def _train_record(folder: Path, fixture: dict, batch: dict, cpu_matmul: str, device: str = "cpu") -> dict:
    model, mapping = _fixture_model(folder, fixture, fixture.get("train_config_overrides", {}), cpu_matmul)
    model.to(device).train()
    generator = torch.Generator().manual_seed(12345)  # the exploration draws stay the CPU's on any device
    carry = initial_carry(model, batch)
    carry, first = supervision_step(model, carry, batch, training=True, generator=generator)
    per_step = [_step_record(carry, first)]
    first.loss.backward()
    params = dict(model.named_parameters())
    official_of = {name: key for key, name in mapping.items()}
    grads = {name: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().to(torch.float64)
             for name, p in params.items()}
    record = {
        "grad_global_norm": torch.sqrt(sum(g.square().sum() for g in grads.values())),
        "grad_norms": {official_of[name]: g.norm() for name, g in grads.items()},
        "grads_small": {official_of[name]: g.to(torch.float32) for name, g in grads.items() if g.numel() <= 1024},
        "puzzle_emb_grad": None if model.puzzle_emb is None else model.puzzle_emb.local_weights.grad.clone(),
    }
    model.zero_grad(set_to_none=True)
    carry, second = supervision_step(model, carry, batch, training=True, generator=generator)
    per_step.append(_step_record(carry, second))
    record["per_step"] = per_step
    return record


# Max abs logit difference allowed per ACT step (step k: k * 1e-5). The fixture README asks 1e-5 at
# every step, but rounding compounds through the recursion and depends on the CPU's kernels: the
# official code itself, run on an AMD EPYC (AVX-512) with torch 2.13, reproduces trm_att_tiny to
# [2.7e-6, 3.0e-6, 5.4e-6, 1.24e-5] over its 4 steps, and the README's rounding-only variants reach
# 1.9e-5 at step 4. Step 1 keeps the strict 1e-5, where a semantic difference would show first.
LOGIT_TOLERANCE_PER_STEP = 1e-5


def compare_fixture(result: dict, expected: dict) -> list[str]:
    """Differences beyond the fixture tolerances: [] when `result` reproduces `expected`.

    Logits and Q logits: max abs diff <= k * 1e-5 at ACT step k (see LOGIT_TOLERANCE_PER_STEP);
    losses: relative 1e-6; integer metrics, preds, halted and steps exactly; float metrics within
    1e-6 relative + 1e-6 absolute; training grad_global_norm relative 1e-5 (per-parameter norms
    and the puzzle-embedding gradient too).
    """
    problems: list[str] = []
    if result["num_steps"] != expected["num_steps"]:
        problems.append(f"num_steps {result['num_steps']} != {expected['num_steps']}")
    for i in range(min(result["num_steps"], expected["num_steps"])):
        mine = {key: result[key][i] for key in ("logits", "q_halt_logits", "q_continue_logits", "loss", "metrics",
                                                 "preds", "halted", "steps")}
        theirs = {key: expected[key][i] for key in mine}
        problems += _compare_step(f"eval step {i + 1}", mine, theirs, (i + 1) * LOGIT_TOLERANCE_PER_STEP)
    if "train" in expected:
        mine, theirs = result["train"], expected["train"]
        for i, (a, b) in enumerate(zip(mine["per_step"], theirs["per_step"])):
            problems += _compare_step(f"train step {i + 1}", a, b, (i + 1) * LOGIT_TOLERANCE_PER_STEP)
        problems += _relative("train grad_global_norm", mine["grad_global_norm"], theirs["grad_global_norm"], 1e-5)
        for key, norm in theirs.get("grad_norms", {}).items():
            problems += _relative(f"train grad norm {key}", mine["grad_norms"].get(key, torch.tensor(math.nan)), norm, 1e-5)
        if theirs.get("puzzle_emb_grad") is not None:
            problems += _relative("train puzzle_emb_grad norm", mine["puzzle_emb_grad"].double().norm(),
                                  theirs["puzzle_emb_grad"].double().norm(), 1e-5)
            problems += _absolute("train puzzle_emb_grad", mine["puzzle_emb_grad"], theirs["puzzle_emb_grad"],
                                  1e-5 * float(theirs["puzzle_emb_grad"].abs().max()) + 1e-8)
    return problems


def _compare_step(where: str, mine: dict, theirs: dict, logit_tolerance: float) -> list[str]:
    problems = []
    for key in ("logits", "q_halt_logits", "q_continue_logits"):
        problems += _absolute(f"{where} {key}", mine[key], theirs[key], logit_tolerance)
    problems += _relative(f"{where} loss", mine["loss"], theirs["loss"], 1e-6)
    for key in ("preds", "halted", "steps"):
        if key in theirs and not torch.equal(mine[key].to(theirs[key].dtype), theirs[key]):
            problems.append(f"{where} {key} differ: {mine[key].tolist()} vs {theirs[key].tolist()}")
    if set(mine["metrics"]) != set(theirs["metrics"]):
        problems.append(f"{where} metric keys {sorted(mine['metrics'])} vs {sorted(theirs['metrics'])}")
    for key, value in theirs["metrics"].items():
        if key not in mine["metrics"]:
            continue
        got = mine["metrics"][key]
        if value.dtype.is_floating_point:
            if abs(float(got) - float(value)) > 1e-6 * abs(float(value)) + 1e-6:
                problems.append(f"{where} metric {key} {float(got)!r} vs {float(value)!r}")
        elif int(got) != int(value):
            problems.append(f"{where} metric {key} {int(got)} vs {int(value)}")
    return problems


def _absolute(what: str, mine: torch.Tensor, theirs: torch.Tensor, tol: float) -> list[str]:
    if tuple(mine.shape) != tuple(theirs.shape):
        return [f"{what}: shape {tuple(mine.shape)} vs {tuple(theirs.shape)}"]
    diff = float((mine.double() - theirs.double()).abs().max()) if mine.numel() else 0.0
    return [f"{what}: max abs diff {diff:.3g} > {tol:.3g}"] if not diff <= tol else []


def _relative(what: str, mine, theirs, tol: float) -> list[str]:
    a, b = float(mine), float(theirs)
    return [f"{what}: {a!r} vs {b!r} (relative tolerance {tol:g})"] if not abs(a - b) <= tol * abs(b) else []
