"""audit.verdicts: rule v3 and the comparison rule on hand-checkable inputs, then statsmodels on random ones."""
import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import DescrStatsW, ttest_ind

from audit.stats import describe_sample, holm_adjust, power_one_sided, seeds_needed, two_proportion_test
from audit.verdicts import (CONSISTENT, CONTRADICTED, EXCEEDED, INCONCLUSIVE, NO_CLAIM, NOT_COMPARABLE,
                            NOT_REPRODUCED, REPRODUCED, SUPPORTED, at_proxy_scale, claim_test, comparison_family_p,
                            decide_claim_verdict, decide_comparison_verdict, equivalence_test, family_p,
                            probability_of_improvement, seeds_for_equivalence, seeds_per_arm, welch_test,
                            welch_test_from_summaries)


def judge_values(values, claimed=85.3, tol=2.0, p_adjusted="raw"):
    """Rule v3 on per-seed values; p_adjusted defaults to the raw family p (a family of one)."""
    s = describe_sample(values)
    test = claim_test(s.mean, s.se, s.n, claimed, tol)
    p = family_p(test) if p_adjusted == "raw" else p_adjusted
    return decide_claim_verdict(comparable=True, claimed=claimed, n=s.n, d=s.mean - claimed, sd=s.sd,
                                p_adjusted=p, tolerance_pp=tol)


def claim_verdict(**kw):
    base = dict(comparable=True, claimed=85.3, n=3, d=-5.0, sd=2.0, p_adjusted=0.01, tolerance_pp=2.0)
    base.update(kw)
    return decide_claim_verdict(**base)


# --- the equivalence test ----------------------------------------------------------------------


def test_equivalence_test_by_hand():
    # d = 0, SE = 1, tol = 1, df 1: both sides P(T_1 >= 1) = 1/2 - atan(1)/pi = 1/4
    tost = equivalence_test(0.0, 1.0, 2, 1.0)
    assert (tost.t_lower, tost.t_upper, tost.df) == (1.0, -1.0, 1)
    assert tost.p_lower == pytest.approx(0.25) and tost.p_upper == pytest.approx(0.25)
    assert tost.p_equiv == pytest.approx(0.25)
    # d = 0.5: the upper side binds, t = -0.5, P(T_1 <= -0.5) = 1/2 - atan(0.5)/pi
    tost = equivalence_test(0.5, 1.0, 2, 1.0)
    assert tost.p_equiv == tost.p_upper == pytest.approx(0.5 - math.atan(0.5) / math.pi)


@pytest.mark.parametrize("d, p_lower, p_upper", [(1.0, 0.0, 0.0), (-1.999, 0.0, 0.0), (2.0, 0.0, 1.0),
                                                 (-2.0, 1.0, 0.0), (-3.0, 1.0, 0.0), (0.0, 0.0, 0.0)])
def test_equivalence_with_zero_spread_is_exact(d, p_lower, p_upper):
    tost = equivalence_test(d, 0.0, 3, 2.0)
    assert (tost.t_lower, tost.t_upper, tost.p_lower, tost.p_upper) == (None, None, p_lower, p_upper)
    assert tost.p_equiv == (0.0 if abs(d) < 2.0 else 1.0)  # docs/design.md §5: 0 iff |d| < tol, strictly


def test_equivalence_test_rejects_one_run():
    with pytest.raises(ValueError):
        equivalence_test(0.0, 1.0, 1, 2.0)


def test_tost_boundary_just_inside_and_just_outside():
    # n = 3, SE = 1: p_equiv = 0.05 exactly when tol - |d| = t_{0.95, 2}
    t_crit = sps.t.ppf(0.95, 2)
    for step, expected in [(-1e-6, REPRODUCED), (+1e-6, CONSISTENT)]:
        d = 5.0 - t_crit + step
        p = equivalence_test(d, 1.0, 3, 5.0).p_equiv
        assert (p < 0.05) == (expected == REPRODUCED)
        sd = math.sqrt(3)  # SE = sd / sqrt(3) = 1
        assert claim_verdict(d=d, sd=sd, p_adjusted=p, tolerance_pp=5.0).label == expected


# --- family p ----------------------------------------------------------------------------------


def test_family_p_picks_equivalence_inside_the_tolerance_else_the_side_of_d():
    def p_of(d):
        return family_p(claim_test(85.3 + d, 1.0, 3, 85.3, 2.0))
    inside = claim_test(85.3 - 1.0, 1.0, 3, 85.3, 2.0)
    assert p_of(-1.0) == inside.p_equiv
    below = claim_test(85.3 - 2.0 - 2e-9, 1.0, 3, 85.3, 2.0)
    assert p_of(-2.0 - 2e-9) == below.p_below
    above = claim_test(85.3 + 4.0, 1.0, 3, 85.3, 2.0)
    assert p_of(4.0) == above.p_above
    assert family_p(None) is None
    # within EPS of the tolerance still counts as inside (p_equiv)
    edge = claim_test(85.3, 1.0, 3, 85.3 + 2.0 + 5e-10, 2.0)
    assert family_p(edge) == edge.p_equiv


def test_claim_test_is_none_without_a_spread():
    assert claim_test(85.0, None, 1, 85.3, 2.0) is None
    assert claim_test(85.0, 1.0, None, 85.3, 2.0) is None
    assert claim_test(85.0, None, 3, 85.3, 2.0) is None


# --- rule v3, clause by clause -----------------------------------------------------------------


def test_v3_clauses_1_not_comparable_and_no_claim():
    assert claim_verdict(comparable=False, d=0.0, p_adjusted=0.001).label == NOT_COMPARABLE
    assert claim_verdict(claimed=None, d=None, p_adjusted=None).label == NO_CLAIM
    assert claim_verdict(n=0, d=None, sd=None, p_adjusted=None).label == INCONCLUSIVE


def test_v3_clauses_2_to_4_from_data():
    v = judge_values([85.0, 85.5, 85.2])  # SD 0.25, |d| 0.07: the 90% interval is well inside ±2
    assert v.label == REPRODUCED and "TOST" in v.reason
    assert judge_values([80.0, 80.5, 79.8]).label == NOT_REPRODUCED
    assert judge_values([90.0, 90.5, 89.8]).label == EXCEEDED


def test_v3_clauses_5_and_6_with_seeds_to_decide():
    # within the tolerance but too noisy: CONSISTENT, with the seeds for equivalence
    v = claim_verdict(d=-1.0, sd=3.0, p_adjusted=0.3)
    assert v.label == CONSISTENT
    assert f"{seeds_for_equivalence(-1.0, 3.0, 2.0)} seeds" in v.reason and "equivalence" in v.reason
    # outside but not significant: INCONCLUSIVE, with the seeds for the difference
    v = claim_verdict(d=-3.0, sd=4.0, p_adjusted=0.2)
    assert v.label == INCONCLUSIVE
    assert f"{seeds_needed(3.0, 4.0, arms=1).exact_t} seeds" in v.reason and "p_below = 0.2" in v.reason
    assert "p_above" in claim_verdict(d=3.0, sd=4.0, p_adjusted=0.2).reason


def test_v3_one_run_and_unknown_run_count_say_so():
    v = claim_verdict(n=1, d=-1.0, sd=None, p_adjusted=None)
    assert v.label == CONSISTENT and "one run" in v.reason
    v = claim_verdict(n=1, d=-5.0, sd=None, p_adjusted=None)
    assert v.label == INCONCLUSIVE and "one run" in v.reason
    v = claim_verdict(n=None, d=1.63, sd=None, p_adjusted=None)
    assert v.label == CONSISTENT and "number of runs is not stated" in v.reason
    v = claim_verdict(n=None, d=-5.01, sd=None, p_adjusted=None)
    assert v.label == INCONCLUSIVE and "not stated" in v.reason
    v = claim_verdict(n=3, d=-1.0, sd=None, p_adjusted=None)
    assert v.label == CONSISTENT and "spread is not stated" in v.reason


def test_v3_zero_spread_is_untested_and_says_so():
    """Identical seeds give no p (p = 0 would be the strongest evidence from the weakest): within the
    tolerance CONSISTENT, outside INCONCLUSIVE, each saying the spread is 0."""
    assert claim_test(85.0, 0.0, 3, 85.3, 2.0) is None
    v = judge_values([85.0, 85.0, 85.0])
    assert v.label == CONSISTENT and "SD 0" in v.reason
    v = judge_values([80.0, 80.0, 80.0])
    assert v.label == INCONCLUSIVE and "SD 0" in v.reason
    assert judge_values([90.0, 90.0]).label == INCONCLUSIVE
    assert judge_values([87.0, 87.0, 87.0], claimed=85.0).label == CONSISTENT  # |d| = tol: within


def test_three_seeds_far_apart_no_longer_reproduce():
    """70.3, 100.0, 85.6 vs 85.3 ± 2: mean exactly 85.3, so v2 (|d| <= tol from the mean alone) said
    REPRODUCED; under v3 the spread shows nothing, so CONSISTENT."""
    values = [70.3, 100.0, 85.6]
    s = describe_sample(values)
    assert s.mean == pytest.approx(85.3) and abs(s.mean - 85.3) <= 2.0
    # SD = sqrt((225 + 216.09 + 0.09) / 2), SE = SD / sqrt(3); TOST t = 2 / SE with 2 df, where
    # P(T_2 >= t) = 1/2 - t / (2 sqrt(2 + t^2))
    se = math.sqrt((225 + 216.09 + 0.09) / 2) / math.sqrt(3)
    t = 2 / se
    p_equiv = claim_test(s.mean, s.se, 3, 85.3, 2.0).p_equiv
    assert p_equiv == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)))
    assert p_equiv == pytest.approx(0.4186, abs=1e-4)
    v = judge_values(values)
    assert v.label == CONSISTENT and "0.419" in v.reason


def test_holm_turns_reproduced_into_consistent():
    """Two results each within tolerance with raw TOST p 0.03 and 0.04: REPRODUCED alone, not after Holm."""
    raw = [0.03, 0.04]
    assert [claim_verdict(d=-0.5, sd=1.0, p_adjusted=p).label for p in raw] == [REPRODUCED, REPRODUCED]
    adjusted = holm_adjust(raw)
    assert adjusted == pytest.approx((0.06, 0.06))
    assert [claim_verdict(d=-0.5, sd=1.0, p_adjusted=p).label for p in adjusted] == [CONSISTENT, CONSISTENT]


def test_holm_over_a_mixed_family_from_data():
    # a shortfall (p_below) and an equivalence (p_equiv) share one family
    short = claim_test(80.0, 1.4, 3, 85.3, 2.0)  # t = -3.79, p_below ~ 0.032
    close = claim_test(85.0, 0.55, 3, 85.3, 2.0)  # lower side t = 1.7 / 0.55, p_equiv ~ 0.045
    family = [family_p(short), family_p(close)]
    assert all(p < 0.05 for p in family)
    adjusted = holm_adjust(family)
    assert all(p >= 0.05 for p in adjusted)
    assert claim_verdict(d=short.d, sd=1.4 * math.sqrt(3), p_adjusted=family[0]).label == NOT_REPRODUCED
    assert claim_verdict(d=short.d, sd=1.4 * math.sqrt(3), p_adjusted=adjusted[0]).label == INCONCLUSIVE
    assert claim_verdict(d=close.d, sd=0.55 * math.sqrt(3), p_adjusted=family[1]).label == REPRODUCED
    assert claim_verdict(d=close.d, sd=0.55 * math.sqrt(3), p_adjusted=adjusted[1]).label == CONSISTENT


# --- seeds for equivalence ---------------------------------------------------------------------


@pytest.mark.parametrize("d, sd, tol", [(1.0, 1.0, 2.0), (0.0, 1.0, 2.0), (-0.3, 2.5, 2.0)])
def test_seeds_for_equivalence_is_the_first_n_whose_bound_reaches_the_power(d, sd, tol):
    def bound(n):
        return power_one_sided(n, tol - abs(d), sd, arms=1) + power_one_sided(n, tol + abs(d), sd, arms=1) - 1
    n = seeds_for_equivalence(d, sd, tol)
    assert bound(n) >= 0.8
    assert n == 2 or bound(n - 1) < 0.8


def test_seeds_for_equivalence_give_the_power_by_simulation():
    d, sd, tol = 1.0, 1.0, 2.0
    n = seeds_for_equivalence(d, sd, tol)
    rng = np.random.default_rng(0)
    x = rng.normal(d, sd, size=(20_000, n))
    se = x.std(axis=1, ddof=1) / math.sqrt(n)
    half = sps.t.ppf(0.95, n - 1) * se
    shown = (x.mean(axis=1) - half > -tol) & (x.mean(axis=1) + half < tol)
    assert shown.mean() >= 0.8 - 0.01


def test_seeds_for_equivalence_undefined_at_the_edge():
    assert seeds_for_equivalence(2.0, 1.0, 2.0) is None
    assert seeds_for_equivalence(-2.5, 1.0, 2.0) is None
    assert seeds_for_equivalence(0.5, 0.0, 2.0) is None


# --- the comparison rule -----------------------------------------------------------------------


def test_welch_both_directions_by_hand():
    # a: 10, 12 (mean 11, var 2); b: 4, 6 (mean 5, var 2): t = 6 / sqrt(2), Welch df = 4 / (1 + 1) = 2
    test = welch_test([10.0, 12.0], [4.0, 6.0])
    t = 6 / math.sqrt(2)
    assert test.t == pytest.approx(t) and test.df == pytest.approx(2.0)
    # P(T_2 >= t) = 1/2 - t / (2 sqrt(2 + t^2))
    assert test.p_a_greater == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)))
    assert test.p_a_greater + test.p_b_greater == pytest.approx(1.0)
    assert test.p_z_a_greater == pytest.approx(sps.norm.sf(t)) and test.z == test.t
    assert comparison_family_p(test) == test.p_a_greater
    assert comparison_family_p(welch_test([4.0, 6.0], [10.0, 12.0])) == pytest.approx(test.p_a_greater)


def test_welch_undefined_without_two_seeds_per_arm():
    test = welch_test([52.75], [43.0, 44.0])
    assert test.diff == pytest.approx(9.25) and test.t is None and comparison_family_p(test) is None
    assert welch_test_from_summaries(52.75, 3.09, None, 43.0, 0.16, 3).t is None
    assert welch_test_from_summaries(52.75, None, 3, 43.0, 0.16, 3).t is None
    assert welch_test([], [1.0, 2.0]).diff is None


def test_welch_with_no_seed_spread_in_either_arm_is_undefined_not_p_zero():
    test = welch_test([50.0, 50.0, 50.0], [40.0, 40.0, 40.0])
    assert test.diff == 10.0
    assert (test.t, test.df, test.p_a_greater, test.p_z_a_greater) == (None, None, None, None)
    assert comparison_family_p(test) is None
    v = decide_comparison_verdict(n_a=3, n_b=3, diff=10.0, sd_a=0.0, sd_b=0.0, p_adjusted=None)
    assert v.label == INCONCLUSIVE and "no seed spread" in v.reason


def test_welch_with_one_constant_arm_is_a_one_sample_test_of_the_other():
    test = welch_test([50.0, 50.0, 50.0], [40.0, 42.0])  # df = (var_b/2)^2 / ((var_b/2)^2 / 1) = 1
    assert test.df == pytest.approx(1.0)
    assert test.t == pytest.approx(9.0)  # (50 - 41) / sqrt(2 / 2)
    assert test.p_a_greater == pytest.approx(0.5 - math.atan(9.0) / math.pi)


def comparison(**kw):
    base = dict(n_a=3, n_b=3, diff=5.0, sd_a=1.0, sd_b=1.0, p_adjusted=0.01)
    base.update(kw)
    return decide_comparison_verdict(**base)


def test_comparison_clauses():
    assert comparison().label == SUPPORTED
    assert comparison(diff=-5.0).label == CONTRADICTED
    v = comparison(p_adjusted=0.2, diff=1.0, sd_a=2.0, sd_b=1.0)
    assert v.label == INCONCLUSIVE and f"{seeds_per_arm(1.0, 2.0, 1.0)} seeds per arm" in v.reason
    assert comparison(p_adjusted=0.05).label == INCONCLUSIVE  # p < alpha, strictly
    assert "p(b > a)" in comparison(diff=-5.0, p_adjusted=0.2).reason
    v = comparison(diff=0.0, p_adjusted=1.0)
    assert v.label == INCONCLUSIVE and "means are equal" in v.reason
    assert comparison(diff=None, p_adjusted=None).label == INCONCLUSIVE
    assert "spread of an arm is not stated" in comparison(sd_b=None, p_adjusted=None).reason
    assert at_proxy_scale(comparison()).reason.startswith("at proxy scale: mean_a - mean_b")
    assert at_proxy_scale(comparison()).label == SUPPORTED


def test_a_barrier_makes_a_proxy_comparison_inconclusive_and_keeps_what_its_test_found():
    barred = at_proxy_scale(comparison(), "arm b is outside its registered band")
    assert barred.label == INCONCLUSIVE
    assert barred.reason.startswith("at proxy scale: arm b is outside its registered band; its test alone would say SUPPORTED: mean_a")
    open_one = at_proxy_scale(comparison(p_adjusted=0.2), "arm b is outside its registered band")
    assert open_one.label == INCONCLUSIVE and "would say" not in open_one.reason


def test_comparison_with_single_evaluations_quotes_the_proportion_test_as_test_noise():
    noise = two_proportion_test(60, 100, 50, 100)
    v = comparison(n_a=1, n_b=1, diff=10.0, sd_a=None, sd_b=None, p_adjusted=None, proportion=noise)
    assert v.label == INCONCLUSIVE
    assert "test-set noise only" in v.reason and f"p = {noise.p:.3g}" in v.reason
    v = comparison(n_a=None, n_b=3, p_adjusted=None, z=2.1, p_z=0.0179)
    assert v.label == INCONCLUSIVE and "n_a = not stated" in v.reason and "z = 2.10, p = 0.0179" in v.reason


def test_holm_turns_supported_into_inconclusive():
    a, b = [52.0, 55.5, 50.75], [49.0, 48.5, 50.0, 47.25]
    test = welch_test(a, b)
    raw = comparison_family_p(test)
    assert 0.025 < raw < 0.05  # about 0.044: significant alone, not beside a second comparison
    assert comparison(diff=test.diff, p_adjusted=raw).label == SUPPORTED
    adjusted = holm_adjust([raw, 0.3])[0]
    assert adjusted == pytest.approx(2 * raw)
    assert comparison(diff=test.diff, p_adjusted=adjusted).label == INCONCLUSIVE


def test_seeds_per_arm_equals_the_pooled_plan_at_equal_sds():
    assert seeds_per_arm(1.0, 1.0, 1.0) == seeds_needed(1.0, 1.0, arms=2).exact_t
    assert seeds_per_arm(-2.0, 3.0, 1.0) == seeds_needed(2.0, math.sqrt(5.0), arms=2).exact_t
    assert seeds_per_arm(0.0, 1.0, 1.0) is None and seeds_per_arm(1.0, 0.0, 0.0) is None


def test_seeds_per_arm_reach_about_the_power_with_welch_by_simulation():
    diff, sd_a, sd_b = 2.0, 3.0, 1.0
    n = seeds_per_arm(diff, sd_a, sd_b)
    rng = np.random.default_rng(1)
    a = rng.normal(diff, sd_a, size=(20_000, n))
    b = rng.normal(0.0, sd_b, size=(20_000, n))
    p = sps.ttest_ind(a, b, axis=1, equal_var=False, alternative="greater").pvalue
    assert np.mean(p < 0.05) == pytest.approx(0.8, abs=0.03)


# --- probability of improvement ----------------------------------------------------------------


def test_probability_of_improvement_by_hand_with_ties():
    # pairs (3,1) (3,2) (2,1) win, (2,2) ties: (3 + 1/2) / 4
    assert probability_of_improvement([3.0, 2.0], [1.0, 2.0]) == 0.875
    assert probability_of_improvement([1.0, 1.0], [1.0, 1.0]) == 0.5
    assert probability_of_improvement([5.0], [1.0, 2.0, 3.0]) == 1.0
    assert probability_of_improvement([1.0, 2.0, 3.0], [5.0]) == 0.0
    # 2 vs (1, 2, 3): one win, one tie, one loss
    assert probability_of_improvement([2.0], [1.0, 2.0, 3.0]) == pytest.approx(0.5)


def test_probability_of_improvement_is_antisymmetric():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, size=4).astype(float), rng.integers(0, 5, size=6).astype(float)
    assert probability_of_improvement(a, b) + probability_of_improvement(b, a) == pytest.approx(1.0)


def test_probability_of_improvement_rejects_empty_arms():
    with pytest.raises(ValueError):
        probability_of_improvement([], [1.0])


# --- against statsmodels, random inputs at a fixed seed ----------------------------------------


def random_samples(count=20, seed=2026):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(2, 8))
        yield rng.normal(rng.uniform(40, 90), rng.uniform(0.2, 6.0), size=n)


def test_equivalence_matches_statsmodels_ttost():
    rng = np.random.default_rng(7)
    for x in random_samples():
        claimed, tol = float(x.mean() + rng.normal(0, 3)), float(rng.uniform(0.5, 4))
        s = describe_sample(x)
        ours = equivalence_test(s.mean - claimed, s.se, s.n, tol)
        p, (t1, p1, df1), (t2, p2, df2) = DescrStatsW(x).ttost_mean(claimed - tol, claimed + tol)
        assert ours.p_equiv == pytest.approx(p, rel=1e-9, abs=1e-12)
        assert (ours.t_lower, ours.p_lower, ours.df) == pytest.approx((t1, p1, df1), rel=1e-9, abs=1e-12)
        assert (ours.t_upper, ours.p_upper) == pytest.approx((t2, p2), rel=1e-9, abs=1e-12)
        # REPRODUCED (unadjusted) exactly when the 90% t-interval lies inside claim ± tol
        low, high = DescrStatsW(x).tconfint_mean(alpha=0.10)
        assert (ours.p_equiv < 0.05) == (claimed - tol < low and high < claimed + tol)


def test_welch_matches_statsmodels_ttest_ind():
    samples = list(random_samples(40))
    for a, b in zip(samples[::2], samples[1::2]):
        ours = welch_test(a, b)
        t, p_larger, df = ttest_ind(a, b, usevar="unequal", alternative="larger")
        _, p_smaller, _ = ttest_ind(a, b, usevar="unequal", alternative="smaller")
        assert (ours.t, ours.df) == pytest.approx((t, df), rel=1e-9)
        assert ours.p_a_greater == pytest.approx(p_larger, rel=1e-9, abs=1e-12)
        assert ours.p_b_greater == pytest.approx(p_smaller, rel=1e-9, abs=1e-12)


def test_holm_matches_statsmodels_multipletests():
    rng = np.random.default_rng(11)
    for m in (1, 2, 3, 5, 8, 13):
        p = np.concatenate([rng.uniform(0, 0.06, size=m // 2 + 1), rng.uniform(0, 1, size=m)])
        _, adjusted, _, _ = multipletests(p, method="holm")
        assert holm_adjust(p) == pytest.approx(tuple(adjusted), abs=1e-12)
        assert [a < 0.05 for a in holm_adjust(p)] == list(multipletests(p, alpha=0.05, method="holm")[0])


# --- equivalence comparisons (audit.comparison_tests) -------------------------------------------

def test_equivalence_comparison_by_hand_and_against_statsmodels():
    from statsmodels.stats.weightstats import ttost_ind

    from audit.comparison_tests import equivalence_comparison, welch_se_df

    a, b = [87.0, 88.5, 86.0, 87.9], [86.5, 87.0, 85.2, 86.6, 87.4]
    na, nb = len(a), len(b)
    sa, sb = np.std(a, ddof=1), np.std(b, ddof=1)
    se, df = welch_se_df(sa, na, sb, nb)
    va, vb = sa ** 2 / na, sb ** 2 / nb
    assert se == pytest.approx(math.sqrt(va + vb))
    assert df == pytest.approx((va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)))
    d = np.mean(a) - np.mean(b)
    test = equivalence_comparison(d, se, df, 2.0)
    assert test.p_lower == pytest.approx(sps.t.sf((d + 2.0) / se, df))
    assert test.p_upper == pytest.approx(sps.t.cdf((d - 2.0) / se, df))
    p_sm, lower, upper = ttost_ind(np.array(a), np.array(b), -2.0, 2.0, usevar="unequal")
    assert test.p_equiv == pytest.approx(p_sm) and test.p_lower == pytest.approx(lower[1])
    assert test.p_upper == pytest.approx(upper[1]) and test.p_beyond == pytest.approx(1 - test.p_upper)


def test_equivalence_verdicts():
    from audit import verdicts
    from audit.comparison_tests import (decide_equivalence_verdict, equivalence_comparison, equivalence_family_p,
                                        equivalence_seeds)

    within = equivalence_comparison(0.5, 0.4, 8.0, 2.0)
    assert equivalence_family_p(within) == within.p_equiv
    shown = decide_equivalence_verdict(diff=0.5, test=within, p_adjusted=within.p_equiv, sd=0.8, margin_pp=2.0)
    assert shown.label == verdicts.SUPPORTED and "within the margin of ±2 pp" in shown.reason
    beyond = equivalence_comparison(-5.0, 0.8, 8.0, 2.0)
    assert equivalence_family_p(beyond) == beyond.p_beyond == pytest.approx(sps.t.cdf((-5.0 + 2.0) / 0.8, 8.0))
    contradicted = decide_equivalence_verdict(diff=-5.0, test=beyond, p_adjusted=beyond.p_beyond, sd=1.6,
                                              margin_pp=2.0)
    assert contradicted.label == verdicts.CONTRADICTED and "beyond the margin" in contradicted.reason
    vague = equivalence_comparison(1.0, 2.0, 4.0, 2.0)
    open_ = decide_equivalence_verdict(diff=1.0, test=vague, p_adjusted=vague.p_equiv, sd=4.0, margin_pp=2.0)
    assert open_.label == verdicts.INCONCLUSIVE and f"{equivalence_seeds(1.0, 4.0, 2.0)} seeds per arm" in open_.reason
    assert equivalence_seeds(1.0, 4.0, 2.0) == verdicts.seeds_for_equivalence(1.0, 4.0, 2.0)
    untested = decide_equivalence_verdict(diff=1.0, test=None, p_adjusted=None, sd=None, margin_pp=2.0,
                                          untested="n_a = 1, n_b = 1: the TOST needs at least 2 seeds per arm")
    assert untested.label == verdicts.INCONCLUSIVE and untested.reason.endswith("at least 2 seeds per arm")


def test_paired_test_is_the_one_sample_t_test_of_the_differences():
    from audit.comparison_tests import paired_test

    a, b = [90.0, 84.0, 88.0], [82.0, 77.0, 83.0]
    test = paired_test(a, b)
    ref = sps.ttest_rel(a, b, alternative="greater")
    assert (test.t, test.df, test.p_a_greater) == pytest.approx((ref.statistic, 2, ref.pvalue))
    assert test.p_b_greater == pytest.approx(1 - ref.pvalue) and test.z == test.t
    assert paired_test([1.0, 2.0], [0.0, 1.0]).p_a_greater is None  # every difference equal: undefined
    with pytest.raises(ValueError):
        paired_test([1.0], [1.0, 2.0])
