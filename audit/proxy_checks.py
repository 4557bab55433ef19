"""What makes a CPU proxy informative, checked on its runs: the targets a proxy must meet.

A proxy profile is judged only against what it registered before its verdict runs (`band` in the
claims file), never against the paper's number. Its comparisons are decided by the comparison rule
(audit.comparisons); this module says whether the arms they compare are fit to decide anything.
Enforced (`decision_barrier`, `in_decision_family`): a proxy is calibrated (a band registered), graded
and, where it declares one, in its regime; shown beside the verdicts, not enforced: the seed spread.

* graded: the arm's mean lies strictly inside GRADED (a saturated or empty arm cannot rank);
* seed spread: its SD over seeds is at most SD_TARGET_PP (Sudoku and Maze; ARC pass@2 moves in
  steps of 1/tasks, so its spread is reported, not targeted);
* in band: the mean lies in the band the profile registered;
* regime (profiles that declare `regime: overfit`): the training batches are solved (train exact
  accuracy >= REGIME_TRAIN_MIN over the last tenth of the run) while the test split is far lower
  (at least REGIME_GAP_PP below): only there do the paper's regime-dependent orderings mean what
  the paper says.

Beside exact accuracy it reports each arm's token accuracy, the mean of its last LAST_EVALS
evaluations (a late jump or dip in one evaluation shows as a gap to the final value) and, for EMA
runs that scored them, the raw weights. Percent everywhere; None where undefined.
"""
from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from audit.evidence import standing

GRADED = (5.0, 95.0)  # percent: an arm's mean strictly inside can move either way
SD_TARGET_PP = 5.0  # Sudoku and Maze arms; at 5 pp SD, 3-5 seeds per arm resolve a 10 pp gap
LAST_EVALS = 3  # evaluations averaged at the end of a run
TRAIN_TAIL = 0.1  # the last tenth of the training steps, for the regime check
REGIME_TRAIN_MIN = 90.0  # percent train exact accuracy: the training puzzles are solved
REGIME_GAP_PP = 20.0  # test at least this far below train: the model overfits its few puzzles
NO_SD_TARGET = ("arc",)  # tasks whose metric moves in steps too coarse for the SD target


@dataclass(frozen=True)
class ArmRun:
    """One counted run of a proxy arm: the numbers the checks read (percent)."""

    seed: int
    value: float  # the claim's metric at the evaluation its checkpoint rule selects
    token_accuracy: Optional[float]
    last_evals_mean: Optional[float]
    raw_value: Optional[float]  # the raw weights beside the EMA copy, where scored
    train_exact: Optional[float]  # mean train exact accuracy over the last tenth of the run


@dataclass(frozen=True)
class ProxyCheck:
    """One proxy arm (claim x proxy profile) against the proxy targets."""

    claim_id: str
    profile: str
    task: str
    runs: tuple[ArmRun, ...]
    declared_seeds: tuple[int, ...]
    band: Optional[tuple[float, float]]
    regime: Optional[str]

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def mean(self) -> Optional[float]:
        return mean_if_complete([r.value for r in self.runs])

    @property
    def sd(self) -> Optional[float]:
        values = [r.value for r in self.runs]
        return statistics.stdev(values) if len(values) >= 2 else None

    @property
    def graded(self) -> Optional[bool]:
        return is_graded(self.mean)

    @property
    def sd_target(self) -> Optional[float]:
        return None if self.task in NO_SD_TARGET else SD_TARGET_PP

    @property
    def sd_ok(self) -> Optional[bool]:
        return None if self.sd is None or self.sd_target is None else self.sd <= self.sd_target

    @property
    def in_band(self) -> Optional[bool]:
        return None if self.band is None or self.mean is None else self.band[0] <= self.mean <= self.band[1]

    @property
    def token_accuracy(self) -> Optional[float]:
        return mean_if_complete([r.token_accuracy for r in self.runs])

    @property
    def last_evals_mean(self) -> Optional[float]:
        return mean_if_complete([r.last_evals_mean for r in self.runs])

    @property
    def raw_mean(self) -> Optional[float]:
        return mean_if_complete([r.raw_value for r in self.runs])

    @property
    def train_exact(self) -> Optional[float]:
        return mean_if_complete([r.train_exact for r in self.runs])

    @property
    def regime_holds(self) -> Optional[bool]:
        return regime_holds(self.regime, self.train_exact, self.mean)

    @property
    def meets_targets(self) -> Optional[bool]:
        """Graded, within the SD target where it applies, and in its regime where one is declared."""
        if self.n == 0:
            return None
        return all(check is not False for check in (self.graded, self.sd_ok, self.regime_holds))


def proxy_checks(registry, records: Iterable) -> list[ProxyCheck]:
    """One ProxyCheck per (claim, profile) that is a proxy with a registered band, in registry order.

    Only runs that count (audit.evidence.standing) enter, scored as their claim scores them (a
    `runs_of` claim reads the named claim's records with its own protocol, e.g. the raw weights).
    """
    by_key: dict[tuple[str, str], list] = {}
    for record in records:
        by_key.setdefault((record.claim_id, record.profile), []).append(record)
    checks = []
    for claim in registry.claims:
        for name, profile in claim.profiles.items():
            if profile.comparable or profile.band is None:
                continue
            records_here = sorted(by_key.get((claim.runs_of or claim.id, name), []), key=lambda r: r.seed)
            standings = ((record, standing(record, claim)) for record in records_here)
            runs = tuple(_arm_run(record, claim, here.evaluation) for record, here in standings if here.counts)
            checks.append(ProxyCheck(claim.id, name, profile.data.task, runs, tuple(profile.seeds),
                                     tuple(profile.band), profile.regime))
    return checks


def _arm_run(record, claim, chosen) -> ArmRun:
    """The run's numbers; `chosen` is the evaluation its standing selected (the claim's checkpoint rule)."""
    token = chosen.metrics.get("accuracy")
    raw = record.raw_final.value if record.raw_final is not None and claim.protocol.weights != "raw" else None
    return ArmRun(record.seed, chosen.value, None if token is None else 100.0 * token,
                  _last_evals_mean(record, claim), raw, train_exact_tail(record.path.parent / "metrics.csv"))


def _last_evals_mean(record, claim) -> Optional[float]:
    """Mean of the claim's metric over the run's last LAST_EVALS evaluations, of the weights the
    claim scores (an evaluation's `raw` entry holds the raw weights' scores beside the EMA copy's)."""
    raw = claim.protocol.weights == "raw" and any("raw" in e for e in record.evaluations)
    last = record.evaluations[-LAST_EVALS:]
    values = [((e.get("raw") or {}) if raw else e).get("metrics", {}).get(record.metric) for e in last]
    values = [100.0 * v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return mean_if_complete(values) if last and len(values) == len(last) else None


def train_exact_tail(metrics_csv: Path, tail: float = TRAIN_TAIL) -> Optional[float]:
    """Mean train exact accuracy (percent) over the last `tail` of the steps in a trainer's metrics.csv.

    The trainer logs each optimizer step's exact accuracy on its training batch (the examples that
    halted at that step, as the official loop counts them); None when the file or the rows are absent.
    """
    if not Path(metrics_csv).is_file():
        return None
    rows = []
    with open(metrics_csv, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("split") == "train" and row.get("metric") == "exact_accuracy":
                rows.append((int(row["step"]), float(row["value"])))
    if not rows:
        return None
    last = max(step for step, _ in rows)
    values = [v for step, v in rows if step > last * (1 - tail) and math.isfinite(v)]
    return 100.0 * sum(values) / len(values) if values else None


def is_graded(mean: Optional[float]) -> Optional[bool]:
    """Whether an arm's mean lies strictly inside GRADED (it can move either way); None without a mean."""
    return None if mean is None else GRADED[0] < mean < GRADED[1]


def regime_holds(regime: Optional[str], train_exact: Optional[float], test_mean: Optional[float]) -> Optional[bool]:
    """The overfit regime: training puzzles solved (train exact >= REGIME_TRAIN_MIN) while the test mean is
    at least REGIME_GAP_PP lower; None where no regime is declared or a number is missing."""
    if regime != "overfit" or train_exact is None or test_mean is None:
        return None
    return train_exact >= REGIME_TRAIN_MIN and test_mean <= train_exact - REGIME_GAP_PP


def decision_barrier(a, b, mean_a: Optional[float], mean_b: Optional[float]) -> Optional[str]:
    """Why a comparison of two sources (audit.sources.SourceData) cannot decide anything, or None.

    Only on proxies (both arms comparable: None). An uncalibrated proxy, one that registered no band
    before its runs (the minutes-long `smoke` profiles), was never designed to rank: its comparisons
    are shown with their tests, outside the Holm family (`in_decision_family`). A calibrated arm whose
    mean is not graded (outside GRADED, a saturated or empty arm), or that declared a regime its runs
    are not in (`regime_holds`), cannot rank either: its comparison stays in the family, registered
    before its runs, but is INCONCLUSIVE.
    """
    if a.comparable and b.comparable:
        return None
    uncalibrated = [arm for arm, source in (("a", a), ("b", b)) if not source.comparable and source.band is None]
    if uncalibrated:
        return (f"an uncalibrated proxy (arm {' and '.join(uncalibrated)}: no band registered before its runs) "
                "ranks nothing; its test is shown, outside the Holm family")
    for arm, source, mean in (("a", a, mean_a), ("b", b, mean_b)):
        if is_graded(mean) is False:
            return (f"arm {arm} is not graded (mean {mean:.2f}%, outside ({GRADED[0]:g}, {GRADED[1]:g})): "
                    "a saturated or empty arm cannot rank")
        if regime_holds(source.regime, source.train_exact, mean) is False:
            return (f"arm {arm} is not in its declared {source.regime} regime (train exact {source.train_exact:.2f}%, "
                    f"test {mean:.2f}%: needs train >= {REGIME_TRAIN_MIN:g}% and test >= {REGIME_GAP_PP:g} pp lower)")
    return None


def in_decision_family(a, b) -> bool:
    """Whether a comparison of these sources joins the Holm family: comparable or calibrated arms only.
    Membership follows registration alone (a band committed before the runs), never the results."""
    return all(source.comparable or source.band is not None for source in (a, b))


def mean_if_complete(values: Sequence[Optional[float]]) -> Optional[float]:
    """The mean when every value is known, else None (one run without the number leaves the arm's unknown)."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present and len(present) == len(values) else None
