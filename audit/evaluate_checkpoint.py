"""Checkpoints as evidence: score given weights with a claim's protocol, without training.

    trm-audit evaluate CHECKPOINT --claim ID [--profile P] [--seed S]
        --read_checkpoint--> the weights to score (ours: trm.state's checkpoint dict, its EMA shadow or
          raw weights as the claim's protocol says; official: a state dict with the official key names)
        --score--> the profile's config at that seed builds the test split and the evaluation settings
          (trm.evaluate.evaluate: every example runs N_sup steps; ARC scores this checkpoint's votes alone)
        --build_evaluation_record--> run.json in runs/<claim>/<profile>/checkpoint-<sha256[:16]>-seed-<S>/

The record carries `checkpoint` {path, sha256, layout, step, weights}; audit.sources turns such
records into a source of their own ("<profile> (evaluated checkpoint)": the weights reproduce),
never pooled with the profile's trained runs (training reproduces). It is judged like any other
record (audit.evidence.standing): a profile changed since makes it stale.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from audit.errors import InputError
from audit.evidence import checkpoint_rule, scores_raw_beside_ema
from audit.records import FORMAT_VERSION, RunRecord, evaluation_dir, parse_record, write_record

DEFAULT_PROFILE = "paper"
# The official training script names its checkpoint files `step_<updates>`.
OFFICIAL_STEP = re.compile(r"^step_(\d+)")


@dataclass(frozen=True)
class LoadedCheckpoint:
    """The weights of a checkpoint file, ready to load, and what is known about them."""

    layout: str  # "ours" (trm.state's checkpoint) or "official" (a state dict with the official names)
    state_dict: dict  # name -> tensor, in the layout's names
    weights: str  # "ema" or "raw": which weights `state_dict` holds
    step: Optional[int]  # optimizer updates behind the weights; None when the file does not say
    model_config: Optional[dict]  # ours: the run's model section, to check against the profile's


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def read_checkpoint(path: Path, weights: str) -> LoadedCheckpoint:
    """Read a checkpoint file and pick the weights a protocol with `weights` ('ema' | 'raw') scores.

    Ours (a `format: 1` dict from trm.state): the EMA shadow over the raw weights when the protocol
    says 'ema' and the run kept one, else the raw weights; its step is the loop's position. Official
    (a flat name -> tensor dict, optionally with the `_orig_mod.model.inner.` prefixes): the weights
    as saved (the official script saves the copy it evaluates), the step from a `step_<n>` file name.
    Loaded with torch's weights_only unpickler, so a file cannot run code. Raises InputError.
    """
    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a file that is not a checkpoint
        raise InputError(f"{path}: not a readable checkpoint ({type(err).__name__}: {str(err).splitlines()[0]})") \
            from None
    if isinstance(saved, dict) and saved.get("format") == 1 and isinstance(saved.get("model"), dict):
        state = dict(saved["model"])
        ema = saved.get("ema")
        used = "ema" if weights == "ema" and ema is not None else "raw"
        if used == "ema":
            state.update(ema["shadow"])  # trm.ema: the shadow covers the trained parameters, buffers stay
        step = (saved.get("position") or {}).get("step")
        return LoadedCheckpoint("ours", state, used, int(step) if step is not None else None,
                                (saved.get("config") or {}).get("model"))
    if isinstance(saved, dict) and saved and all(isinstance(v, torch.Tensor) for v in saved.values()):
        match = OFFICIAL_STEP.match(Path(path).name)
        return LoadedCheckpoint("official", saved, weights, int(match.group(1)) if match else None, None)
    raise InputError(f"{path}: neither one of our checkpoints (trm.state, format 1) nor an official state dict "
                     "(name -> tensor)")


def score(cfg, loaded: LoadedCheckpoint, *, device: str, data_cache: Path) -> tuple[dict, dict]:
    """Score `loaded` on the test split of `cfg` (a TrainConfig); returns (evaluation, data provenance).

    evaluation: {step, epoch, metrics (fractions), counts}, as the trainer's; data: the processed
    dataset's source, hash and sizes, as a trained run's record has them. The evaluation settings are
    the config's (N_sup = model.halt_max_steps, eval batch); ARC scores this checkpoint's votes alone.
    """
    import torch

    from trm.data.dataset import PuzzleDataset
    from trm.data.prepare import absent_train_groups, prepare_dataset
    from trm.data.processed import read_build_info
    from trm.evaluate import evaluate
    from trm.model import RecursiveModel
    from trm.official import load_official_state_dict

    root = prepare_dataset(cfg.data, Path(data_cache))
    test_set = PuzzleDataset(root, "test")
    meta = test_set.meta
    model = RecursiveModel(cfg.model, seq_len=meta.seq_len, vocab_size=meta.vocab_size,
                           num_puzzle_identifiers=meta.num_puzzle_identifiers)
    if loaded.layout == "official":
        load_official_state_dict(model, loaded.state_dict)
    else:
        model.load_state_dict(loaded.state_dict)
    build = read_build_info(root) or {}
    data = {"task": cfg.data.task, "source": cfg.data.source, "processed_dir": str(root),
            "processed_hash": build.get("content_hash"), "seq_len": meta.seq_len,
            "test_examples": int(getattr(test_set, "num_examples", 0)) or None}
    arc = None
    if cfg.data.task == "arc":
        from trm.data.arc_eval import ArcEvaluator

        arc = ArcEvaluator(root, pool_votes=False, task_credit=cfg.train.eval_task_credit)
        data["arc_pool_votes"] = False  # one checkpoint: no earlier evaluations' votes to pool
        absent = absent_train_groups(build)
        if absent is not None:
            data["arc_absent"] = absent
    scores = evaluate(model.to(device), test_set, batch_size=cfg.train.eval_batch_size or cfg.train.global_batch_size,
                      device=torch.device(device), arc_evaluator=arc)
    evaluation = {"step": loaded.step or 0, "epoch": 0, "metrics": scores.metrics,
                  "counts": {k: list(v) for k, v in scores.counts.items()}}
    return evaluation, data


def evaluate_checkpoint(registry, claim_id: str, checkpoint: Path | str, *, runs_dir: Path | str,
                        data_cache: Path | str, profile: Optional[str] = None, seed: Optional[int] = None,
                        device: str = "cpu") -> RunRecord:
    """Evaluate one checkpoint file for `claim_id` with its protocol and write its record.

    profile: whose config gives the test split and evaluation settings (default 'paper'); seed:
    which of its seeds' configs (default its first declared seed; it matters where the data are
    drawn per seed). The checkpoint must hold that profile's architecture (ours: its model config
    is compared; official: every name and shape is). Returns the written record; the same
    checkpoint and seed evaluated again replaces its record. Raises InputError on bad input.
    """
    from audit.runner import code_version, record_evaluation, run_lock

    claim = registry.claim(claim_id)
    profile = profile or DEFAULT_PROFILE
    if profile not in claim.profiles:
        raise InputError(f"--profile: {claim_id} has no profile {profile!r} (known: {', '.join(claim.profiles)})")
    chosen = claim.profiles[profile]
    seed = chosen.seeds[0] if seed is None else seed
    cfg = chosen.config_for(seed)
    path = Path(checkpoint)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    sha = file_sha256(path)  # before reading: the digest names the bytes that were scored
    loaded = read_checkpoint(path, claim.protocol.weights)
    _check_architecture(loaded, cfg, path, claim_id, profile)
    started, clock = _now(), time.monotonic()
    evaluation, data = score(cfg, loaded, device=device, data_cache=Path(data_cache))
    wall = time.monotonic() - clock
    final = record_evaluation(evaluation, claim.metric)
    if final is None:
        raise InputError(f"{claim_id}: the evaluation gave no {claim.metric!r} (task {cfg.data.task})")
    record = {
        "format_version": FORMAT_VERSION, "claim_id": claim.id, "profile": profile, "seed": seed,
        "status": "completed", "error": None, "config": cfg.to_dict(), "config_hash": cfg.config_hash(),
        "metric": claim.metric, "code": code_version(),
        "data": {**data, "data_seed": chosen.data_seed},
        "environment": _environment(device),
        "started": started, "ended": _now(), "wall_time_s": wall, "device_hours": wall / 3600.0,
        "steps": loaded.step, "total_steps": None, "evaluations": [evaluation],
        # One evaluation: it is both the final and the best one, whichever the checkpoint rule selects.
        "final": final, "best": final, "selected": checkpoint_rule(claim),
        "checkpoint": {"path": str(checkpoint), "sha256": sha, "layout": loaded.layout, "step": loaded.step,
                       "weights": loaded.weights},
    }
    directory = evaluation_dir(Path(runs_dir), claim.id, profile, seed, sha)
    if scores_raw_beside_ema(parse_record(record, directory), claim):
        record.update(raw_final=final, raw_best=final)  # the weights scored are the raw ones the claim reads
    with run_lock(directory):
        return write_record(directory, record)


def _check_architecture(loaded: LoadedCheckpoint, cfg, path: Path, claim_id: str, profile: str) -> None:
    """Our checkpoint must have been trained with the profile's model: other weights would load
    into other shapes, or worse, into the same shapes with another meaning (cycles, N_sup)."""
    if loaded.model_config is None:
        return
    from trm.config import ModelConfig
    from trm.schema import ConfigError, from_dict

    try:
        theirs = from_dict(ModelConfig, loaded.model_config)
    except (ConfigError, TypeError) as err:
        raise InputError(f"{path}: its model config is not readable ({err})") from None
    if theirs != cfg.model:
        differ = sorted(k for k in cfg.model.__dataclass_fields__ if getattr(theirs, k) != getattr(cfg.model, k))
        raise InputError(f"{path}: trained with another model than {claim_id} / {profile} "
                         f"(differs in {', '.join('model.' + k for k in differ)})")


def _environment(device: str) -> dict:
    """What the evaluation ran on, as trm.host describes a trained run's machine (device name, versions)."""
    import torch

    from trm import host

    name = torch.cuda.get_device_name(torch.device(device)) if device == "cuda" else host.cpu_name()
    return host.environment(name, 1)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
