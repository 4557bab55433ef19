"""The training state of one process of a run: built once, saved in every checkpoint, restored on a rerun.

    state = TrainState.build(cfg, train_set, ctx)    # model, both optimisers, EMA, random streams
    state.restore(run_dir / "checkpoint", metrics_log)   # True when it continued a checkpoint
    ... the loop advances state.carry and state.position, the optimisers change the weights ...
    state.save(run_dir / "checkpoint", metrics_log, wall_time_s)

A checkpoint holds everything needed to continue bit for bit: the weights, both optimisers, the
EMA shadow, ARC's pooled votes, where the loop is (`Position`), the length of metrics.csv, and per
rank the persistent ACT carry and the random generators. Its layout (the `format: 1` dict below)
is unchanged since the first trainer, so any checkpoint written so far resumes.
`trm.checkpoint` moves the bytes (atomic writes, digests, fallback); this module decides what they are.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from trm import distributed
from trm.act import Carry
from trm.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from trm.config import TrainConfig
from trm.ema import EMA
from trm.model import RecursiveModel
from trm.optim import AdamATan2, SignSGDEmbedding, build_optimisers
from trm.errors import ConfigError, ResumeConfigMismatch, ResumeMismatch, ResumeWorldSizeMismatch
from trm.result import MetricsLog
from trm.seeding import run_seeds

log = logging.getLogger(__name__)

# What an ArcEvaluator accumulates between evaluations (pooled votes, round bookkeeping); the rest
# of it (ground truth, identifier names) is rebuilt from the dataset, so it is not saved.
_ARC_VOTE_STATE = ("votes", "rounds", "_round_closed")


@dataclass
class Position:
    """Where the loop is; saved in every checkpoint."""

    step: int = 0
    """optimizer updates done"""
    iteration: int = 0
    """loader iteration in progress (each is eval_interval epochs, then an evaluation)"""
    batch_index: int = 0
    """batches of that iteration already consumed"""
    evaluations: list = field(default_factory=list)
    """EvalResult dicts so far"""
    wall_time_s: float = 0.0
    """time spent in earlier sessions of this run"""


@dataclass(eq=False)
class TrainState:
    """Everything one process of a run carries from one optimizer update to the next.

    The model, optimisers, EMA, generator and ARC evaluator are the same objects for the whole run
    (changed in place); the loop replaces `carry` after every update and moves `position` on.
    """

    model: RecursiveModel
    adam: AdamATan2
    """every parameter"""
    sign_sgd: Optional[SignSGDEmbedding]
    """the puzzle-embedding rows; None without a puzzle embedding"""
    ema: Optional[EMA]
    """None when cfg.train.ema is off"""
    explore: torch.Generator
    """this rank's ACT exploration draws"""
    arc: Optional[object]
    """ARC's pass@k scorer (an ArcEvaluator, pooling votes across evaluations); None for other tasks"""
    ctx: distributed.Context
    config: TrainConfig
    """the run's config; a checkpoint made under another config (by meaning) is refused"""
    arc_raw: Optional[object] = None
    """the raw weights' own ARC scorer when train.eval_raw_weights: their votes never mix with the EMA's"""
    carry: Optional[Carry] = None
    """the persistent ACT carry (B slots of this rank); None until the first batch"""
    position: Position = field(default_factory=Position)

    @classmethod
    def build(cls, cfg: TrainConfig, train_set, ctx: distributed.Context) -> "TrainState":
        """A fresh state for process `ctx` of the run `cfg` on `train_set` (a PuzzleDataset: sizes, root).

        Every rank starts from rank 0's initial weights; torch's global generator and the
        exploration generator are then seeded per rank (trm.seeding). Learning rates start at 0:
        the schedule sets them before every update.
        """
        seeds = run_seeds(cfg.seed, ctx.rank)
        meta = train_set.meta
        torch.manual_seed(seeds.model_init)
        model = RecursiveModel(cfg.model, seq_len=meta.seq_len, vocab_size=meta.vocab_size,
                               num_puzzle_identifiers=meta.num_puzzle_identifiers).to(ctx.device)
        distributed.broadcast_module(model)
        torch.manual_seed(seeds.torch_global)
        explore = torch.Generator(ctx.device).manual_seed(seeds.exploration)
        if cfg.train.compile:
            model.compile()
        adam, sign_sgd = build_optimisers(model, cfg.train)
        return cls(model=model, adam=adam, sign_sgd=sign_sgd,
                   ema=EMA(model, cfg.train.ema_rate) if cfg.train.ema else None,
                   explore=explore, arc=_arc_evaluator(cfg, train_set.root),
                   arc_raw=_arc_evaluator(cfg, train_set.root) if cfg.train.eval_raw_weights else None,
                   ctx=ctx, config=cfg)

    @property
    def config_hash(self) -> str:
        return self.config.config_hash()

    def eval_model(self) -> torch.nn.Module:
        """What an evaluation scores: a copy holding the EMA weights, or the model itself without EMA."""
        return self.ema.ema_model(self.model) if self.ema is not None else self.model

    def save(self, directory: Path, metrics_log: MetricsLog, wall_time_s: float) -> None:
        """Write a checkpoint of this state into `directory` (every rank calls it; rank 0 writes).

        metrics_log: the run's metrics.csv, whose current length is recorded so a resume can cut
        later rows; wall_time_s: the run's time so far, this session included.
        """
        state = self._snapshot(metrics_log.size(), wall_time_s)
        if self.ctx.is_main:
            save_checkpoint(directory, state)

    def restore(self, directory: Path, metrics_log: MetricsLog) -> bool:
        """Continue from the newest intact checkpoint in `directory`, if there is one.

        Loads it into this state and cuts `metrics_log` back to its length then; without a
        checkpoint the log is cut to its header (rows of a session that died before its first
        checkpoint). Returns whether a checkpoint was restored. Raises ResumeMismatch when the
        checkpoint belongs to another config or world size.
        """
        # Rank 0 reads first (it sets damaged files aside), then the others read what it kept.
        saved = load_checkpoint(directory) if self.ctx.is_main else None
        distributed.barrier()
        if not self.ctx.is_main:
            saved = load_checkpoint(directory)
        if saved is None:
            metrics_log.truncate_to(0)
            return False
        self._load(saved)
        metrics_log.truncate_to(saved["metrics_bytes"])
        log.info("resumed at step %d (iteration %d, batch %d)",
                 self.position.step, self.position.iteration, self.position.batch_index)
        return True

    def _same_config(self, saved: dict) -> bool:
        """Whether a checkpoint was made under this run's config, judged by meaning as run records are:
        its saved config validated again equals ours, so a field added to the trainer since, whose
        default keeps the old behaviour, does not throw away an unfinished run's progress. A
        checkpoint that predates the saved config (hash only) must match the hash."""
        if "config" not in saved:
            return saved["config_hash"] == self.config_hash
        try:
            return TrainConfig.from_dict(saved["config"]) == self.config
        except (ConfigError, TypeError):
            return False

    def _snapshot(self, metrics_bytes: int, wall_time_s: float) -> dict:
        """The checkpoint dict (format 1); per-rank parts are gathered to rank 0, other ranks get {}."""
        cuda = self.ctx.device.type == "cuda"
        rank_state = {"carry": _to_cpu(self.carry.__dict__ if self.carry is not None else None),
                      "explore": self.explore.get_state(), "torch": torch.get_rng_state(),
                      "cuda": torch.cuda.get_rng_state(self.ctx.device) if cuda else None}
        ranks = distributed.gather_objects(rank_state)
        if not self.ctx.is_main:
            return {}
        # An ARC run scoring its raw weights adds their votes under their own key; every other
        # checkpoint keeps the layout earlier versions wrote (tests/trm/test_state.py).
        raw_votes = {"arc_raw_votes": _vote_state(self.arc_raw)} if self.arc_raw is not None else {}
        return {
            "format": 1, "config_hash": self.config_hash, "config": self.config.to_dict(),
            "world_size": self.ctx.world_size,
            "position": dict(self.position.__dict__, wall_time_s=wall_time_s),
            "model": self.model.state_dict(),
            "adam": self.adam.state_dict(),
            "sign_sgd": self.sign_sgd.state_dict() if self.sign_sgd is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "arc_votes": _vote_state(self.arc),
            "metrics_bytes": metrics_bytes,
            "ranks": ranks,
            **raw_votes,
        }

    def _load(self, saved: dict) -> None:
        if not self._same_config(saved):
            raise ResumeConfigMismatch(f"checkpoint config {saved['config_hash']} differs from this run's "
                                 f"{self.config_hash}; use a fresh run directory")
        if saved["world_size"] != self.ctx.world_size:
            raise ResumeWorldSizeMismatch(f"checkpoint was written by {saved['world_size']} processes, this run has "
                                 f"{self.ctx.world_size}")
        self.model.load_state_dict(saved["model"])
        self.adam.load_state_dict(saved["adam"])
        if self.sign_sgd is not None:
            self.sign_sgd.load_state_dict(saved["sign_sgd"])
        if self.ema is not None:
            self.ema.load_state_dict(saved["ema"])
        if self.arc is not None:
            self.arc.__dict__.update(saved["arc_votes"])
        if self.arc_raw is not None:
            self.arc_raw.__dict__.update(saved["arc_raw_votes"])
        mine = saved["ranks"][self.ctx.rank]
        self.explore.set_state(mine["explore"])
        torch.set_rng_state(mine["torch"])
        if mine["cuda"] is not None:
            torch.cuda.set_rng_state(mine["cuda"], self.ctx.device)
        if mine["carry"] is not None:
            self.carry = Carry(**{k: _to_device(v, self.ctx.device) for k, v in mine["carry"].items()})
        self.position = Position(**saved["position"])


def checkpoint_step(directory: Path) -> Optional[int]:
    """The optimizer step (`Position.step`) a run would resume at from `directory` (its checkpoint/),
    or None when no checkpoint there can be opened.

    Read-only, for status displays: unlike `restore` it checks no digest and sets no damaged file
    aside (the resume does both); tensors are memory-mapped, so a 4 GB checkpoint is not read whole.
    """
    for _, path in list_checkpoints(directory):
        try:
            saved = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
            return int(saved["position"]["step"])
        except Exception:  # a torn or foreign file: the next older one may open (as restore falls back)
            continue
    return None


def _vote_state(evaluator) -> Optional[dict]:
    """What an ARC scorer must carry across a resume (its pooled votes and round), or None without one."""
    return {k: evaluator.__dict__[k] for k in _ARC_VOTE_STATE} if evaluator is not None else None


def _arc_evaluator(cfg: TrainConfig, dataset_root: Path):
    """ARC's pass@k scorer for the whole run: it pools votes across evaluations when
    cfg.train.eval_pool_votes (the official default), else scores each evaluation on its own."""
    if cfg.data.task != "arc":
        return None
    from trm.data.arc_eval import ArcEvaluator

    return ArcEvaluator(dataset_root, pool_votes=cfg.train.eval_pool_votes, task_credit=cfg.train.eval_task_credit)


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    return obj


def _to_device(obj, device: torch.device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj
