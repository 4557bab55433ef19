"""ARC pass@k with TRM's voting over task versions (docs/data-formats.md §5.2).

Per test row (padding rows, identifier 0, are skipped): crop the input and the predicted grid off
the canvas, undo the version's dihedral transform and colour map, and file the prediction with its
confidence sigmoid(q_halt_logit) under (task, hash of the un-augmented input). Per task and test
input, distinct predicted grids are ranked by (votes, mean confidence), descending; the input is
solved at k if the true output is among the first k (an input without predictions is not solved).
A task's score is the fraction of its test inputs solved (`task_credit="fraction"`, TRM's
evaluators/arc.py) or 1 when all of them are solved and 0 otherwise (`task_credit="all"`, HRM's
arc_eval.ipynb); pass@k is the mean task score over all held-out tasks.

Votes pool across evaluations when `pool_votes` (the official default, aggregated_voting=True: one
evaluator for the whole run); with pool_votes=False, `result()` closes a round and the next
`update` starts a fresh one, so each checkpoint is scored on its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from trm.data.encoding import arc_crop, grid_hash
from trm.data.processed import read_identifiers, read_meta, read_test_puzzles
from trm.data.symmetry import parse_arc_version

PASS_KS = (1, 2, 5, 10, 100, 1000)
TASK_CREDITS = ("fraction", "all")


@dataclass
class _Votes:
    """Predictions for one (task, test input): grid hash -> [count, summed confidence]."""

    tally: dict = field(default_factory=dict)

    def add(self, grid_key: str, confidence: float) -> None:
        entry = self.tally.setdefault(grid_key, [0, 0.0])
        entry[0] += 1
        entry[1] += confidence

    def ranked(self) -> list[str]:
        """Grid hashes by (votes, mean confidence), best first."""
        return [key for key, _ in sorted(self.tally.items(), key=lambda kv: (kv[1][0], kv[1][1] / kv[1][0]),
                                         reverse=True)]


class ArcEvaluator:
    """Collects test-split predictions and scores them against `test_puzzles.json`."""

    def __init__(self, dataset_root: Path, pool_votes: bool = True, pass_ks: Sequence[int] = PASS_KS,
                 task_credit: str = "fraction"):
        root = Path(dataset_root)
        if task_credit not in TASK_CREDITS:
            raise ValueError(f"task_credit: expected one of {', '.join(TASK_CREDITS)}, got {task_credit!r}")
        self.pool_votes = pool_votes
        self.task_credit = task_credit
        self.pass_ks = tuple(pass_ks)
        self.names = read_identifiers(root)
        meta = read_meta(root, "test")
        self.canvas = math.isqrt(meta.seq_len)
        self.blank_id = meta.blank_identifier_id
        tasks = read_test_puzzles(root)
        # Ground truth per task: [(input hash, output hash) per test input, in order].
        self.truth = {task_id: [(grid_hash(np.asarray(p["input"])), grid_hash(np.asarray(p["output"])))
                                for p in task["test"]] for task_id, task in tasks.items()}
        self.votes: dict[tuple[str, str], _Votes] = {}
        self.rounds = 0
        self._round_closed = False

    def update(self, inputs, puzzle_identifiers, preds, q_halt_logits) -> None:
        """One test batch: inputs and preds (B, canvas*canvas) tokens, identifiers (B,), q_halt_logits (B,)."""
        if self._round_closed:
            if not self.pool_votes:
                self.votes = {}
            self._round_closed = False
        inputs, ids, preds = (_numpy(x) for x in (inputs, puzzle_identifiers, preds))
        confidence = 1.0 / (1.0 + np.exp(-_numpy(q_halt_logits).astype(np.float64)))
        for row in np.flatnonzero(ids != self.blank_id):
            version = parse_arc_version(self.names[int(ids[row])])
            grid_in = version.invert(arc_crop(inputs[row], self.canvas))
            grid_out = version.invert(arc_crop(preds[row], self.canvas))
            key = (version.task_id, grid_hash(grid_in))
            self.votes.setdefault(key, _Votes()).add(grid_hash(grid_out), float(confidence[row]))

    def result(self) -> dict:
        """Scores of the predictions so far.

        Returns {"pass@k": fraction for each k, "counts": {"pass@k": [summed task score, tasks]},
        "per_task": {task: {"pass@k": score}}, "test_inputs": n, "pooled": bool, "rounds": r,
        "task_credit": "fraction" or "all"}.
        """
        if not self._round_closed:
            self.rounds += 1
            self._round_closed = True
        totals = {k: 0.0 for k in self.pass_ks}
        per_task = {}
        for task_id, pairs in self.truth.items():
            solved = {k: 0 for k in self.pass_ks}
            for input_hash, output_hash in pairs:
                ranked = self.votes.get((task_id, input_hash), _Votes()).ranked()
                for k in self.pass_ks:
                    solved[k] += output_hash in ranked[:k]
            scores = {k: self._task_score(solved[k], len(pairs)) for k in self.pass_ks}
            per_task[task_id] = {f"pass@{k}": s for k, s in scores.items()}
            for k in self.pass_ks:
                totals[k] += scores[k]
        tasks = len(self.truth)
        out: dict = {f"pass@{k}": totals[k] / tasks if tasks else 0.0 for k in self.pass_ks}
        out["counts"] = {f"pass@{k}": [totals[k], tasks] for k in self.pass_ks}
        out["per_task"] = per_task
        out["test_inputs"] = sum(len(p) for p in self.truth.values())
        out["pooled"] = self.pool_votes
        out["rounds"] = self.rounds
        out["task_credit"] = self.task_credit
        return out

    def _task_score(self, solved: int, inputs: int) -> float:
        """A task's score from its test inputs solved at k, under `task_credit`."""
        if self.task_credit == "all":
            return float(solved == inputs)
        return solved / inputs


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
