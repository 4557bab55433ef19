"""Sources of an audit: what is known about each (claim, source) before any verdict.

A source is one of our profiles (`smoke`, `paper`, ...) with its trained run records, the
checkpoints evaluated under a profile's protocol (`paper (evaluated checkpoint)`, kind
"checkpoint": whether given weights reproduce the claim, a different question from whether
training does, so never pooled with the profile's trained runs), or one external result
(`alphaxiv-2025`, `alphaxiv-2025 (50k epochs)`) with per-seed values or a published summary. `collect_sources` turns records and result sets into `SourceData`: only the runs that
count (audit.evidence.standing) become values; failed and stale runs are kept aside as
`Excluded` with the reason, never averaged in. A run that diverged stays visible either way
(`diverged_at` on its RunValue or Excluded; `divergence_note` says it in words), and a profile
whose counted runs lack part of the paper's data (ConceptARC) is not comparable, the reason in
`not_comparable` and among its deviations.
`source_stats` gives a source's seed statistics; `readings` spells out every reading of a
published "±" whose meaning is not stated. Percent everywhere; None means undefined.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from audit import stats
from audit.evidence import standing
from audit.proxy_checks import mean_if_complete, train_exact_tail
from audit.registry import resolve_profile

KINDS = ("profile", "checkpoint", "external")
CHECKPOINT_SUFFIX = " (evaluated checkpoint)"

# Run counts under which a "±" of unknown meaning is read as an SD or a CI when the source does not
# say how many runs it had: they bracket what reproductions usually run; each is labelled assumed.
ASSUMED_SEEDS = (2, 3, 5)


@dataclass(frozen=True)
class RunValue:
    """One completed, current run: its selected evaluation in percent, with counts when known."""

    seed: Optional[int]
    value: float
    correct: Optional[float] = None
    total: Optional[float] = None
    diverged_at: Optional[int] = None  # a run stopped on a non-finite loss, counted with a finite evaluation


@dataclass(frozen=True)
class Excluded:
    """A run kept out of the statistics, and why."""

    seed: int
    status: str  # "failed" or "stale" (audit.evidence.Standing.status)
    reason: str
    value: Optional[float]  # what a stale run measured (shown, not used)
    diverged_at: Optional[int] = None  # a run stopped on a non-finite loss at this step


@dataclass(frozen=True)
class Published:
    """An external summary: mean ± pm, with what the ± is (`pm_kind`), run count and test-set size."""

    mean: float
    pm: Optional[float]
    pm_kind: str
    n_seeds: Optional[int]
    test_size: Optional[int]
    rounding: float  # the largest rounding error of the published ±


@dataclass(frozen=True)
class SourceData:
    """Everything known about one (claim, source) before any statistics."""

    claim_id: str
    source: str
    kind: str  # one of KINDS
    comparable: bool
    runs: tuple[RunValue, ...] = ()
    excluded: tuple[Excluded, ...] = ()
    published: Optional[Published] = None
    deviations: tuple[str, ...] = ()
    declared_seeds: Optional[tuple[int, ...]] = None  # a profile's `seeds`; None for external results
    seeds_note: Optional[str] = None  # a profile's `seeds_note`: seeds added after a look at results
    data_seed: Optional[str] = None  # a profile's `data_seed` policy ('run' or 'fixed'); None for external results
    not_comparable: tuple[str, ...] = ()  # why a profile declared comparable is not, from its runs' data
    band: Optional[tuple[float, float]] = None  # a proxy profile's registered band: a calibrated proxy
    regime: Optional[str] = None  # a proxy profile's declared regime ('overfit'), checked on its runs
    train_exact: Optional[float] = None  # regime profiles: mean train exact accuracy (percent) late in the counted runs

    @property
    def diverged(self) -> int:
        """How many of the source's runs stopped on a non-finite loss (counted or excluded)."""
        return sum(r.diverged_at is not None for r in self.runs) + sum(e.diverged_at is not None
                                                                       for e in self.excluded)


def collect_sources(registry, records: Iterable, externals: Iterable) -> tuple[list[SourceData], list[str]]:
    """Group records by (claim, profile) and flatten external results; returns (sources, problems).

    Order: claims in registry order; within a claim its profiles in registry order, then external
    results by set id and file order. A record of an unknown claim is a problem, not a source. A
    claim with `runs_of` has no records of its own: the named claim's records (which carry that
    claim's id) are its evidence too, judged by its own protocol (e.g. `weights: raw`).
    """
    claims = {claim.id: claim for claim in registry.claims}
    problems: list[str] = []
    by_key: dict[tuple[str, str, str], list] = {}  # (claim, profile, kind) -> records
    for record in records:
        if record.claim_id not in claims:
            problems.append(f"{record.path}: claim {record.claim_id!r} is not in the registry; ignored")
            continue
        kind = "checkpoint" if record.evaluated else "profile"
        by_key.setdefault((record.claim_id, record.profile, kind), []).append(record)
    sources: list[SourceData] = []
    for claim in registry.claims:
        # A runs_of claim is scored from the named claim's trained runs; a checkpoint is evaluated
        # under the claim it was asked for, with that claim's own protocol.
        for kind, owner in (("profile", claim.runs_of or claim.id), ("checkpoint", claim.id)):
            recorded = {p for c, p, k in by_key if c == owner and k == kind}
            for name in list(claim.profiles) + sorted(recorded - set(claim.profiles)):
                if (owner, name, kind) in by_key:
                    sources.append(_profile_source(claim, name, by_key[(owner, name, kind)], kind))
        for result_set in sorted(externals, key=lambda s: s.id):
            for result in result_set.results:
                if result.claim == claim.id:
                    sources.append(_external_source(result_set, result))
    return sources, problems


def source_name(profile: str, kind: str) -> str:
    """A source's name in the report: the profile's for trained runs, marked for evaluated checkpoints."""
    return profile + CHECKPOINT_SUFFIX if kind == "checkpoint" else profile


def _profile_source(claim, name: str, records: Sequence, kind: str = "profile") -> SourceData:
    """A profile's trained runs (kind 'profile') or the checkpoints evaluated under it ('checkpoint'),
    each record judged by audit.evidence.standing."""
    profile = resolve_profile(claim, name)  # a budget cut 'paper@max-steps-N' is its own, non-comparable source
    trained = kind == "profile"
    runs, excluded, gaps, train_exact = [], [], [], []
    for record in sorted(records, key=lambda r: r.seed):
        found = standing(record, claim)
        if found.counts:
            if profile is not None and profile.regime is not None:  # only a regime needs the training curve
                train_exact.append(train_exact_tail(record.path.parent / "metrics.csv"))
            chosen = found.evaluation
            runs.append(RunValue(record.seed, chosen.value, chosen.correct, chosen.total, found.diverged_at))
            gaps.append(found.not_comparable)
        else:
            excluded.append(Excluded(record.seed, found.status, found.reason, found.value, found.diverged_at))
    not_comparable = _gap_reasons(gaps)
    comparable = bool(profile.comparable) and not not_comparable if profile is not None else False
    deviations = tuple(profile.deviations) if profile is not None else ()
    deviations += tuple(reason for reason in not_comparable if reason not in deviations)
    return SourceData(claim.id, source_name(name, kind), kind, comparable, tuple(runs), tuple(excluded), None,
                      deviations,
                      not_comparable=not_comparable,
                      # The profile's seeds are what `run` trains; evaluated checkpoints declare none.
                      declared_seeds=tuple(profile.seeds) if profile is not None and trained else None,
                      seeds_note=(profile.seeds_note or None) if profile is not None and trained else None,
                      data_seed=profile.data_seed if profile is not None and trained else None,
                      band=tuple(profile.band) if profile is not None and profile.band is not None else None,
                      regime=profile.regime if profile is not None else None,
                      train_exact=mean_if_complete(train_exact))


def _gap_reasons(gaps: list[Optional[str]]) -> tuple[str, ...]:
    """Each distinct reason why counted runs are not comparable, '(k of n counted runs)' when not all share it."""
    reasons = []
    for reason in dict.fromkeys(g for g in gaps if g):
        k = gaps.count(reason)
        reasons.append(reason if k == len(gaps) else f"{reason} ({k} of {len(gaps)} counted runs)")
    return tuple(reasons)


def divergence_note(source: SourceData, checkpoint: str = "final") -> Optional[str]:
    """The source's diverged runs in words, for a verdict's reason; None when no run diverged.

    checkpoint: the claim's checkpoint rule ('final' or 'best'). E.g. "1 of 3 runs diverged (seed 2
    at step 120); counted with its last finite evaluation"; runs kept out (protocol.diverged:
    exclude, or no evaluation before the divergence) are named as excluded.
    """
    counted = [(r.seed, r.diverged_at) for r in source.runs if r.diverged_at is not None]
    dropped = [(e.seed, e.diverged_at) for e in source.excluded if e.diverged_at is not None]
    if not counted and not dropped:
        return None
    total = len(source.runs) + len(source.excluded)
    where = ", ".join(f"seed {seed} at step {step}" for seed, step in counted + dropped)
    which = "last" if checkpoint == "final" else "best"
    parts = []
    if counted:
        whose = "its" if len(counted) == 1 else "their"
        parts.append(f"{len(counted)} counted with {whose} {which} finite evaluation" if dropped
                     else f"counted with {whose} {which} finite evaluation")
    if dropped:
        parts.append(f"{len(dropped)} excluded" if counted else "excluded")
    return f"{len(counted) + len(dropped)} of {total} run{'s' if total > 1 else ''} diverged ({where}); " + \
        ", ".join(parts)


def _external_source(result_set, result) -> SourceData:
    deviations = tuple(result_set.deviations) + tuple(result.deviations)
    name = result_set.source_name(result)
    if result.values is not None:
        seeds = result.seeds or (None,) * len(result.values)
        counts = result.counts or ((None, None),) * len(result.values)
        runs = tuple(RunValue(s, v, c, t) for s, v, (c, t) in zip(seeds, result.values, counts))
        return SourceData(result.claim, name, "external", result_set.comparable, runs, deviations=deviations)
    published = Published(result.mean, result.pm, result.pm_kind, result.n_seeds, result.test_size,
                          result_set.rounding)
    return SourceData(result.claim, name, "external", result_set.comparable, (), (), published, deviations)


@dataclass(frozen=True)
class SeedReading:
    """A ± of unknown meaning read as a seed SD, an SE or a t 95% half-width over n runs."""

    reading: str
    n: int
    n_assumed: bool
    sd: Optional[float]
    se: Optional[float]
    ci95: Optional[tuple]
    consistent: Optional[bool]


@dataclass(frozen=True)
class WilsonReading:
    """A ± of unknown meaning read as the Wilson 95% half-width of one evaluation."""

    reading: str
    n: int
    n_assumed: bool
    test_size: Optional[int]
    predicted_pm: Optional[float]
    consistent: Optional[bool]
    test_size_solved: Optional[float]
    test_size_range: Optional[tuple]


# --- statistics of one source ------------------------------------------------------------------

def source_stats(source: SourceData) -> stats.SampleStats:
    """Seed statistics of a source: from its runs, or from a published summary whose ± is defined.

    A ± of unknown meaning gives the mean only (n as stated, else None); see `readings`. A stated
    SD or SE without a run count is kept as stated, with nothing derived from it.
    """
    if source.published is None:
        return stats.describe_sample([run.value for run in source.runs])
    pub = source.published
    n = 1 if pub.pm_kind == "wilson95" else pub.n_seeds
    if pub.pm is None or pub.pm_kind in ("unknown", "wilson95"):
        return stats.SampleStats(n, pub.mean, None, None, None)
    if n is None:
        return stats.SampleStats(None, pub.mean, pub.pm if pub.pm_kind == "sd" else None,
                                 pub.pm if pub.pm_kind == "se" else None, None)
    sd = sd_under(pub.pm_kind, pub.pm, n)
    return stats.summary_stats(pub.mean, sd, n)


def sd_under(kind: str, pm: float, n: int) -> Optional[float]:
    """The seed SD implied by a ± read as `kind` ("sd", "se" or "ci95") over n runs."""
    if kind == "sd":
        return pm if n >= 2 else None
    if n < 2:
        return None
    if kind == "se":
        return pm * math.sqrt(n)
    return pm / stats.t_quantile(stats.LEVEL, n) * math.sqrt(n)  # ci95: pm = t * SE


def readings(pub: Published) -> Optional[tuple]:
    """Every reading of a ± of unknown meaning, and whether the published numbers fit it.

    sd / se / ci95: the ± read as a seed SD, an SE of the mean, or a Student-t 95% half-width over
    n runs (the stated n, else each of ASSUMED_SEEDS, flagged n_assumed); a mean and a ± alone
    cannot confirm or refute these readings (consistent: null). wilson95: the ± read as the Wilson
    95% half-width of one evaluation at the stated test-set size; consistent when the predicted
    half-width equals the published one within its rounding; also the test-set sizes N for which
    it would (test_size_solved: the real root, test_size_range: the integer sizes that round to it).
    """
    if pub.pm_kind != "unknown" or pub.pm is None:
        return None
    rows = []
    for kind in ("sd", "se", "ci95"):
        for n, assumed in seed_counts(pub.n_seeds):
            sd = sd_under(kind, pub.pm, n)
            s = stats.summary_stats(pub.mean, sd, n)
            rows.append(SeedReading(kind, n, assumed, s.sd, s.se, as_pair(s.ci), None))
    rows.append(_wilson_reading(pub))
    return tuple(rows)


def seed_counts(n_seeds: Optional[int]) -> list[tuple[int, bool]]:
    if n_seeds is not None:
        return [(n_seeds, False)] if n_seeds >= 2 else []
    return [(n, True) for n in ASSUMED_SEEDS]


def _wilson_reading(pub: Published) -> WilsonReading:
    if not 0 < pub.mean < 100 or pub.pm <= 0:
        return WilsonReading("wilson95", 1, pub.n_seeds is None, pub.test_size, None, None, None, None)
    predicted = consistent = None
    if pub.test_size is not None:
        predicted = stats.wilson_half_width(pub.mean, pub.test_size)
        consistent = abs(predicted - pub.pm) <= pub.rounding + 1e-12
    found = stats.wilson_total_range(pub.mean, pub.pm, pub.rounding)
    return WilsonReading("wilson95", 1, pub.n_seeds is None, pub.test_size, predicted, consistent,
                         stats.solve_wilson_total(pub.mean, pub.pm), tuple(found) if found else None)


def as_pair(ci: Optional[stats.Interval]) -> Optional[list[float]]:
    """An interval as the summary stores it: [low, high] (its method and level are in the field name)."""
    return None if ci is None else [ci.low, ci.high]


def single_evaluation(source: SourceData) -> Optional[tuple[float, float]]:
    """(correct, total) when a source is exactly one evaluation with known counts, else None."""
    if source.published is None:
        if len(source.runs) == 1 and source.runs[0].correct is not None and source.runs[0].total:
            return source.runs[0].correct, source.runs[0].total
        return None
    pub = source.published
    if pub.pm_kind == "wilson95" and pub.test_size:
        return pub.mean / 100 * pub.test_size, pub.test_size
    return None
