"""The registry's comparisons (claim a beats claim b) on each source both arms have: tests and verdicts.

    SourceData per (claim, source) --comparisons_for: each registry comparison on each shared source-->
        measure: Welch both ways, the z-test, probability of improvement, the two-proportion test of
        two single evaluations, the comparison under each reading of an unknown ±
        --judge_comparisons: Holm over the report's comparisons, then the comparison rule--> ComparisonResults

The rule itself is audit.verdicts (`comparison_family_p`, `decide_comparison_verdict`, `seeds_per_arm`);
this module only arranges it. Percent everywhere; None (JSON null) means undefined.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence

from audit import stats
from audit.sources import SourceData, sd_under, seed_counts, single_evaluation, source_stats
from audit.summary import ComparisonReading, ComparisonResult, ProportionTest, WilsonComparisonReading
from audit.verdicts import (INCONCLUSIVE, WelchTest, comparison_family_p, decide_comparison_verdict,
                            probability_of_improvement, seeds_per_arm, welch_test_from_summaries)

PROPORTION_NOTE = "two single evaluations: measures test-set sampling noise only, not seed-to-seed spread"
MULTIPLICITY = "holm over the comparisons of this report with a defined Welch test (proxy rows included)"


@dataclass(frozen=True)
class Measured:
    """A comparison's tests before Holm (`result` has p_adjusted, verdict, reason, seeds_needed None)."""

    result: ComparisonResult
    welch: WelchTest
    sd_a: Optional[float]
    sd_b: Optional[float]
    proportion: Optional[stats.ProportionTest]  # two single evaluations' counts, else None


def measure(comparison, a: SourceData, b: SourceData) -> Measured:
    """One registry comparison (a > b) on one source present on both arms.

    From raw per-seed values when both arms have them (`method` "raw"; the probability of
    improvement `poi` only then), else from summaries (mean, SD, n; "summary"); every statistic
    None where undefined. z, p_z, t, df, p_welch test a > b one-tailed. `proportion_test`: when
    each arm is one evaluation with counts (test-set noise only). `readings`: when an arm's ± has
    unknown meaning, the same comparison under each reading of it (a known arm keeps its numbers).
    """
    sa, sb = source_stats(a), source_stats(b)
    raw = a.published is None and b.published is None
    method = None if sa.mean is None or sb.mean is None else ("raw" if raw else "summary")
    if method is None:
        welch = WelchTest(None, None, None, None, None, None, None, None)
    else:
        welch = welch_test_from_summaries(sa.mean, sa.sd, sa.n, sb.mean, sb.sd, sb.n)
    poi = None
    if method == "raw":
        poi = probability_of_improvement([r.value for r in a.runs], [r.value for r in b.runs])
    proxy = not (a.comparable and b.comparable)
    proportion = _proportion_test(a, b)
    result = ComparisonResult(
        id=comparison.id, a=comparison.a, b=comparison.b, source=a.source, kind=a.kind, comparable=not proxy,
        proxy=proxy, method=method, n_a=sa.n, n_b=sb.n, mean_a=sa.mean, mean_b=sb.mean, diff=welch.diff,
        z=welch.z, p_z=welch.p_z_a_greater, t=welch.t, df=welch.df, p_welch=welch.p_a_greater,
        p_adjusted=None, verdict=None, reason=None, poi=poi, seeds_needed=None,
        proportion_test=None if proportion is None else ProportionTest(proportion.diff, proportion.z, proportion.p,
                                                                       PROPORTION_NOTE),
        readings=_comparison_readings(a, b, sa, sb),
    )
    return Measured(result, welch, sa.sd, sb.sd, proportion)


def judge_comparisons(measured: Sequence[Measured]) -> list[ComparisonResult]:
    """Holm over every comparison with a defined Welch test, each contributing the p of its observed
    direction (`comparison_family_p`), then the comparison rule; results in the input order.

    `seeds_needed`: for an INCONCLUSIVE comparison with both SDs known, the seeds per arm that would
    decide it at the observed difference and SDs (`seeds_per_arm`, before Holm), else None.
    """
    family = {i: p for i, m in enumerate(measured) if (p := comparison_family_p(m.welch)) is not None}
    adjusted = dict(zip(family, stats.holm_adjust(list(family.values()))))
    out = []
    for i, m in enumerate(measured):
        r, welch = m.result, m.welch
        observed_z = welch.p_z_a_greater if welch.diff is None or welch.diff >= 0 else welch.p_z_b_greater
        verdict = decide_comparison_verdict(
            n_a=r.n_a, n_b=r.n_b, diff=r.diff, sd_a=m.sd_a, sd_b=m.sd_b, p_adjusted=adjusted.get(i),
            z=welch.z, p_z=observed_z, proportion=m.proportion, proxy=r.proxy)
        seeds = None
        if verdict.label == INCONCLUSIVE and r.diff is not None and m.sd_a is not None and m.sd_b is not None:
            seeds = seeds_per_arm(r.diff, m.sd_a, m.sd_b)
        out.append(replace(r, p_adjusted=adjusted.get(i), verdict=verdict.label, reason=verdict.reason,
                           seeds_needed=seeds))
    return out


def comparisons_for(registry, sources: Sequence[SourceData]) -> list[ComparisonResult]:
    """Every registry comparison on every source present on both arms, in registry order, judged."""
    by_claim: dict[str, dict[tuple[str, str], SourceData]] = {}
    for source in sources:  # keyed by kind too: an external set named like a profile is another source
        by_claim.setdefault(source.claim_id, {})[(source.kind, source.source)] = source
    measured = []
    for comparison in registry.comparisons:
        arm_a, arm_b = by_claim.get(comparison.a, {}), by_claim.get(comparison.b, {})
        for key in arm_a:
            if key in arm_b:
                measured.append(measure(comparison, arm_a[key], arm_b[key]))
    return judge_comparisons(measured)


def _proportion_test(a: SourceData, b: SourceData) -> Optional[stats.ProportionTest]:
    ca, cb = single_evaluation(a), single_evaluation(b)
    return None if ca is None or cb is None else stats.two_proportion_test(*ca, *cb)


def _comparison_readings(a: SourceData, b: SourceData, sa, sb) -> Optional[tuple[ComparisonReading, ...]]:
    """The comparison with each unknown ± read as an SD, an SE and a t half-width, then as Wilson.

    An arm whose ± is unknown uses its stated run count, else the row's assumed n (ASSUMED_SEEDS);
    `n` is None on the rows when every such arm states its count. n_a and n_b are the counts used.
    """
    unknown = [s.published is not None and s.published.pm_kind == "unknown" and s.published.pm is not None
               for s in (a, b)]
    if not any(unknown):
        return None
    needs_n = any(u and s.published.n_seeds is None for s, u in zip((a, b), unknown))
    counts = seed_counts(None) if needs_n else [(None, False)]
    rows = []
    for kind in ("sd", "se", "ci95"):
        for n, assumed in counts:
            arms = [_arm_under(src, st, u, kind, n) for src, st, u in zip((a, b), (sa, sb), unknown)]
            test = stats.compare_means(*arms[0], *arms[1])
            rows.append(ComparisonReading(kind, n, assumed, arms[0][2], arms[1][2], test.diff, test.z, test.p_z,
                                          test.t, test.df, test.p_welch))
    rows.append(_wilson_comparison(a, b, unknown))
    return tuple(rows)


def _arm_under(source: SourceData, s: stats.SampleStats, unknown: bool, kind: str, n: Optional[int]) -> tuple:
    """(mean, sd, n) of an arm, reading its ± as `kind` when its meaning is unknown (over its stated n, else n)."""
    if not unknown:
        return s.mean, s.sd, s.n or 0
    pub = source.published
    runs = pub.n_seeds if pub.n_seeds is not None else n
    return pub.mean, sd_under(kind, pub.pm, runs), runs


def _wilson_comparison(a: SourceData, b: SourceData, unknown: list[bool]) -> WilsonComparisonReading:
    """Both arms read as one evaluation each at their stated test-set size: two-proportion z-test."""
    row = WilsonComparisonReading("wilson95", 1, True, 1, 1, None, None, None, None, None, None, PROPORTION_NOTE)
    arms = []
    for source, u in zip((a, b), unknown):
        pub = source.published
        arms.append((pub.mean / 100 * pub.test_size, pub.test_size) if u and pub.test_size
                    else single_evaluation(source))
    if None not in arms:
        test = stats.two_proportion_test(*arms[0], *arms[1])
        row = replace(row, diff=test.diff, z=test.z, p_z=test.p)
    return row
