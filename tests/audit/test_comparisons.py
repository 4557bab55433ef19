"""audit.comparisons: each registry comparison on each source both arms have, its tests, Holm over the
report's comparisons and the comparison rule's verdict, as summary.json holds them."""
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats as sps

from audit import stats, verdicts
from audit.registry import load_registry
from summary_inputs import (DATA, calibrated_copy, external_set, external_set_from_values, real_summary_json, record,
                            results_of, results_of_list, summary_json, two_claims_registry)

COMPARISON_KEYS = {"id", "a", "b", "source", "kind", "diff", "z", "p_z", "t", "df", "p_welch", "p_adjusted",
                   "verdict", "reason", "poi", "seeds_needed"}


@pytest.fixture(scope="module")
def registry():
    return two_claims_registry(calibrated=True)


@pytest.fixture(scope="module")
def real_summary():
    return real_summary_json()


def test_comparison_from_raw_values_on_a_shared_proxy_source(registry):
    a_vals, b_vals = [60.0, 64.0, 62.0], [50.0, 55.0]
    records = ([record(registry, "toy/alpha", "smoke", k, v) for k, v in enumerate(a_vals)]
               + [record(registry, "toy/beta", "smoke", k, v) for k, v in enumerate(b_vals)]
               + [record(registry, "toy/alpha", "paper", 0, 90.0)])  # paper exists on one arm only
    (row,) = summary_json(registry, records, [])["comparisons"]
    assert COMPARISON_KEYS <= set(row)
    assert (row["id"], row["a"], row["b"], row["source"]) == ("toy/alpha-vs-beta", "toy/alpha", "toy/beta", "smoke")
    assert row["proxy"] is True and row["comparable"] is False and row["method"] == "raw"
    welch = sps.ttest_ind(a_vals, b_vals, equal_var=False, alternative="greater")
    assert row["diff"] == pytest.approx(np.mean(a_vals) - np.mean(b_vals))
    assert row["t"] == pytest.approx(welch.statistic) and row["p_welch"] == pytest.approx(welch.pvalue)
    assert row["df"] == pytest.approx(welch.df) and row["p_z"] == pytest.approx(sps.norm.sf(row["z"]))
    assert row["proportion_test"] is None and row["readings"] is None
    # the comparison rule: alone in its family, p(a > b) = 0.058 >= 0.05, so INCONCLUSIVE at proxy scale
    assert row["p_adjusted"] == pytest.approx(welch.pvalue) and row["verdict"] == verdicts.INCONCLUSIVE
    assert row["reason"].startswith("at proxy scale") and row["poi"] == 1.0
    assert row["seeds_needed"] == verdicts.seeds_per_arm(row["diff"], 2.0, np.std(b_vals, ddof=1))
    assert row["seeds_at_holm"] == row["seeds_needed"]  # alone in its family: held to alpha itself


def test_seeds_at_holm_use_the_alpha_holm_holds_each_comparison_to(registry):
    """Two comparisons in the family (the smoke runs and a comparable published pair): the smaller p is
    held to alpha / 2, so deciding it takes more seeds than before Holm; the larger to alpha itself."""
    from audit.external import ExternalResult, ExternalResultSet, ExternalSource

    a_vals, b_vals = [60.0, 70.0, 62.0], [50.0, 62.0, 58.0]
    records = ([record(registry, "toy/alpha", "smoke", k, v) for k, v in enumerate(a_vals)]
               + [record(registry, "toy/beta", "smoke", k, v) for k, v in enumerate(b_vals)])
    published = ExternalResultSet(source=ExternalSource(title="t"), comparable=True, id="ext", results=(
        ExternalResult(claim="toy/alpha", values=(58.0, 66.0, 61.0)),
        ExternalResult(claim="toy/beta", values=(59.0, 62.0, 56.0))))
    rows = {r["source"]: r for r in summary_json(registry, records, [published])["comparisons"]}
    smoke, ext = rows["smoke"], rows["ext"]
    assert smoke["p_welch"] < ext["p_welch"] and smoke["verdict"] == ext["verdict"] == verdicts.INCONCLUSIVE
    assert ext["seeds_at_holm"] == ext["seeds_needed"]
    sd_a, sd_b = np.std(a_vals, ddof=1), np.std(b_vals, ddof=1)
    assert smoke["seeds_at_holm"] == verdicts.seeds_per_arm(smoke["diff"], sd_a, sd_b, alpha=0.025)
    assert smoke["seeds_at_holm"] > smoke["seeds_needed"]


def smoke_beside_a_published_pair(registry, tmp_path, a_smoke, b_smoke):
    """The comparison on the smoke runs (these values) and on a published pair where b > a (50 vs 60,
    SD 2, 5 seeds): (smoke row, published row, smoke Welch p(a > b), published Welch p(b > a))."""
    records = ([record(registry, "toy/alpha", "smoke", k, v) for k, v in enumerate(a_smoke)]
               + [record(registry, "toy/beta", "smoke", k, v) for k, v in enumerate(b_smoke)])
    ext = external_set(tmp_path, "pub", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, mean: 50.0, pm: 2.0, pm_kind: sd, n_seeds: 5}
  - {claim: toy/beta, mean: 60.0, pm: 2.0, pm_kind: sd, n_seeds: 5}
""")
    rows = {r["source"]: r for r in summary_json(registry, records, [ext])["comparisons"]}
    p_smoke = sps.ttest_ind(a_smoke, b_smoke, equal_var=False, alternative="greater").pvalue
    p_pub = sps.ttest_ind_from_stats(50.0, 2.0, 5, 60.0, 2.0, 5, equal_var=False, alternative="less").pvalue
    return rows["smoke"], rows["pub"], p_smoke, p_pub


def test_comparisons_share_one_holm_family_and_get_verdicts(registry, tmp_path):
    """Two sources with both arms: each contributes its observed direction's Welch p to one family."""
    smoke, pub, p_smoke, p_pub = smoke_beside_a_published_pair(registry, tmp_path, [60.0, 64.0, 62.0],
                                                               [50.0, 51.0, 52.0])  # a > b clearly
    assert (smoke["p_adjusted"], pub["p_adjusted"]) == pytest.approx(stats.holm_adjust([p_smoke, p_pub]))
    assert smoke["verdict"] == verdicts.SUPPORTED and smoke["seeds_needed"] is None
    assert pub["verdict"] == verdicts.CONTRADICTED and "p(b > a)" in pub["reason"]
    assert pub["p_welch"] == pytest.approx(1 - p_pub) and pub["poi"] is None  # a > b tested; PoI needs seeds


def test_comparison_of_single_runs_uses_counts_only(registry):
    records = [record(registry, "toy/alpha", "smoke", 0, 60.0, total=200),
               record(registry, "toy/beta", "smoke", 0, 50.0, total=200)]
    (row,) = summary_json(registry, records, [])["comparisons"]
    assert row["diff"] == pytest.approx(10.0)
    assert (row["z"], row["p_z"], row["t"], row["df"], row["p_welch"]) == (None,) * 5
    prop = row["proportion_test"]
    assert prop["z"] == pytest.approx(stats.two_proportion_test(120, 200, 100, 200).z)
    assert "test-set" in prop["note"]
    assert row["verdict"] == verdicts.INCONCLUSIVE and row["p_adjusted"] is None
    assert "Welch needs at least 2 seeds" in row["reason"] and "two-proportion" in row["reason"]


def test_comparison_from_published_summaries(tmp_path, registry):
    ext = external_set(tmp_path, "pub", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, mean: 62.0, pm: 2.0, pm_kind: sd, n_seeds: 4}
  - {claim: toy/beta, mean: 55.0, pm: 1.0, pm_kind: se, n_seeds: 3}
""")
    summary = summary_json(registry, [], [ext])
    alpha = results_of(summary, "toy/alpha")["pub"]
    assert (alpha["n"], alpha["sd"], alpha["se"]) == (4, 2.0, 1.0) and alpha["values"] == []
    beta = results_of(summary, "toy/beta")["pub"]
    assert beta["sd"] == pytest.approx(math.sqrt(3)) and beta["se"] == pytest.approx(1.0)
    (row,) = summary["comparisons"]
    ref = sps.ttest_ind_from_stats(62.0, 2.0, 4, 55.0, math.sqrt(3), 3, equal_var=False, alternative="greater")
    assert row["t"] == pytest.approx(ref.statistic) and row["df"] == pytest.approx(4.8)  # 2^2 / (1/3 + 1/2)
    assert row["method"] == "summary" and row["comparable"] is True
    assert row["z"] == pytest.approx(7.0 / math.sqrt(2.0)) and row["p_welch"] == pytest.approx(ref.pvalue)


def test_readings_use_a_stated_run_count(tmp_path, registry):
    ext = external_set(tmp_path, "mixed", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, mean: 62.0, pm: 2.0, n_seeds: 4}
  - {claim: toy/beta, mean: 55.0, pm: 1.0}
""")
    (row,) = summary_json(registry, [], [ext])["comparisons"]
    se_rows = [r for r in row["readings"] if r["reading"] == "se"]
    assert [(r["n"], r["n_a"], r["n_b"]) for r in se_rows] == [(2, 4, 2), (3, 4, 3), (5, 4, 5)]
    ref = sps.ttest_ind_from_stats(62.0, 2.0 * 2, 4, 55.0, 1.0 * math.sqrt(3), 3, equal_var=False,
                                   alternative="greater")
    assert se_rows[1]["p_welch"] == pytest.approx(ref.pvalue)
    stated = external_set(tmp_path, "stated", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, mean: 62.0, pm: 2.0, n_seeds: 4}
  - {claim: toy/beta, mean: 55.0, pm: 1.0, n_seeds: 3}
""")
    (row,) = summary_json(registry, [], [stated])["comparisons"]
    assert [(r["reading"], r["n"], r["n_a"], r["n_b"]) for r in row["readings"]] == [
        ("sd", None, 4, 3), ("se", None, 4, 3), ("ci95", None, 4, 3), ("wilson95", 1, 1, 1)]
    assert row["readings"][-1]["z"] is None  # no test-set sizes stated


def test_an_external_named_like_a_profile_is_never_paired_with_it(registry):
    records = [record(registry, "toy/alpha", "smoke", 0, 60.0), record(registry, "toy/beta", "smoke", 0, 50.0)]
    ext = replace(external_set_from_values("toy/beta", [40.0, 41.0]), id="smoke")
    summary = summary_json(registry, records, [ext])
    assert [r["kind"] for r in results_of_list(summary, "toy/beta")] == ["profile", "external"]
    (row,) = summary["comparisons"]
    assert row["mean_b"] == 50.0


# --- the published reproduction (runs/external/alphaxiv-2025.yaml) -----------------------------


def test_h3l6_vs_h3l4_under_each_reading(real_summary):
    """52.75 ± 3.09 vs 43.00 ± 0.16 (ARC-AGI-1 pass@2): the reproduction's one-tailed z-test p < 0.005."""
    (row,) = [r for r in real_summary["comparisons"]
              if r["id"] == "arc-agi-1/h3l6-vs-h3l4" and r["source"] == "alphaxiv-2025"]
    assert row["diff"] == pytest.approx(9.75)
    assert (row["z"], row["p_welch"]) == (None, None)  # the ± is undefined: no single answer
    by = {(r["reading"], r["n"]): r for r in row["readings"]}
    # ± read as SEs: z = 9.75 / sqrt(3.09^2 + 0.16^2) = 3.151, p = 0.0008 < 0.005, whatever n
    z_se = 9.75 / math.hypot(3.09, 0.16)
    for n in (2, 3, 5):
        assert by[("se", n)]["z"] == pytest.approx(z_se) and by[("se", n)]["p_z"] < 0.005
        ref = sps.ttest_ind_from_stats(52.75, 3.09 * math.sqrt(n), n, 43.0, 0.16 * math.sqrt(n), n,
                                       equal_var=False, alternative="greater")
        assert by[("se", n)]["p_welch"] == pytest.approx(ref.pvalue)
    assert by[("se", 2)]["p_z"] == pytest.approx(sps.norm.sf(z_se))
    # ...but Welch's test with two seeds per arm is far from significant
    assert by[("se", 2)]["p_welch"] > 0.05
    # ± read as SDs over n seeds
    ref = sps.ttest_ind_from_stats(52.75, 3.09, 3, 43.0, 0.16, 3, equal_var=False, alternative="greater")
    assert by[("sd", 3)]["t"] == pytest.approx(ref.statistic) and by[("sd", 3)]["p_welch"] == pytest.approx(ref.pvalue)
    # ± read as Student-t 95% half-widths: SE = ± / t_{0.975, n-1}
    t3 = sps.t.ppf(0.975, 2)
    assert by[("ci95", 3)]["z"] == pytest.approx(9.75 / math.hypot(3.09 / t3, 0.16 / t3))
    # ± read as single-run Wilson half-widths: one evaluation each over 400 tasks
    wilson = by[("wilson95", 1)]
    assert wilson["z"] == pytest.approx(stats.two_proportion_test(211, 400, 172, 400).z)
    assert wilson["t"] is None and "test-set" in wilson["note"]


def test_an_equivalence_comparison_gets_its_tost_in_the_family(tmp_path):
    from statsmodels.stats.weightstats import ttost_ind

    text = (DATA / "two_claims.yaml").read_text().replace('statement: "alpha beats beta"',
                                                          'statement: "alpha and beta alike"\n'
                                                          '    alternative: equivalent\n    margin_pp: 2.0')
    equiv = load_registry([calibrated_copy(DATA / "two_claims.yaml", tmp_path, text)])
    a_vals, b_vals = [60.0, 60.5, 59.5, 60.2], [59.8, 60.4, 59.9, 60.1]
    records = ([record(equiv, "toy/alpha", "smoke", k, v) for k, v in enumerate(a_vals)]
               + [record(equiv, "toy/beta", "smoke", k, v) for k, v in enumerate(b_vals)])
    (row,) = summary_json(equiv, records, [])["comparisons"]
    p_equiv = ttost_ind(np.array(a_vals), np.array(b_vals), -2.0, 2.0, usevar="unequal")[0]
    assert (row["alternative"], row["margin_pp"], row["method"]) == ("equivalent", 2.0, "raw")
    assert row["p_equiv"] == pytest.approx(p_equiv) and row["p_adjusted"] == pytest.approx(p_equiv)
    assert row["verdict"] == verdicts.SUPPORTED and "within the margin of ±2 pp" in row["reason"]
    far = [record(equiv, "toy/beta", "smoke", k, v - 10) for k, v in enumerate(b_vals)]
    (row,) = summary_json(equiv, records[:4] + far, [])["comparisons"]
    assert row["verdict"] == verdicts.CONTRADICTED and "beyond the margin" in row["reason"]
    flat = ([record(equiv, "toy/alpha", "smoke", k, 60.0) for k in range(2)]
            + [record(equiv, "toy/beta", "smoke", k, 59.0) for k in range(2)])
    (row,) = summary_json(equiv, flat, [])["comparisons"]
    assert row["verdict"] == verdicts.INCONCLUSIVE and row["p_equiv"] is None and row["p_adjusted"] is None
    assert row["reason"].endswith("no seed spread (every seed of each arm equal), so the TOST is undefined")


def test_an_uncalibrated_proxy_decides_nothing_and_stays_out_of_the_family(tmp_path):
    """No band registered before the runs (the smoke profiles): the test is shown, the verdict is
    INCONCLUSIVE whatever it says, and the comparison takes no place in the Holm family."""
    bare = two_claims_registry()
    a_vals, b_vals = [60.0, 64.0, 62.0], [50.0, 51.0, 52.0]  # calibrated, this decides a > b
    records = ([record(bare, "toy/alpha", "smoke", k, v) for k, v in enumerate(a_vals)]
               + [record(bare, "toy/beta", "smoke", k, v) for k, v in enumerate(b_vals)])
    (row,) = summary_json(bare, records, [])["comparisons"]
    assert row["p_welch"] == pytest.approx(sps.ttest_ind(a_vals, b_vals, equal_var=False, alternative="greater").pvalue)
    assert row["p_adjusted"] is None and row["verdict"] == verdicts.INCONCLUSIVE and row["seeds_needed"] is None
    assert "an uncalibrated proxy (arm a and b: no band registered" in row["reason"]
    calibrated = two_claims_registry(calibrated=True)
    records = ([record(calibrated, "toy/alpha", "smoke", k, v) for k, v in enumerate(a_vals)]
               + [record(calibrated, "toy/beta", "smoke", k, v) for k, v in enumerate(b_vals)])
    (row,) = summary_json(calibrated, records, [])["comparisons"]
    assert row["verdict"] == verdicts.SUPPORTED and row["p_adjusted"] == pytest.approx(row["p_welch"])


def test_an_arm_that_is_not_graded_cannot_rank_but_keeps_its_family_place(registry, tmp_path):
    """A saturated arm (mean >= 95%): INCONCLUSIVE, saying what its test alone would say; its p still
    counts in the Holm family (membership follows registration, never the results)."""
    smoke, pub, p_smoke, p_pub = smoke_beside_a_published_pair(registry, tmp_path, [99.0, 99.5, 99.8],
                                                               [50.0, 51.0, 52.0])  # a saturated
    assert (smoke["p_adjusted"], pub["p_adjusted"]) == pytest.approx(stats.holm_adjust([p_smoke, p_pub]))
    assert smoke["verdict"] == verdicts.INCONCLUSIVE and smoke["seeds_needed"] is None
    assert "arm a is not graded (mean 99.43%, outside (5, 95))" in smoke["reason"]
    assert "its test alone would say SUPPORTED" in smoke["reason"]
    assert pub["verdict"] == verdicts.CONTRADICTED


def test_an_arm_outside_its_declared_regime_cannot_rank(tmp_path):
    """A proxy that declares `regime: overfit` ranks only while its runs are in it: the training puzzles
    solved (train exact >= 90% late in the run, read from each run's metrics.csv) and the test far lower."""
    text = calibrated_copy(DATA / "two_claims.yaml", tmp_path).read_text()
    (tmp_path / "claims.yaml").write_text(text.replace("band: [0, 100]\n", "band: [0, 100]\n        regime: overfit\n"))
    overfit = load_registry([tmp_path / "claims.yaml"])

    def runs(claim_id, values, train_exact):
        out = []
        for seed, value in enumerate(values):
            path = tmp_path / "runs" / claim_id / "smoke" / f"seed-{seed}" / "run.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = "".join(f"{step},train,exact_accuracy,{train_exact / 100}\n" for step in range(1, 11))
            (path.parent / "metrics.csv").write_text("step,split,metric,value\n" + rows)
            out.append(replace(record(overfit, claim_id, "smoke", seed, value), path=path))
        return out

    a_vals, b_vals = [60.0, 64.0, 62.0], [50.0, 51.0, 52.0]
    (row,) = summary_json(overfit, runs("toy/alpha", a_vals, 99.0) + runs("toy/beta", b_vals, 60.0), [])["comparisons"]
    assert row["verdict"] == verdicts.INCONCLUSIVE and row["p_adjusted"] is not None  # still a family member
    assert "arm b is not in its declared overfit regime (train exact 60.00%, test 51.00%" in row["reason"]
    (row,) = summary_json(overfit, runs("toy/alpha", a_vals, 99.0) + runs("toy/beta", b_vals, 95.0), [])["comparisons"]
    assert row["verdict"] == verdicts.SUPPORTED
