"""The two other kinds of comparison (docs/design.md §5.3): equivalence within a margin, and paired runs.

* An equivalence (`alternative: equivalent`, `margin_pp` m): a TOST of d = mean_a - mean_b against
  ±m with Welch's SE and df. It contributes to the comparisons' Holm family, like rule v3 does for
  a claim, p_equiv when |d| <= m, else the one-sided p of a difference beyond the margin on d's side;
  SUPPORTED when equivalence is shown, CONTRADICTED when a difference beyond the margin is.
* A paired comparison (both arms scored from the same runs, `runs_of`): the one-sided t-test of the
  per-seed differences a_i - b_i, matched by seed, instead of Welch; returned as a WelchTest so that
  the comparison rule (audit.verdicts) arranges it like any other.

Pure functions of means, SDs and run counts, in percent (pp for differences).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from scipy import stats as sps

from audit.stats import ALPHA, EPS, describe_sample, seeds_needed
from audit.verdicts import (CONTRADICTED, INCONCLUSIVE, PLAN, PLAN_POWER, SUPPORTED, Verdict, WelchTest,
                            directional_verdict, seeds_for_equivalence)


@dataclass(frozen=True)
class EquivalenceComparison:
    """TOST of d = mean_a - mean_b against ±margin_pp with standard error `se` and `df` (Welch's, or n - 1 paired).

    p_lower tests H0: d <= -m (p = P(T >= (d + m)/SE)), p_upper H0: d >= +m (p = P(T <= (d - m)/SE));
    p_equiv = max of the two. p_beyond: the one-sided p of a difference beyond the margin on d's side
    (H0: d <= m when d > 0, p = P(T >= (d - m)/SE); H0: d >= -m otherwise), i.e. 1 - p_upper or 1 - p_lower.
    """

    diff: float
    se: float
    df: float
    margin_pp: float
    p_lower: float
    p_upper: float
    p_equiv: float
    p_beyond: float


def welch_se_df(sa: Optional[float], na: Optional[int], sb: Optional[float],
                nb: Optional[int]) -> Optional[tuple[float, float]]:
    """(SE, Welch-Satterthwaite df) of mean_a - mean_b from sample SDs and run counts; None when
    undefined (an arm with n < 2 or no SD, or both SDs 0, as for Welch's test)."""
    if na is None or nb is None or na < 2 or nb < 2 or sa is None or sb is None or sa == sb == 0:
        return None
    va, vb = sa * sa / na, sb * sb / nb
    return math.sqrt(va + vb), (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))


def equivalence_comparison(diff: float, se: float, df: float, margin_pp: float) -> EquivalenceComparison:
    """TOST of `diff` (pp) with standard error se > 0 and df > 0 against ±margin_pp."""
    if se <= 0 or df <= 0 or margin_pp <= 0:
        raise ValueError(f"a TOST needs se > 0, df > 0 and a margin > 0, got se={se}, df={df}, margin={margin_pp}")
    p_lower = float(sps.t.sf((diff + margin_pp) / se, df))
    p_upper = float(sps.t.cdf((diff - margin_pp) / se, df))
    p_beyond = 1 - p_upper if diff >= 0 else 1 - p_lower
    return EquivalenceComparison(diff, se, df, margin_pp, p_lower, p_upper, max(p_lower, p_upper), p_beyond)


def equivalence_family_p(test: Optional[EquivalenceComparison], eps: float = EPS) -> Optional[float]:
    """The one p an equivalence contributes to Holm's family: p_equiv when |d| <= m + EPS, else
    p_beyond; None (not in the family) when untested."""
    if test is None:
        return None
    return test.p_equiv if abs(test.diff) <= test.margin_pp + eps else test.p_beyond


def decide_equivalence_verdict(*, diff: Optional[float], test: Optional[EquivalenceComparison],
                               p_adjusted: Optional[float], sd: Optional[float], margin_pp: float,
                               untested: str = "no test", alpha: float = ALPHA,
                               eps: float = EPS) -> Verdict:
    """SUPPORTED (|a - b| < m shown), CONTRADICTED (a difference beyond ±m shown) or INCONCLUSIVE.

    `p_adjusted`: the Holm-adjusted `equivalence_family_p`. `sd`: the SD of a - b per seed pair,
    sqrt(sd_a^2 + sd_b^2) for independent arms, for the seed plan of an open verdict. `untested`:
    why there is no test, when `test` is None.
    """
    if diff is None:
        return Verdict(INCONCLUSIVE, "an arm has no completed runs")
    within = abs(diff) <= margin_pp + eps
    where = (f"mean_a - mean_b = {diff:+.2f} pp is {'within' if within else 'outside'} "
             f"the margin of ±{margin_pp:g} pp")
    if test is None or p_adjusted is None:
        return Verdict(INCONCLUSIVE, f"{where}; {untested}")
    name = "TOST p" if within else "p of a difference beyond the margin"
    if p_adjusted < alpha:
        label = SUPPORTED if within else CONTRADICTED
        return Verdict(label, f"{where}; Holm-adjusted {name} = {p_adjusted:.3g} < {alpha:g}")
    return Verdict(INCONCLUSIVE, f"{where}, but Holm-adjusted {name} = {p_adjusted:.3g} >= {alpha:g}; "
                                 f"{equivalence_plan(diff, sd, margin_pp)}")


def equivalence_seeds(diff: float, sd: Optional[float], margin_pp: float, alpha: float = ALPHA) -> Optional[int]:
    """Seeds per arm that would decide an equivalence at this difference and per-pair SD: the TOST's
    (audit.verdicts.seeds_for_equivalence) within the margin, else the test beyond it; one-sample df
    n - 1, so with independent arms (Welch df near 2n - 2) an upper bound. None when undecidable."""
    if sd is None or sd <= 0:
        return None
    if abs(diff) < margin_pp:
        return seeds_for_equivalence(diff, sd, margin_pp, alpha=alpha)
    if abs(diff) == margin_pp:
        return None
    return seeds_needed(abs(diff) - margin_pp, sd, arms=1, alpha=alpha, power=PLAN_POWER).exact_t


def equivalence_plan(diff: float, sd: Optional[float], margin_pp: float) -> str:
    n = equivalence_seeds(diff, sd, margin_pp)
    if n is None:
        return "no number of seeds decides it at this difference" if sd else "the seed spread is unknown"
    return f"{n} seeds per arm at the observed SDs would decide it ({PLAN})"


def paired_test(a: list[float], b: list[float]) -> WelchTest:
    """One-sided t-tests of a > b and b > a on the per-seed differences a_i - b_i (lists matched by
    seed, shapes (n,)), df = n - 1, with the z-test on the same statistic; a WelchTest's fields.

    Undefined (all but diff None) for n < 2 or when every difference is equal (SD 0), as Welch is.
    """
    if len(a) != len(b):
        raise ValueError(f"a paired test needs one value of each arm per seed, got {len(a)} and {len(b)}")
    d = describe_sample([x - y for x, y in zip(a, b)])
    if d.n == 0:
        return WelchTest(None, None, None, None, None, None, None, None)
    if d.sd is None or d.sd == 0:
        return WelchTest(d.mean, None, None, None, None, None, None, None)
    t, df = d.mean / d.se, d.n - 1
    return WelchTest(d.mean, t, float(df), float(sps.t.sf(t, df)), float(sps.t.cdf(t, df)), t,
                     float(sps.norm.sf(t)), float(sps.norm.cdf(t)))


def paired_seeds(diff: float, sd_diff: Optional[float], alpha: float = ALPHA) -> Optional[int]:
    """Seeds (pairs) for the one-sided paired t-test to detect |diff| at the SD of the differences."""
    if diff == 0 or not sd_diff:
        return None
    return seeds_needed(abs(diff), sd_diff, arms=1, alpha=alpha, power=PLAN_POWER).exact_t


def decide_paired_verdict(*, n: int, diff: Optional[float], sd_diff: Optional[float], p_adjusted: Optional[float],
                          alpha: float = ALPHA) -> Verdict:
    """The comparison rule on paired runs: SUPPORTED (a > b) or CONTRADICTED (b > a) when the
    Holm-adjusted paired p of the observed direction is below alpha, else INCONCLUSIVE with the
    seeds that would decide it. n: the seeds both arms have; sd_diff: the SD of a_i - b_i."""
    if diff is None:
        return Verdict(INCONCLUSIVE, "no seed has a counted run in both arms")
    gap = f"mean of a - b over {n} seed{'s' if n != 1 else ''} matched by seed = {diff:+.2f} pp"
    if n < 2:
        return Verdict(INCONCLUSIVE, f"{gap}; a paired t-test needs at least 2 seeds in both arms")
    if sd_diff == 0:
        return Verdict(INCONCLUSIVE, f"{gap}; every seed's difference is equal (SD 0), so the paired test is "
                                     "undefined")
    n_plan = paired_seeds(diff, sd_diff)
    plan = (f"{n_plan} seeds at the observed SD of the differences {sd_diff:.2f} pp would decide it ({PLAN})"
            if n_plan else "no number of seeds decides it at this gap")
    return directional_verdict(gap, diff, p_adjusted, "paired t", plan, alpha)
