#!/usr/bin/env python3
"""Write an official-equivalence fixture folder by running the OFFICIAL TRM/HRM classes on CPU.

The official code is imported from a checkout given on the command line (never copied here), so
the folder records what the official implementation computes for one tiny configuration:
weights in the official checkpoint format, one batch, and the official outputs of every ACT
step plus one training step with gradients. The layout is the one of tests/data/official/README.md,
and `trm.official.run_fixture` replays it with our model.

Usage (the official code needs `einops` and `pydantic`, which this project does not depend on):
    PYTHONPATH=/path/to/einops+pydantic python scripts/make_official_fixture.py \
        --official /path/to/TinyRecursiveModels  --preset trm_mlp_tiny  --out tests/data/official

A CPU's float32 kernels round differently from another's, and the recursion compounds it: the
official code itself, given the same weights and batch, gives trm_mlp_tiny logits 1.2e-3 apart on
an AMD EPYC and an Intel Xeon. `--replay FOLDER` therefore records what the official code computes
on THIS CPU for a committed folder's own weights and batch, as `expected.<cpu>.pt` beside
`expected.pt` (see `trm.official.expected_file`), so that our model is always compared with the
official one on the same CPU:
    PYTHONPATH=... python scripts/make_official_fixture.py --official ... --replay tests/data/official/trm_mlp_tiny

Presets cover the official options that trm_att_tiny (made elsewhere, same procedure) leaves out:
the token-mixing MLP (`mlp_t`), positions none / learned, `puzzle_emb_len = 0` (the prefix length
derived from puzzle_emb_ndim, with zero padding), no puzzle embedding at all, and HRM with its
Q-continue target.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from pathlib import Path

import torch

OFFICIAL_COMMIT = "e7b68717f0a6c4cbb4ce6fbef787b14f42083bd9"
MODEL_SEED, FIRST_DATA_SEED, TRAIN_SEED = 0, 1001, 12345
BATCH = 6
# A fixture is kept only if rounding cannot flip what it checks exactly (argmax predictions,
# halting decisions) and its training step halts some rows but not all (so both the reset and
# the continue path of the carry are exercised); otherwise the next data seed is tried.
MIN_LOGIT_GAP, MIN_Q_MARGIN, SEED_TRIES = 1e-4, 1e-2, 30

_TRM = "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1"
_HRM = "recursive_reasoning.hrm@HierarchicalReasoningModel_ACTV1"
# hidden 32 and 36 cells keep every folder well under 1 MB
_COMMON = dict(halt_exploration_prob=0.1, halt_max_steps=4, hidden_size=32, num_heads=2, expansion=4,
               forward_dtype="float32", batch_size=BATCH, vocab_size=11, seq_len=36, causal=False)

PRESETS = {
    # MLP over positions, no positions, prefix length from puzzle_emb_ndim: ceil(48 / 32) = 2, zero-padded
    "trm_mlp_tiny": (_TRM, dict(_COMMON, H_cycles=2, L_cycles=2, H_layers=0, L_layers=2, puzzle_emb_ndim=48,
                                pos_encodings="none", mlp_t=True, puzzle_emb_len=0, no_ACT_continue=True,
                                num_puzzle_identifiers=5),
                     "TRM with the token-mixing MLP (`mlp_t`), no position encoding, `puzzle_emb_len` 0 with "
                     "`puzzle_emb_ndim` 48: ceil(48/32) = 2 prefix positions, the rest zero-padded"),
    # learned positions and no puzzle embedding: no prefix, the Q head reads the first grid token
    "trm_att_learned_tiny": (_TRM, dict(_COMMON, H_cycles=2, L_cycles=2, H_layers=0, L_layers=2, puzzle_emb_ndim=0,
                                        pos_encodings="learned", mlp_t=False, puzzle_emb_len=0,
                                        no_ACT_continue=True, num_puzzle_identifiers=1),
                             "TRM attention with learned positions and no puzzle embedding (`puzzle_emb_ndim` 0): "
                             "no prefix, the Q head reads the first grid position"),
    # HRM: two stacks, one-step gradient, Q-continue target from a second inner call
    "hrm_att_tiny": (_HRM, dict(_COMMON, H_cycles=2, L_cycles=2, H_layers=2, L_layers=2, puzzle_emb_ndim=32,
                                pos_encodings="rope", mlp_t=False, num_puzzle_identifiers=5),
                     "HRM (separate H and L stacks of 2 blocks, H_cycles 2, L_cycles 2), attention with RoPE, one "
                     "prefix position; training adds the Q-continue target and loss"),
}
RETURN_KEYS = ("logits", "q_halt_logits", "q_continue_logits", "preds", "target_q_continue")


def import_official(checkout: Path):
    """(losses module, {class path: class}) from an official work tree (needs models/ inside)."""
    if not (checkout / "models" / "recursive_reasoning").is_dir():
        sys.exit(f"{checkout}: not a TinyRecursiveModels work tree (no models/recursive_reasoning)")
    sys.path.insert(0, str(checkout.resolve()))
    losses = importlib.import_module("models.losses")
    classes = {}
    for path in (_TRM, _HRM):
        module, name = path.split("@")
        classes[path] = getattr(importlib.import_module(f"models.{module}"), name)
    return losses, classes


def build_wrapped(losses, model_cls, model_config: dict):
    """torch.compile(ACTLossHead(model)): never called, only for the official checkpoint key names."""
    head = losses.ACTLossHead(model_cls(model_config), loss_type="stablemax_cross_entropy")
    return head, torch.compile(head)


def overwrite_untested_weights(inner, hidden: int, data_seed: int) -> dict:
    """Random puzzle-embedding rows and Q head, so that the prefix and Q paths are really compared."""
    g = torch.Generator().manual_seed(data_seed)
    done = {}
    with torch.no_grad():
        if hasattr(inner, "puzzle_emb"):
            inner.puzzle_emb.weights.copy_(torch.randn(inner.puzzle_emb.weights.shape, generator=g) * 0.5)
            done["puzzle_emb.weights"] = "normal(0,1)*0.5 from torch.Generator().manual_seed(data_seed)"
        inner.q_head.weight.copy_(torch.randn(inner.q_head.weight.shape, generator=g) / math.sqrt(hidden))
        inner.q_head.bias.copy_(torch.randn(inner.q_head.bias.shape, generator=g) * 0.5)
    done["q_head.weight"] = "normal(0,1)/sqrt(hidden_size), same generator, after puzzle_emb"
    done["q_head.bias"] = "normal(0,1)*0.5, same generator, after q_head.weight"
    return done


def random_batch(cfg: dict, data_seed: int) -> dict:
    """Uniform tokens and labels; row b has 3 + 2b ignored labels, the last row is all ignored."""
    g = torch.Generator().manual_seed(data_seed + 1)
    inputs = torch.randint(0, cfg["vocab_size"], (BATCH, cfg["seq_len"]), generator=g, dtype=torch.int32)
    labels = torch.randint(0, cfg["vocab_size"], (BATCH, cfg["seq_len"]), generator=g, dtype=torch.int32)
    for row in range(BATCH - 1):
        labels[row, torch.randperm(cfg["seq_len"], generator=g)[: 3 + 2 * row]] = -100
    labels[BATCH - 1] = -100
    ids = torch.randint(0, cfg["num_puzzle_identifiers"], (BATCH,), generator=g, dtype=torch.int32)
    return {"inputs": inputs, "labels": labels, "puzzle_identifiers": ids}


def eval_record(head, batch: dict) -> dict:
    """The official evaluate() loop on one batch: eval mode, no autograd, until every row halted."""
    head.eval()
    record = {key: [] for key in ("logits", "q_halt_logits", "q_continue_logits", "loss", "preds", "halted", "steps",
                                  "metrics")}
    z_H_pos0 = []
    with torch.no_grad():
        carry = head.initial_carry(batch)
        while True:
            carry, loss, metrics, outputs, all_halted = head(return_keys=RETURN_KEYS, carry=carry, batch=batch)
            for key in ("logits", "q_halt_logits", "q_continue_logits", "preds"):
                record[key].append(outputs[key].clone())
            record["loss"].append(loss.detach().clone())
            record["metrics"].append({k: v.detach().clone() for k, v in metrics.items()})
            record["halted"].append(carry.halted.clone())
            record["steps"].append(carry.steps.clone())
            z_H_pos0.append(carry.inner_carry.z_H[:, 0].clone())
            if all_halted:
                break
    record["num_steps"] = len(record["loss"])
    record["debug"] = {"z_H_pos0": z_H_pos0}
    return record


def train_record(losses, model_cls, model_config: dict, state: dict, batch: dict) -> dict:
    """Two training-mode ACT steps from the initial carry; gradients of the first step's loss."""
    head, wrapped = build_wrapped(losses, model_cls, dict(model_config, halt_exploration_prob=0.0))
    wrapped.load_state_dict(state, assign=True)
    head.train()
    torch.manual_seed(TRAIN_SEED)
    carry = head.initial_carry(batch)
    per_step, grads = [], {}
    inner = head.model.inner
    for step in range(2):
        carry, loss, metrics, outputs, _ = head(return_keys=RETURN_KEYS, carry=carry, batch=batch)
        per_step.append({"loss": loss.detach().clone(), "logits": outputs["logits"].clone(),
                         "q_halt_logits": outputs["q_halt_logits"].clone(),
                         "q_continue_logits": outputs["q_continue_logits"].clone(),
                         "metrics": {k: v.detach().clone() for k, v in metrics.items()},
                         "halted": carry.halted.clone(), "steps": carry.steps.clone()})
        if step == 0:
            loss.backward()
            grads = {name: p.grad.detach().to(torch.float64).clone() for name, p in wrapped.named_parameters()
                     if p.grad is not None}
            emb_grad = inner.puzzle_emb.local_weights.grad.detach().clone() if hasattr(inner, "puzzle_emb") else None
            head.zero_grad(set_to_none=True)
    return {
        "per_step": per_step,
        "grad_global_norm": torch.sqrt(sum(g.square().sum() for g in grads.values())),
        "grad_norms": {name: g.norm() for name, g in grads.items()},
        "grads_small": {name: g.to(torch.float32) for name, g in grads.items() if g.numel() <= 1024},
        "puzzle_emb_grad": emb_grad,
        "puzzle_emb_grad_norm": None if emb_grad is None else emb_grad.double().norm(),
        "halt_exploration_prob": 0.0,
    }


def margins(expected: dict, hrm: bool) -> dict:
    """How far the recorded numbers are from flipping an argmax or a halting decision."""
    gaps = [float((top[..., 0] - top[..., 1]).min()) for top in
            (logits.topk(2, dim=-1).values for logits in expected["logits"] + [s["logits"] for s in expected["train"]["per_step"]])]
    q_values = expected["q_halt_logits"] + [s["q_halt_logits"] for s in expected["train"]["per_step"]]
    result = {"min_top1_top2_logit_gap": min(gaps), "min_abs_q_halt": min(float(q.abs().min()) for q in q_values)}
    if hrm:
        result["min_abs_q_halt_minus_q_continue"] = min(float((s["q_halt_logits"] - s["q_continue_logits"]).abs().min())
                                                        for s in expected["train"]["per_step"])
    return result


def acceptable(found: dict, halted: list[bool]) -> bool:
    q_margin = min(v for k, v in found.items() if k != "min_top1_top2_logit_gap")
    return found["min_top1_top2_logit_gap"] >= MIN_LOGIT_GAP and q_margin >= MIN_Q_MARGIN and 0 < sum(halted) < len(halted)


def write_fixture(losses, classes, name: str, out: Path) -> dict:
    """Try data seeds until the record is acceptable, then write the folder; returns a summary."""
    class_path, model_config, description = PRESETS[name]
    for data_seed in range(FIRST_DATA_SEED, FIRST_DATA_SEED + SEED_TRIES):
        made = make_record(losses, classes[class_path], model_config, data_seed)
        found = margins(made["expected"], class_path == _HRM)
        if acceptable(found, made["expected"]["train"]["per_step"][0]["halted"].tolist()):
            break
    else:
        sys.exit(f"{name}: no acceptable data seed in {SEED_TRIES} tries")
    expected = made["expected"]
    expected.update(format_version=1, name=name)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(made["state"], folder / "state_dict.pt")
    torch.save(made["batch"], folder / "batch.pt")
    torch.save(expected, folder / "expected.pt")
    config = {
        "name": name, "model_class": class_path, "loss_head": "losses@ACTLossHead",
        "loss_type": "stablemax_cross_entropy", "model_config": model_config, "resolved_config": made["resolved"],
        "puzzle_emb_len_effective": made["prefix_len"],
        "train_config_overrides": {"halt_exploration_prob": 0.0}, "state_dict_prefix": "_orig_mod.model.inner.",
        "model_seed": MODEL_SEED, "data_seed": data_seed, "overwrites": made["overwrites"],
        "official_commit": OFFICIAL_COMMIT, "torch_version": torch.__version__, "device": "cpu",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "README.md").write_text(readme(name, description, config, made["state"], expected, found))
    return {"folder": str(folder), "data_seed": data_seed, "bytes": sum(f.stat().st_size for f in folder.iterdir()),
            **found, "train_step1_halted": expected["train"]["per_step"][0]["halted"].tolist(),
            "final_exact_accuracy": int(expected["metrics"][-1]["exact_accuracy"])}


def make_record(losses, model_cls, model_config: dict, data_seed: int) -> dict:
    """Weights, batch and the official eval and training records for one data seed."""
    torch.manual_seed(MODEL_SEED)
    head, wrapped = build_wrapped(losses, model_cls, model_config)
    overwrites = overwrite_untested_weights(head.model.inner, model_config["hidden_size"], data_seed)

    batch = random_batch(model_config, data_seed)
    final_preds = eval_record(head, batch)["preds"][-1]
    solved = batch["labels"][2] != -100  # row 2 becomes correct at the last step: exactness and a Q target of 1
    batch["labels"][2, solved] = final_preds[2, solved].to(torch.int32)

    expected = eval_record(head, batch)
    state = {key: value.detach().clone() for key, value in wrapped.state_dict().items()}
    expected["train"] = train_record(losses, model_cls, model_config, state, batch)
    return {"expected": expected, "state": state, "batch": batch, "overwrites": overwrites,
            "resolved": head.model.config.model_dump(), "prefix_len": head.model.inner.puzzle_emb_len}


def readme(name, description, config, state, expected, found) -> str:
    rows = "\n".join(f"| `{key}` | {tuple(value.shape)} | {str(value.dtype).removeprefix('torch.')} |"
                     for key, value in state.items())
    metric_keys = ", ".join(sorted(expected["metrics"][0]))
    train_keys = ", ".join(sorted(expected["train"]["per_step"][0]["metrics"]))
    halted = expected["train"]["per_step"][0]["halted"].tolist()
    lines = [
        f"# Official-equivalence fixture `{name}`",
        "",
        f"{description}. Made by `scripts/make_official_fixture.py --preset {name}` with the official classes "
        f"(`{config['model_class']}` in `ACTLossHead`, stablemax) of commit `{OFFICIAL_COMMIT}`, on CPU in float32 "
        f"with torch {config['torch_version']} and one intra-op thread. The files and the procedure are those of "
        "`../README.md` and `../trm_att_tiny/README.md`: weights from the official constructor after "
        f"`torch.manual_seed({MODEL_SEED})` except the overwrites in `config.json`; eval record = the official "
        "evaluation loop on `batch.pt` until every row halted; training record = a fresh model with "
        "`halt_exploration_prob` 0 loaded from `state_dict.pt`, two training steps, backward on the first step's "
        "loss as returned.",
        "",
        "## state_dict.pt",
        "",
        "| key | shape | dtype |",
        "|---|---|---|",
        rows,
        "",
        "## Record",
        "",
        f"- {expected['num_steps']} eval steps; prefix positions: {config['puzzle_emb_len_effective']}; "
        f"eval metric keys: {metric_keys}; training metric keys: {train_keys}.",
        f"- Training step-1 halted flags: {halted}. Final eval exact_accuracy: "
        f"{int(expected['metrics'][-1]['exact_accuracy'])} (row 2 solved by construction, row 5 all ignored).",
        f"- Margins: smallest top-1 minus top-2 logit gap {found['min_top1_top2_logit_gap']:.3g}, smallest "
        f"|q_halt| {found['min_abs_q_halt']:.3g}"
        + (f", smallest |q_halt - q_continue| in training {found['min_abs_q_halt_minus_q_continue']:.3g}"
           if "min_abs_q_halt_minus_q_continue" in found else "")
        + ": argmax metrics and halting decisions cannot flip within the logit tolerance.",
        "",
    ]
    return "\n".join(lines)


def replay_fixture(losses, classes, folder: Path) -> dict:
    """The official eval and training records of a committed folder's weights and batch on this CPU,
    written to `expected.<cpu>.pt` in that folder (the folder's other files are left as they are)."""
    from trm.official import expected_file

    config = json.loads((folder / "config.json").read_text())
    model_cls = classes[config["model_class"]]
    state = torch.load(folder / "state_dict.pt", map_location="cpu", weights_only=True)
    batch = torch.load(folder / "batch.pt", map_location="cpu", weights_only=True)
    head, wrapped = build_wrapped(losses, model_cls, config["model_config"])
    wrapped.load_state_dict(state, assign=True)
    expected = eval_record(head, batch)
    expected["train"] = train_record(losses, model_cls, config["model_config"], state, batch)
    expected.update(format_version=1, name=config["name"])
    target = expected_file(folder, this_cpu_only=True)
    torch.save(expected, target)
    return {"written": str(target), **margins(expected, config["model_class"] == _HRM)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", type=Path, required=True, help="work tree of SamsungSAILMontreal/TinyRecursiveModels")
    parser.add_argument("--preset", choices=sorted(PRESETS), action="append", help="default: all presets")
    parser.add_argument("--out", type=Path, default=Path("tests/data/official"))
    parser.add_argument("--replay", type=Path, action="append",
                        help="a committed fixture folder: record the official outputs of its weights on this CPU")
    args = parser.parse_args()
    torch.set_num_threads(1)
    losses, classes = import_official(args.official)
    if args.replay:
        for folder in args.replay:
            print(json.dumps(replay_fixture(losses, classes, folder)))
        return
    for name in args.preset or sorted(PRESETS):
        print(json.dumps(write_fixture(losses, classes, name, args.out)))


if __name__ == "__main__":
    main()
