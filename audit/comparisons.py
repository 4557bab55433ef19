"""The registry's comparisons (a beats b, or a and b equivalent) on each source both arms have: tests and verdicts.

    SourceData per (claim, source) --comparisons_for: each registry comparison on each shared source-->
        measure: Welch both ways (the paired t-test when both arms are the same runs), the z-test,
        probability of improvement, the TOST of an equivalence, the two-proportion test of two single
        evaluations, the comparison under each reading of an unknown ±
        --judge_comparisons: Holm over the report's comparisons, then the comparison rule--> ComparisonResults

The rules themselves are audit.verdicts (`comparison_family_p`, `decide_comparison_verdict`,
`seeds_per_arm`) and audit.comparison_tests (equivalence and paired); this module only arranges them. Percent everywhere; None (JSON null) means undefined.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Optional, Sequence

from audit import stats
from audit.comparison_tests import (EquivalenceComparison, decide_equivalence_verdict, decide_paired_verdict,
                                    equivalence_comparison, equivalence_family_p, equivalence_seeds, paired_seeds,
                                    paired_test, welch_se_df)
from audit.proxy_checks import decision_barrier, in_decision_family
from audit.sources import SourceData, sd_under, seed_counts, single_evaluation, source_stats
from audit.summary import ComparisonReading, ComparisonResult, ProportionTest, WilsonComparisonReading
from audit.verdicts import (INCONCLUSIVE, WelchTest, at_proxy_scale, comparison_family_p, decide_comparison_verdict,
                            probability_of_improvement, seeds_per_arm, welch_test_from_summaries)

PROPORTION_NOTE = "two single evaluations: measures test-set sampling noise only, not seed-to-seed spread"
MULTIPLICITY = ("holm over the comparisons of this report with a defined test (Welch, paired t or TOST) "
                "whose arms are comparable or calibrated proxies (a band registered before their runs)")


@dataclass(frozen=True)
class Measured:
    """A comparison's tests before Holm (`result` has p_adjusted, verdict, reason, seeds_needed None).

    `welch`: Welch's tests, or the paired t-test in its fields when `paired`. `sd_diff`: the SD of
    a - b per seed pair (paired: of the matched differences; else sqrt(sd_a^2 + sd_b^2)), for seed
    plans. `equivalence`: the TOST of an `alternative: equivalent` comparison, None when untested
    (`untested` says why).
    """

    result: ComparisonResult
    welch: WelchTest
    sd_a: Optional[float]
    sd_b: Optional[float]
    proportion: Optional[stats.ProportionTest]  # two single evaluations' counts, else None
    paired: bool = False
    sd_diff: Optional[float] = None
    equivalence: Optional[EquivalenceComparison] = None
    untested: str = "no test"
    barrier: Optional[str] = None  # why this comparison cannot decide (proxy_checks.decision_barrier)
    in_family: bool = True  # joins the Holm family (proxy_checks.in_decision_family)


def measure(comparison, a: SourceData, b: SourceData, paired: bool = False) -> Measured:
    """One registry comparison on one source present on both arms.

    From raw per-seed values when both arms have them (`method` "raw"; the probability of
    improvement `poi` only then), else from summaries (mean, SD, n; "summary"); every statistic
    None where undefined. z, p_z, t, df, p_welch test a > b one-tailed. `paired`: both arms are
    scored from the same runs (`runs_of`), so the runs are matched by seed and the paired t-test on
    their differences replaces Welch (`method` "paired", n_a = n_b = the matched seeds, means over
    them). `proportion_test`: when each arm is one evaluation with counts (test-set noise only).
    `readings`: when an arm's ± has unknown meaning, the same comparison under each reading of it.
    An `alternative: equivalent` comparison also gets its TOST against ±margin_pp (`p_equiv`).
    """
    paired = paired and a.published is None and b.published is None
    if paired:
        va, vb, sd_diff = _matched(a, b)
        sa, sb = stats.describe_sample(va), stats.describe_sample(vb)
        welch = paired_test(va, vb)
        method = "paired"  # even with no seed in both arms: the row says how it is judged
    else:
        sa, sb = source_stats(a), source_stats(b)
        va, vb = [r.value for r in a.runs], [r.value for r in b.runs]
        raw = a.published is None and b.published is None
        method = None if sa.mean is None or sb.mean is None else ("raw" if raw else "summary")
        if method is None:
            welch = WelchTest(None, None, None, None, None, None, None, None)
        else:
            welch = welch_test_from_summaries(sa.mean, sa.sd, sa.n, sb.mean, sb.sd, sb.n)
        sd_diff = None if sa.sd is None or sb.sd is None else math.hypot(sa.sd, sb.sd)
    poi = probability_of_improvement(va, vb) if method in ("raw", "paired") and va and vb else None
    equivalence, untested = None, "no test"
    if comparison.alternative == "equivalent" and welch.diff is not None:
        equivalence, untested = _equivalence(welch.diff, comparison.margin_pp, sa, sb, sd_diff, paired)
    proxy = not (a.comparable and b.comparable)
    proportion = _proportion_test(a, b)
    result = ComparisonResult(
        id=comparison.id, a=comparison.a, b=comparison.b, source=a.source, kind=a.kind, comparable=not proxy,
        proxy=proxy, method=method, n_a=sa.n, n_b=sb.n, mean_a=sa.mean, mean_b=sb.mean, diff=welch.diff,
        z=welch.z, p_z=welch.p_z_a_greater, t=welch.t, df=welch.df, p_welch=welch.p_a_greater,
        p_adjusted=None, verdict=None, reason=None, poi=poi, seeds_needed=None, seeds_at_holm=None,
        proportion_test=None if proportion is None else ProportionTest(proportion.diff, proportion.z, proportion.p,
                                                                       PROPORTION_NOTE),
        readings=_comparison_readings(a, b, sa, sb), alternative=comparison.alternative,
        margin_pp=comparison.margin_pp, p_equiv=None if equivalence is None else equivalence.p_equiv,
    )
    return Measured(result, welch, sa.sd, sb.sd, proportion, paired, sd_diff, equivalence, untested,
                    barrier=decision_barrier(a, b, sa.mean, sb.mean), in_family=in_decision_family(a, b))


def _matched(a: SourceData, b: SourceData) -> tuple[list[float], list[float], Optional[float]]:
    """The counted values of the seeds both arms have, in seed order, and the SD of their differences."""
    of_b = {r.seed: r.value for r in b.runs if r.seed is not None}
    pairs = sorted((r.seed, r.value, of_b[r.seed]) for r in a.runs if r.seed in of_b)
    va, vb = [x for _, x, _ in pairs], [y for _, _, y in pairs]
    return va, vb, stats.describe_sample([x - y for x, y in zip(va, vb)]).sd


def _equivalence(diff: float, margin_pp: float, sa, sb, sd_diff: Optional[float],
                 paired: bool) -> tuple[Optional[EquivalenceComparison], str]:
    """The TOST with the paired SE and df n - 1, or Welch's; else None and why there is no test."""
    if sa.n is None or sb.n is None or sa.n < 2 or sb.n < 2:
        return None, f"n_a = {sa.n if sa.n is not None else 'not stated'}, n_b = " \
                     f"{sb.n if sb.n is not None else 'not stated'}: the TOST needs at least 2 seeds per arm"
    if paired:
        se_df = None if not sd_diff else (sd_diff / math.sqrt(sa.n), sa.n - 1)
    else:
        se_df = welch_se_df(sa.sd, sa.n, sb.sd, sb.n)
    if se_df is None:
        if sa.sd is None or sb.sd is None:
            return None, "the seed spread of an arm is not stated, so no test"
        spread = "every seed's difference equal" if paired else "every seed of each arm equal"
        return None, f"no seed spread ({spread}), so the TOST is undefined"
    return equivalence_comparison(diff, *se_df, margin_pp), "no adjusted p"


def judge_comparisons(measured: Sequence[Measured]) -> list[ComparisonResult]:
    """Holm over every comparison with a defined test whose arms are comparable or calibrated proxies
    (`in_family`), each contributing one p (`comparison_family_p`: the p of its observed direction; an
    equivalence its `equivalence_family_p`), then its rule; a proxy comparison with a `barrier`
    (proxy_checks.decision_barrier) is INCONCLUSIVE whatever its test says. Results in the input order.

    `seeds_needed`: for an INCONCLUSIVE comparison with the SDs known, the seeds per arm that would
    decide it at the observed difference and SDs (before Holm), else None; `seeds_at_holm`: the same
    at the alpha Holm holds it to where its p stands in the family (audit.stats.holm_thresholds), None
    outside the family.
    """
    family = {i: p for i, m in enumerate(measured) if m.in_family and (p := _family_p(m)) is not None}
    adjusted = dict(zip(family, stats.holm_adjust(list(family.values()))))
    thresholds = dict(zip(family, stats.holm_thresholds(list(family.values()))))
    out = []
    for i, m in enumerate(measured):
        r, welch, p_adjusted = m.result, m.welch, adjusted.get(i)
        if r.alternative == "equivalent":
            verdict = decide_equivalence_verdict(diff=r.diff, test=m.equivalence, p_adjusted=p_adjusted, sd=m.sd_diff,
                                                 margin_pp=r.margin_pp, untested=m.untested)
            plan = functools.partial(equivalence_seeds, r.diff, m.sd_diff, r.margin_pp) if r.diff is not None else None
        elif m.paired:
            verdict = decide_paired_verdict(n=r.n_a, diff=r.diff, sd_diff=m.sd_diff, p_adjusted=p_adjusted)
            plan = functools.partial(paired_seeds, r.diff, m.sd_diff) if r.diff is not None else None
        else:
            observed_z = welch.p_z_a_greater if welch.diff is None or welch.diff >= 0 else welch.p_z_b_greater
            verdict = decide_comparison_verdict(
                n_a=r.n_a, n_b=r.n_b, diff=r.diff, sd_a=m.sd_a, sd_b=m.sd_b, p_adjusted=p_adjusted,
                z=welch.z, p_z=observed_z, proportion=m.proportion)
            plan = None
            if r.diff is not None and m.sd_a is not None and m.sd_b is not None:
                plan = functools.partial(seeds_per_arm, r.diff, m.sd_a, m.sd_b)
        if r.proxy:  # a barred proxy's tests stay in the row, its verdict does not
            verdict = at_proxy_scale(verdict, m.barrier)
            plan = None if m.barrier is not None else plan
        open_plan = plan if verdict.label == INCONCLUSIVE else None  # seeds only for what is not decided
        out.append(replace(r, p_adjusted=p_adjusted, verdict=verdict.label, reason=verdict.reason,
                           seeds_needed=open_plan() if open_plan else None,
                           seeds_at_holm=open_plan(alpha=thresholds[i]) if open_plan and i in thresholds else None))
    return out


def _family_p(m: Measured) -> Optional[float]:
    if m.result.alternative == "equivalent":
        return equivalence_family_p(m.equivalence)
    return comparison_family_p(m.welch)


def same_runs(registry, comparison) -> bool:
    """Whether both arms of `comparison` are scored from the same runs: one is the other's `runs_of`,
    or both name the same claim (their profile sources are then the same records, seed by seed)."""
    a, b = registry.claim(comparison.a), registry.claim(comparison.b)
    return (a.runs_of or a.id) == (b.runs_of or b.id)


def comparisons_for(registry, sources: Sequence[SourceData]) -> list[ComparisonResult]:
    """Every registry comparison on every source present on both arms, in registry order, judged;
    paired on profile sources when both arms come from the same runs (`same_runs`)."""
    by_claim: dict[str, dict[tuple[str, str], SourceData]] = {}
    for source in sources:  # keyed by kind too: an external set named like a profile is another source
        by_claim.setdefault(source.claim_id, {})[(source.kind, source.source)] = source
    measured = []
    for comparison in registry.comparisons:
        arm_a, arm_b = by_claim.get(comparison.a, {}), by_claim.get(comparison.b, {})
        paired = same_runs(registry, comparison)
        for key in arm_a:
            if key in arm_b:
                measured.append(measure(comparison, arm_a[key], arm_b[key], paired=paired and key[0] == "profile"))
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
