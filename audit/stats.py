"""Statistics of an audit: pure functions over numbers, in percent; no I/O, no pandas, no plotting.

Two kinds of uncertainty are kept apart (docs/design.md §5):
- seed spread: the runs of one source (its `values`, shape (n_seeds,)) give mean, SD, SE, a
  Student-t interval and one-sample t-tests against the claimed number;
- test-set sampling error: one run's accuracy from its counts (correct of total) gives a Wilson
  interval. It says how precisely one evaluation measured that run, nothing about other seeds.

Holm's adjustment, the two-sample tests and the seed planning live here too, so that every number
in `reports/summary.json` comes from a function with its own test; the decision rules that turn
these numbers into verdicts (rule v3 and the comparison rule) are in audit.verdicts.
Results are small frozen dataclasses; None stands for "undefined" (e.g. an SD of one run), never
a made-up number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats as sps

ALPHA = 0.05  # significance level of every test in the audit
EPS = 1e-9  # slack on |d| <= tolerance (audit.verdicts), so that a difference at the tolerance counts as within it
LEVEL = 0.95  # level of every interval in the report


@dataclass(frozen=True)
class Interval:
    """A two-sided interval with the method and level that produced it (percent)."""

    low: float
    high: float
    level: float
    method: str  # "student-t" (seed spread of a mean) or "wilson" (one evaluation's counts)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class DisplayInterval:
    """An interval of a percentage as shown: clipped to [0, 100], flagged when clipping happened."""

    low: float
    high: float
    clipped: bool


@dataclass(frozen=True)
class SampleStats:
    """Seed statistics of one source: n runs, mean, SD (ddof 1), SE = SD/sqrt(n), Student-t CI.

    sd, se and ci are None for n = 1; everything but n is None for n = 0.
    """

    n: Optional[int]  # None only for a published mean whose run count is not stated
    mean: Optional[float]
    sd: Optional[float]
    se: Optional[float]
    ci: Optional[Interval]


@dataclass(frozen=True)
class OneSampleTest:
    """One-sided one-sample t-tests of a mean against a reference value (None for n < 2).

    t is None also when SE = 0 (it would be infinite or undefined); the p-values are then set by
    the rule: p_below = 0 if d < 0 else 1, p_above = 0 if d > 0 else 1.
    """

    t: Optional[float]
    df: Optional[int]
    p_below: Optional[float]  # P(T <= t): evidence that the true mean is below the reference
    p_above: Optional[float]  # P(T >= t): evidence that it is above


@dataclass(frozen=True)
class TwoSampleTest:
    """a > b, one-tailed: the z-test and Welch's t-test on the same means, SDs and counts.

    z = (ma - mb) / sqrt(sa^2/na + sb^2/nb), p_z = 1 - Phi(z); Welch: the same statistic against
    a t distribution with Welch-Satterthwaite df (not rounded). All but diff None when an arm has
    n < 2 or no SD, and when both SDs are 0 (no spread to test against: see
    audit.verdicts.welch_test_from_summaries).
    """

    diff: Optional[float]
    z: Optional[float]
    p_z: Optional[float]
    t: Optional[float]
    df: Optional[float]
    p_welch: Optional[float]


@dataclass(frozen=True)
class ProportionTest:
    """a > b from two single evaluations' counts: pooled two-proportion z-test, one-tailed.

    It measures test-set sampling noise only: two runs can differ by far more from seed to seed.
    """

    diff: float  # percentage points
    z: Optional[float]
    p: Optional[float]


@dataclass(frozen=True)
class SeedPlan:
    """Seeds needed to detect `gap` at SD `sd` with a one-sided test (per arm when arms = 2)."""

    arms: int  # 1: one sample against a fixed number; 2: two independent samples of equal size
    gap: float
    sd: float
    alpha: float
    power: float
    z_approx: int  # normal approximation, rounded up
    exact_t: int  # smallest n >= 2 whose noncentral-t power reaches `power`


# --- seed spread -------------------------------------------------------------------------------

def describe_sample(values: Sequence[float], level: float = LEVEL) -> SampleStats:
    """Mean, SD (ddof 1), SE and Student-t CI of per-seed values, shape (n_seeds,), percent."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected one value per seed, shape (n,), got shape {x.shape}")
    n = int(x.size)
    if n == 0:
        return SampleStats(0, None, None, None, None)
    mean = float(x.mean())
    if n == 1:
        return SampleStats(1, mean, None, None, None)
    sd = float(x.std(ddof=1))
    return summary_stats(mean, sd, n, level)


def summary_stats(mean: float, sd: Optional[float], n: int, level: float = LEVEL) -> SampleStats:
    """SampleStats from a published (mean, sd, n); sd None or n = 1 leave SE and CI undefined."""
    if n < 2 or sd is None:
        return SampleStats(n, mean, sd if n >= 2 else None, None, None)
    se = sd / math.sqrt(n)
    return SampleStats(n, mean, sd, se, t_interval(mean, se, n, level))


def t_interval(mean: float, se: float, n: int, level: float = LEVEL) -> Interval:
    """mean ± t_{(1+level)/2, n-1} · SE, the Student-t interval of a mean of n >= 2 values."""
    if n < 2:
        raise ValueError(f"a t interval needs n >= 2, got {n}")
    half = t_quantile(level, n) * se
    return Interval(mean - half, mean + half, level, "student-t")


def t_quantile(level: float, n: int) -> float:
    """t_{(1+level)/2} with n - 1 degrees of freedom: the CI half-width in units of SE."""
    return float(sps.t.ppf((1 + level) / 2, n - 1))


def clip_percent(low: float, high: float) -> DisplayInterval:
    """An interval of a percentage clipped to [0, 100] for display (a t-interval can pass the ends)."""
    shown_low, shown_high = min(max(low, 0.0), 100.0), min(max(high, 0.0), 100.0)
    return DisplayInterval(shown_low, shown_high, (shown_low, shown_high) != (low, high))


# --- one evaluation's test-set noise -----------------------------------------------------------

def wilson_interval(correct: float, total: float, level: float = LEVEL) -> Interval:
    """Wilson score interval of an accuracy from its counts, in percent.

    `correct` may be fractional (ARC pass@2 sums per-task scores such as 0.5).
    """
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total > 0, got {correct} of {total}")
    p = correct / total
    z = _z(level)
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = _wilson_half_fraction(p, total, z)
    return Interval(100 * (centre - half), 100 * (centre + half), level, "wilson")


def wilson_half_width(percent: float, total: float, level: float = LEVEL) -> float:
    """Half-width (pp) of the Wilson interval of one evaluation scoring `percent` on `total` items."""
    if total <= 0:
        raise ValueError(f"total must be positive, got {total}")
    return 100 * _wilson_half_fraction(percent / 100, total, _z(level))


def solve_wilson_total(percent: float, half_width: float, level: float = LEVEL) -> float:
    """The test-set size N (real) at which one evaluation scoring `percent` has this Wilson half-width.

    The half-width falls strictly as N grows, so the root is unique; found by bisection on log N.
    """
    if not 0 < percent < 100 or half_width <= 0:
        raise ValueError(f"need 0 < percent < 100 and half_width > 0, got {percent}, {half_width}")
    low, high = 1e-9, 1e15
    if wilson_half_width(percent, low, level) <= half_width:
        return low
    for _ in range(200):
        mid = math.sqrt(low * high)
        if wilson_half_width(percent, mid, level) > half_width:
            low = mid
        else:
            high = mid
    return math.sqrt(low * high)


def wilson_total_range(percent: float, half_width: float, rounding: float,
                       level: float = LEVEL) -> Optional[tuple[int, int]]:
    """Integer test-set sizes N whose Wilson half-width rounds to the published one.

    `rounding` is the largest rounding error of the published figure (0.005 for two decimals):
    N qualifies when |wilson_half_width(percent, N) - half_width| <= rounding. None if no integer does.
    """
    if half_width - rounding <= 0:
        return None  # any N large enough would do: no upper end
    smallest = max(1, math.ceil(solve_wilson_total(percent, half_width + rounding, level) - 1e-9))
    largest = math.floor(solve_wilson_total(percent, half_width - rounding, level) + 1e-9)
    # guard the ends against the bisection's last bit
    while smallest <= largest and wilson_half_width(percent, smallest, level) > half_width + rounding + 1e-12:
        smallest += 1
    while largest >= smallest and wilson_half_width(percent, largest, level) < half_width - rounding - 1e-12:
        largest -= 1
    return (smallest, largest) if smallest <= largest else None


def _wilson_half_fraction(p: float, total: float, z: float) -> float:
    return z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)


def _z(level: float) -> float:
    return float(sps.norm.ppf((1 + level) / 2))


# --- against the claimed number ----------------------------------------------------------------

def one_sample_test(mean: Optional[float], se: Optional[float], n: int, reference: float) -> OneSampleTest:
    """t = (mean - reference) / SE with n - 1 df; both one-sided p-values (docs/design.md §5.2).

    `se` is SD/sqrt(n) of the per-seed values; None (n < 2) gives an all-None test.
    """
    if n < 2 or mean is None or se is None:
        return OneSampleTest(None, None, None, None)
    d = mean - reference
    if se == 0:
        return OneSampleTest(None, n - 1, 0.0 if d < 0 else 1.0, 0.0 if d > 0 else 1.0)
    t = d / se
    return OneSampleTest(t, n - 1, float(sps.t.cdf(t, n - 1)), float(sps.t.sf(t, n - 1)))


def holm_adjust(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm's step-down adjustment, in the input order.

    Sorted ascending p_(1) <= ... <= p_(m): adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j)).
    A result is significant at alpha after adjustment iff its adjusted p < alpha.
    """
    p = [float(v) for v in p_values]
    if any(not 0 <= v <= 1 for v in p):
        raise ValueError(f"p-values must lie in [0, 1], got {p}")
    m = len(p)
    order = sorted(range(m), key=lambda i: (p[i], i))
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return tuple(adjusted)


def holm_thresholds(p_values: Sequence[float], alpha: float = ALPHA) -> tuple[float, ...]:
    """The alpha each p is held to in Holm's step-down, in the input order: alpha / (m - j + 1) for the
    j-th smallest of m (ties in input order, as holm_adjust ranks them). A seed plan at this alpha is
    what would decide a result where it stands in the family; holm_adjust(p)[i] < alpha needs
    p[i] below its threshold (and every smaller p below theirs)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (float(p_values[i]), i))
    thresholds = [0.0] * m
    for rank, i in enumerate(order):
        thresholds[i] = alpha / (m - rank)
    return tuple(thresholds)


# --- comparisons between two sources -----------------------------------------------------------

def compare_means(ma: float, sa: Optional[float], na: int,
                  mb: float, sb: Optional[float], nb: int) -> TwoSampleTest:
    """a > b from summaries: means, sample SDs (ddof 1) and run counts of each arm."""
    diff = ma - mb
    if na < 2 or nb < 2 or sa is None or sb is None or sa == sb == 0:
        return TwoSampleTest(diff, None, None, None, None, None)
    va, vb = sa * sa / na, sb * sb / nb
    stat = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    return TwoSampleTest(diff, stat, float(sps.norm.sf(stat)), stat, df, float(sps.t.sf(stat, df)))


def two_proportion_test(correct_a: float, total_a: float, correct_b: float, total_b: float) -> ProportionTest:
    """a > b from one evaluation per arm: pooled two-proportion z-test, one-tailed, diff in pp.

    z and p are None when the pooled proportion is 0 or 1 (no variance to test against).
    """
    pa, pb = correct_a / total_a, correct_b / total_b
    pooled = (correct_a + correct_b) / (total_a + total_b)
    variance = pooled * (1 - pooled) * (1 / total_a + 1 / total_b)
    diff = 100 * (pa - pb)
    if variance <= 0:
        return ProportionTest(diff, None, None)
    z = (pa - pb) / math.sqrt(variance)
    return ProportionTest(diff, z, float(sps.norm.sf(z)))


# --- seed planning -----------------------------------------------------------------------------

def power_one_sided(n: int, gap: float, sd: float, *, arms: int, alpha: float = ALPHA) -> float:
    """Power of a one-sided t-test with n seeds (per arm) when the true difference is `gap`.

    arms = 1: one-sample test against a fixed number, df = n - 1, ncp = gap / (sd / sqrt(n)).
    arms = 2: two-sample pooled t-test with n per arm, df = 2n - 2, ncp = gap / (sd sqrt(2 / n)).
    """
    _check_plan(gap, sd, arms)
    if n < 2:
        raise ValueError(f"a t-test needs n >= 2, got {n}")
    df = arms * n - arms
    ncp = gap / (sd * math.sqrt(arms / n))
    critical = sps.t.ppf(1 - alpha, df)
    return float(sps.nct.sf(critical, df, ncp))


def seeds_needed(gap: float, sd: float, *, arms: int, alpha: float = ALPHA, power: float = 0.8) -> SeedPlan:
    """Seeds (per arm) for a one-sided test to detect `gap` at SD `sd` with the given power.

    z approximation: n = arms * ((z_{1-alpha} + z_{power}) sd / gap)^2, rounded up (at least 2);
    exact: the smallest n >= 2 whose noncentral-t power (power_one_sided) reaches `power`.
    """
    _check_plan(gap, sd, arms)
    z_sum = sps.norm.ppf(1 - alpha) + sps.norm.ppf(power)
    z_n = max(2, math.ceil(arms * (z_sum * sd / gap) ** 2 - 1e-9))
    high = max(2, z_n)
    while power_one_sided(high, gap, sd, arms=arms, alpha=alpha) < power:
        high *= 2
    low = 2
    while low < high:  # power rises with n: bisect for the first n that reaches it
        mid = (low + high) // 2
        if power_one_sided(mid, gap, sd, arms=arms, alpha=alpha) >= power:
            high = mid
        else:
            low = mid + 1
    return SeedPlan(arms, gap, sd, alpha, power, z_n, low)


def _check_plan(gap: float, sd: float, arms: int) -> None:
    if gap <= 0 or sd <= 0 or arms not in (1, 2):
        raise ValueError(f"need gap > 0, sd > 0 and arms in (1, 2), got gap={gap}, sd={sd}, arms={arms}")
