"""The decision rules of an audit (docs/design.md §5): rule v3 for a claim, the comparison rule.

Both rules work the same way: each result gets its tests (pure functions of means, SDs and run
counts, in percent), contributes one p-value to a Holm family over the report (`family_p`,
`comparison_family_p`; the adjustment is audit.stats.holm_adjust), and the adjusted p decides
its verdict. A verdict that is not decided says, in its reason, what would decide it: the seeds
needed at the observed SD, or that one run or an unknown run count allows no test.

Seed plans are one-sided at alpha 0.05 with power 0.8 and use the noncentral t distribution
(audit.stats.power_one_sided); they are computed before Holm, so with several results in the
family they are a lower bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats as sps

from audit.stats import (ALPHA, EPS, ProportionTest, compare_means, describe_sample, one_sample_test,
                         power_one_sided, seeds_needed)

REPRODUCED = "REPRODUCED"
NOT_REPRODUCED = "NOT_REPRODUCED"
EXCEEDED = "EXCEEDED"
CONSISTENT = "CONSISTENT"
INCONCLUSIVE = "INCONCLUSIVE"
NOT_COMPARABLE = "NOT_COMPARABLE"
NO_CLAIM = "NO_CLAIM"
CLAIM_VERDICTS = (REPRODUCED, NOT_REPRODUCED, EXCEEDED, CONSISTENT, INCONCLUSIVE, NOT_COMPARABLE, NO_CLAIM)
SUPPORTED = "SUPPORTED"
CONTRADICTED = "CONTRADICTED"
COMPARISON_VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
PLAN_POWER = 0.8  # power of every seed plan quoted in a reason
PLAN = f"one-sided, alpha {ALPHA:g}, power {PLAN_POWER:g}, before Holm"


@dataclass(frozen=True)
class Verdict:
    """A decision and why: `label` from CLAIM_VERDICTS or COMPARISON_VERDICTS, `reason` one line a
    reader of the report can check against the numbers."""

    label: str
    reason: str


@dataclass(frozen=True)
class EquivalenceTest:
    """TOST of d = mean - claim against the margins ±tol, df = n - 1.

    p_lower tests H0: d <= -tol (p = P(T >= (d + tol)/SE)), p_upper tests H0: d >= +tol
    (p = P(T <= (d - tol)/SE)); p_equiv = max of the two, below alpha exactly when the
    (1 - 2 alpha) t-interval lies inside [-tol, +tol]. With SE = 0 the t's are None and each
    p is 0 or 1 by which side of its margin d lies, strictly (docs/design.md §5: p_equiv = 0 iff |d| < tol).
    """

    t_lower: Optional[float]
    t_upper: Optional[float]
    df: int
    p_lower: float
    p_upper: float
    p_equiv: float


@dataclass(frozen=True)
class ClaimTest:
    """Rule v3's tests of one result (n >= 2 seeds, SD known) against its claimed number.

    p_below / p_above: one-sided one-sample t-tests of mean < claim and mean > claim
    (audit.stats.one_sample_test; with SE = 0 they are 0 or 1 by the sign of d, the SE -> 0 limit,
    so that identical seeds are judged as exact numbers, as the design's p_equiv rule does).
    """

    d: float  # mean - claim, pp
    se: float
    df: int
    t: Optional[float]  # d / SE; None when SE = 0
    p_below: float
    p_above: float
    p_equiv: float
    tolerance_pp: float


@dataclass(frozen=True)
class WelchTest:
    """Welch's one-tailed t-tests of a > b and of b > a, with the z-test on the same numbers.

    t = z = (ma - mb) / sqrt(sa^2/na + sb^2/nb); t has the Welch-Satterthwaite df (not rounded).
    Everything but diff is None when an arm has n < 2 or no SD, and when both SDs are 0.
    """

    diff: Optional[float]  # mean_a - mean_b, pp
    t: Optional[float]
    df: Optional[float]
    p_a_greater: Optional[float]
    p_b_greater: Optional[float]
    z: Optional[float]
    p_z_a_greater: Optional[float]
    p_z_b_greater: Optional[float]


# --- rule v3: a result against its claim --------------------------------------------------------

def equivalence_test(d: float, se: float, n: int, tolerance_pp: float) -> EquivalenceTest:
    """TOST of d (pp) with standard error `se` from n >= 2 seeds against the margins ±tolerance_pp."""
    if n < 2 or se < 0:
        raise ValueError(f"a TOST needs n >= 2 and se >= 0, got n={n}, se={se}")
    tol, df = tolerance_pp, n - 1
    if se == 0:
        p_lower, p_upper = float(not d > -tol), float(not d < tol)
        return EquivalenceTest(None, None, df, p_lower, p_upper, max(p_lower, p_upper))
    t_lower, t_upper = (d + tol) / se, (d - tol) / se
    p_lower, p_upper = float(sps.t.sf(t_lower, df)), float(sps.t.cdf(t_upper, df))
    return EquivalenceTest(t_lower, t_upper, df, p_lower, p_upper, max(p_lower, p_upper))


def claim_test(mean: Optional[float], se: Optional[float], n: Optional[int], claimed: float,
               tolerance_pp: float) -> Optional[ClaimTest]:
    """All of rule v3's tests of one result; None when untestable (n < 2 or unknown, no SE, or SE = 0).

    SE = 0 (every seed gave the same value) is untested, not exact: a sample SD of 0 from a few
    seeds is no evidence that the true spread is 0 (identical seeds usually mean the seed did not
    reach the run, or the metric is saturated), and reading it as exact would give p = 0, the
    strongest possible evidence, from the weakest. Comparisons treat zero spread the same way.
    """
    if n is None or n < 2 or mean is None or se is None or se == 0:
        return None
    one = one_sample_test(mean, se, n, claimed)
    d = mean - claimed
    tost = equivalence_test(d, se, n, tolerance_pp)
    return ClaimTest(d, se, n - 1, one.t, one.p_below, one.p_above, tost.p_equiv, tolerance_pp)


def family_p(test: Optional[ClaimTest], eps: float = EPS) -> Optional[float]:
    """The one p a result contributes to Holm's family: p_equiv when |d| <= tol + EPS, else
    p_below when d < 0, else p_above. None (not in the family) when untested."""
    if test is None:
        return None
    if abs(test.d) <= test.tolerance_pp + eps:
        return test.p_equiv
    return test.p_below if test.d < 0 else test.p_above


def decide_claim_verdict(*, comparable: bool, claimed: Optional[float], n: Optional[int], d: Optional[float],
                         sd: Optional[float], p_adjusted: Optional[float], tolerance_pp: float,
                         alpha: float = ALPHA, eps: float = EPS) -> Verdict:
    """Rule v3: the first clause of docs/design.md §5 that matches, with a reason saying what would decide it.

    `p_adjusted` is the Holm-adjusted `family_p` of this result (so it is p_equiv when
    |d| <= tol + EPS); None when the result is untested. `sd` is the seeds' SD (ddof 1), used
    only to say how many seeds would decide an open verdict.
    """
    tol = tolerance_pp
    if not comparable:
        return Verdict(NOT_COMPARABLE, "proxy source: shown, but not judged against the claimed number")
    if claimed is None:
        return Verdict(NO_CLAIM, "the paper gives no number for this setup; used in comparisons only")
    if n == 0 or d is None:
        return Verdict(INCONCLUSIVE, "no completed runs")
    within = abs(d) <= tol + eps
    tested = n is not None and n >= 2 and p_adjusted is not None
    if tested and within and p_adjusted < alpha:
        return Verdict(REPRODUCED, f"equivalence shown: d = {d:+.2f} pp, Holm-adjusted TOST p = "
                                   f"{p_adjusted:.3g} < {alpha:g} for ±{tol:g} pp")
    if tested and d < -(tol + eps) and p_adjusted < alpha:
        return Verdict(NOT_REPRODUCED,
                       f"d = {d:+.2f} pp and Holm-adjusted p_below = {p_adjusted:.3g} < {alpha:g}")
    if tested and d > tol + eps and p_adjusted < alpha:
        return Verdict(EXCEEDED,
                       f"d = {d:+.2f} pp and Holm-adjusted p_above = {p_adjusted:.3g} < {alpha:g}")
    where = f"d = {d:+.2f} pp is {'within' if within else 'outside'} the tolerance of ±{tol:g} pp"
    label = CONSISTENT if within else INCONCLUSIVE
    if n is None:
        return Verdict(label, f"{where}; the number of runs is not stated, so no test")
    if n < 2:
        return Verdict(label, f"{where}; one run allows no test")
    if sd == 0:
        return Verdict(label, f"{where}; every seed gave the same value (SD 0), so there is no seed spread to test "
                              "with (identical seeds usually mean the seed did not reach the run, or the metric "
                              "is saturated)")
    if p_adjusted is None or sd is None:
        return Verdict(label, f"{where}; the seed spread is not stated, so no test")
    if within:
        return Verdict(label, f"{where}, but Holm-adjusted TOST p = {p_adjusted:.3g} >= {alpha:g}; "
                              f"{_equivalence_plan(d, sd, tol)}")
    side = "below" if d < 0 else "above"
    return Verdict(label, f"{where}, but Holm-adjusted p_{side} = {p_adjusted:.3g} >= {alpha:g}; "
                          f"{_difference_plan(abs(d), sd)}")


def seeds_for_equivalence(d: float, sd: float, tolerance_pp: float, *, alpha: float = ALPHA,
                          power: float = PLAN_POWER) -> Optional[int]:
    """Smallest n >= 2 whose TOST shows equivalence with the given power if the true d and SD are these.

    TOST rejects when both one-sided tests do, so its power is at least P_near + P_far - 1
    (each from audit.stats.power_one_sided, noncentral t, margins tol - |d| and tol + |d|); n is
    the first whose bound reaches `power`: enough, if anything one or two too many. None when |d| >= tol
    (no number of seeds shows equivalence at this mean) or sd <= 0 (no spread to plan with).
    """
    near, far = tolerance_pp - abs(d), tolerance_pp + abs(d)
    if near <= 0 or sd <= 0:
        return None

    def enough(n: int) -> bool:
        return (power_one_sided(n, near, sd, arms=1, alpha=alpha)
                + power_one_sided(n, far, sd, arms=1, alpha=alpha) - 1) >= power

    # the near test alone needs this many, and the bound is below its power: a lower end for the search
    high = seeds_needed(near, sd, arms=1, alpha=alpha, power=power).exact_t
    low = high
    while not enough(high):
        low, high = high + 1, high * 2
    while low < high:  # the bound rises with n: bisect for the first n that reaches it
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid + 1, high)
    return high


def _equivalence_plan(d: float, sd: float, tol: float) -> str:
    n = seeds_for_equivalence(d, sd, tol)
    if n is None:
        return "at the edge of the tolerance no number of seeds shows equivalence"
    return f"{n} seeds at the observed SD {sd:.2f} pp would show equivalence ({PLAN})"


def _difference_plan(gap: float, sd: float) -> str:
    n = seeds_needed(gap, sd, arms=1, power=PLAN_POWER).exact_t
    return f"{n} seeds at the observed SD {sd:.2f} pp would decide it ({PLAN})"


# --- the comparison rule: a > b between two sources ---------------------------------------------

def welch_test(a: Sequence[float], b: Sequence[float]) -> WelchTest:
    """Welch's tests of a > b and b > a from per-seed values of each arm, shapes (n_a,) and (n_b,)."""
    sa, sb = describe_sample(a), describe_sample(b)
    if sa.n == 0 or sb.n == 0:
        return WelchTest(None, None, None, None, None, None, None, None)
    return welch_test_from_summaries(sa.mean, sa.sd, sa.n, sb.mean, sb.sd, sb.n)


def welch_test_from_summaries(ma: float, sa: Optional[float], na: Optional[int],
                              mb: float, sb: Optional[float], nb: Optional[int]) -> WelchTest:
    """Welch's tests of a > b and b > a from means, sample SDs (ddof 1) and run counts.

    Both SDs 0 (every seed of each arm equal) leaves the tests undefined, not p = 0: a sample SD
    of 0 from a few seeds does not show the true spread is 0 (it mostly means the seed did not
    reach the run, or the metric is saturated), so it is no evidence beyond the two means.
    """
    undefined = WelchTest(ma - mb, None, None, None, None, None, None, None)
    if na is None or nb is None or na < 2 or nb < 2 or sa is None or sb is None or sa == sb == 0:
        return undefined
    test = compare_means(ma, sa, na, mb, sb, nb)
    return WelchTest(test.diff, test.t, test.df, test.p_welch, float(sps.t.cdf(test.t, test.df)),
                     test.z, test.p_z, float(sps.norm.cdf(test.z)))


def comparison_family_p(test: WelchTest) -> Optional[float]:
    """The one p a comparison contributes to Holm's family: that of its observed direction
    (p(a > b) when mean_a >= mean_b, else p(b > a)); None when Welch is undefined."""
    if test.p_a_greater is None:
        return None
    return test.p_a_greater if test.diff >= 0 else test.p_b_greater


def probability_of_improvement(a: Sequence[float], b: Sequence[float]) -> float:
    """P(a > b) + P(a = b) / 2 over all pairs of one seed of a and one of b (shapes (n_a,), (n_b,)).

    The effect size shown beside a comparison: 1 when every seed of a beats every seed of b,
    0.5 for no tendency either way, 0 when b always wins.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.size == 0 or y.size == 0:
        raise ValueError(f"need one value per seed in each arm, shapes (n,), got {x.shape} and {y.shape}")
    wins = (x[:, None] > y[None, :]).mean()
    ties = (x[:, None] == y[None, :]).mean()
    return float(wins + ties / 2)


def decide_comparison_verdict(*, n_a: Optional[int], n_b: Optional[int], diff: Optional[float],
                              sd_a: Optional[float], sd_b: Optional[float], p_adjusted: Optional[float],
                              z: Optional[float] = None, p_z: Optional[float] = None,
                              proportion: Optional[ProportionTest] = None,
                              alpha: float = ALPHA) -> Verdict:
    """The comparison rule: SUPPORTED (a > b) or CONTRADICTED (b > a) when the Holm-adjusted p of
    the observed direction is below alpha, else INCONCLUSIVE with what would decide it.

    `p_adjusted`: the adjusted `comparison_family_p`. When an arm has n < 2 or an unknown n, the
    reason quotes what evidence there is: `z`, `p_z` (the z-test of the observed direction, e.g.
    from stated SEs) and `proportion` (the two-proportion test of two single evaluations, which
    measures test-set noise only).
    """
    if diff is None:
        return Verdict(INCONCLUSIVE, "an arm has no completed runs")
    gap = f"mean_a - mean_b = {diff:+.2f} pp"
    if n_a is None or n_b is None or n_a < 2 or n_b < 2:
        counts = f"n_a = {_count(n_a)}, n_b = {_count(n_b)}: Welch needs at least 2 seeds per arm"
        shown = ""
        if z is not None and p_z is not None:
            shown += f"; z-test (no df, optimistic for few seeds): z = {z:.2f}, p = {p_z:.3g}"
        if proportion is not None and proportion.p is not None:
            shown += (f"; two-proportion test on the test items (test-set noise only): "
                      f"z = {proportion.z:.2f}, p = {proportion.p:.3g}")
        return Verdict(INCONCLUSIVE, f"{gap}; {counts}{shown}")
    if sd_a is None or sd_b is None:
        return Verdict(INCONCLUSIVE, f"{gap}; the seed spread of an arm is not stated, so no test")
    if sd_a == sd_b == 0:
        return Verdict(INCONCLUSIVE, f"{gap}; no seed spread (every seed of each arm equal), so Welch is "
                                     "undefined")
    return directional_verdict(gap, diff, p_adjusted, "Welch", _comparison_plan(diff, sd_a, sd_b), alpha)


def directional_verdict(gap: str, diff: float, p_adjusted: Optional[float], test: str, plan: str,
                        alpha: float = ALPHA) -> Verdict:
    """The last clauses of a directional comparison: SUPPORTED (a > b) or CONTRADICTED (b > a) when
    the Holm-adjusted p of the observed direction is below alpha, else INCONCLUSIVE with `plan`
    (what would decide it). `gap` opens the reason; `test` names the test ("Welch", "paired t")."""
    if p_adjusted is None:
        return Verdict(INCONCLUSIVE, f"{gap}; no adjusted p")
    direction = "a > b" if diff >= 0 else "b > a"
    if p_adjusted < alpha:
        label = SUPPORTED if diff >= 0 else CONTRADICTED
        return Verdict(label, f"{gap}; Holm-adjusted {test} p({direction}) = {p_adjusted:.3g} < {alpha:g}")
    return Verdict(INCONCLUSIVE, f"{gap}, but Holm-adjusted {test} p({direction}) = {p_adjusted:.3g} >= {alpha:g}; "
                                 f"{plan}")


def at_proxy_scale(verdict: Verdict, barrier: Optional[str] = None) -> Verdict:
    """A comparison verdict on proxy arms, as the report states it: the reason opens with "at proxy
    scale". A `barrier` (audit.proxy_checks.decision_barrier: a proxy unfit to rank) makes it
    INCONCLUSIVE whatever the test found, and the reason keeps what the test alone would say."""
    if barrier is None:
        return Verdict(verdict.label, f"at proxy scale: {verdict.reason}")
    alone = verdict.reason if verdict.label == INCONCLUSIVE else f"its test alone would say {verdict.label}: {verdict.reason}"
    return Verdict(INCONCLUSIVE, f"at proxy scale: {barrier}; {alone}")


def seeds_per_arm(diff: float, sd_a: float, sd_b: float, *, alpha: float = ALPHA,
                  power: float = PLAN_POWER) -> Optional[int]:
    """Seeds per arm (equal) for a one-sided two-sample t-test to detect |diff| at these SDs.

    Uses the pooled test's noncentral t (audit.stats.seeds_needed, arms = 2) at the root mean
    square SD sqrt((sd_a^2 + sd_b^2) / 2): the same z approximation as Welch, and the same t when
    the SDs are equal; with unequal SDs Welch's df are lower, so n may be one or two short.
    None when diff = 0 or both SDs are 0.
    """
    sd = math.sqrt((sd_a * sd_a + sd_b * sd_b) / 2)
    if diff == 0 or sd == 0:
        return None
    return seeds_needed(abs(diff), sd, arms=2, alpha=alpha, power=power).exact_t


def _comparison_plan(diff: float, sd_a: float, sd_b: float) -> str:
    n = seeds_per_arm(diff, sd_a, sd_b)
    if n is None:
        return "the means are equal, so no number of seeds decides it at this gap"
    return f"{n} seeds per arm at the observed SDs would decide it ({PLAN})"


def _count(n: Optional[int]) -> str:
    return "not stated" if n is None else str(n)
