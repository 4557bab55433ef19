"""What a training run returns: its evaluations and how it ended (JSON-able, no tensors).

`EvalResult.metrics` holds fractions (exact_accuracy 0.874, not 87.4); `counts` holds the
(correct, total) integers behind exact_accuracy and every pass@k, so that binomial intervals can be
computed later. `RunResult.final` is the last evaluation, `best` the one with the highest primary
metric: it is labelled as such and never stands in for the final one. An EMA run with
`eval_raw_weights` also scores its raw weights at every evaluation (`EvalResult.raw`), and
`raw_final` / `raw_best` pick from those the same way.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional


@dataclass(frozen=True)
class EvalResult:
    """One evaluation on the test split after `step` optimizer updates and `epoch` epochs."""

    step: int
    epoch: int
    metrics: dict
    """name -> fraction (accuracy, exact_accuracy, q_halt_accuracy, steps, losses, pass@k)"""
    counts: dict
    """name -> [correct, total] for exact_accuracy and pass@k"""
    raw: Optional["EvalResult"] = None
    """the raw weights scored at the same step, beside the EMA copy (OptimConfig.eval_raw_weights); else None"""

    def to_dict(self) -> dict:
        out = {"step": self.step, "epoch": self.epoch, "metrics": dict(self.metrics),
               "counts": {k: list(v) for k, v in self.counts.items()}}
        if self.raw is not None:  # absent, not null: dicts of runs without it stay as they were
            out["raw"] = self.raw.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "EvalResult":
        return cls(step=int(data["step"]), epoch=int(data["epoch"]), metrics=dict(data["metrics"]),
                   counts={k: list(v) for k, v in data["counts"].items()},
                   raw=cls.from_dict(data["raw"]) if data.get("raw") else None)

    def value(self, metric: str) -> float:
        return float(self.metrics[metric])


@dataclass(frozen=True)
class RunResult:
    """The outcome of `trm.train.train`: status, budget, evaluations, provenance."""

    status: str
    """'completed' or 'failed'"""
    error: Optional[str]
    """why a failed run stopped (e.g. 'non-finite loss nan at step 12'); None when completed"""
    steps: int
    """optimizer updates done"""
    total_steps: int
    """planned updates: int(epochs * total_groups * mean_puzzle_examples / global batch), capped"""
    primary_metric: str
    """'exact_accuracy' (Sudoku, Maze) or 'pass@2' (ARC)"""
    evaluations: tuple = ()
    """EvalResult after each loader iteration, in order"""
    final: Optional[EvalResult] = None
    best: Optional[EvalResult] = None
    data: dict = field(default_factory=dict)
    """source, processed directory (and its hash), split sizes"""
    environment: dict = field(default_factory=dict)
    """python, torch, numpy, device, world_size, threads"""
    wall_time_s: float = 0.0

    @property
    def raw_final(self) -> Optional[EvalResult]:
        """The raw weights' score at the final evaluation (None unless the run scored them)."""
        return self.final.raw if self.final else None

    @property
    def raw_best(self) -> Optional[EvalResult]:
        """The raw weights' best score over the run by the primary metric (None unless scored)."""
        return pick_best(tuple(e.raw for e in self.evaluations if e.raw is not None), self.primary_metric)

    def to_dict(self) -> dict:
        """A JSON-able dict; `raw_final` / `raw_best` are added only when the run scored the raw weights."""
        out = asdict(self)
        out["evaluations"] = [e.to_dict() for e in self.evaluations]
        out["final"] = self.final.to_dict() if self.final else None
        out["best"] = self.best.to_dict() if self.best else None
        if self.raw_final is not None:
            out["raw_final"] = self.raw_final.to_dict()
            out["raw_best"] = self.raw_best.to_dict() if self.raw_best else None
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "RunResult":
        evals = tuple(EvalResult.from_dict(e) for e in data.get("evaluations", ()))
        final = EvalResult.from_dict(data["final"]) if data.get("final") else None
        best = EvalResult.from_dict(data["best"]) if data.get("best") else None
        return cls(status=data["status"], error=data.get("error"), steps=int(data["steps"]),
                   total_steps=int(data["total_steps"]), primary_metric=data["primary_metric"],
                   evaluations=evals, final=final, best=best, data=dict(data.get("data", {})),
                   environment=dict(data.get("environment", {})), wall_time_s=float(data.get("wall_time_s", 0.0)))


def pick_best(evaluations: tuple, metric: str) -> Optional[EvalResult]:
    """The evaluation with the highest `metric`; the earliest one wins a tie."""
    best = None
    for ev in evaluations:
        if metric in ev.metrics and (best is None or ev.value(metric) > best.value(metric)):
            best = ev
    return best


class MetricsLog:
    """`metrics.csv` (columns step,split,metric,value), appended row by row as the run goes.

    Rows are flushed at once so a killed run leaves every row it logged; `size()` is the byte length
    a checkpoint records, and `truncate_to(size)` drops the rows written after that checkpoint when a
    run resumes, so a resumed run's file equals an uninterrupted run's byte for byte.
    """

    HEADER = "step,split,metric,value\n"

    def __init__(self, path, enabled: bool = True):
        from pathlib import Path

        self.path = Path(path)
        self.enabled = enabled
        if enabled and (not self.path.exists() or self.path.stat().st_size == 0):
            self.path.write_text(self.HEADER)

    def write(self, step: int, split: str, metrics: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            for name in sorted(metrics):
                f.write(f"{step},{split},{name},{float(metrics[name])!r}\n")

    def size(self) -> int:
        return self.path.stat().st_size if self.enabled else 0

    def truncate_to(self, size: int) -> None:
        """Keep the first `size` bytes (at least the header)."""
        if not self.enabled:
            return
        with open(self.path, "r+b") as f:
            f.truncate(max(size, len(self.HEADER)))
