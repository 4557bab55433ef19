"""audit.aggregate and audit.sources: records and external results -> results, rule v3's verdicts, summary.

The comparisons are tested in test_comparisons.py; the inputs are built by summary_inputs.py."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats as sps

from audit import stats, verdicts
from audit.aggregate import build_summary, write_summary
from audit.registry import OtherValue, Registry
from audit.sources import collect_sources
from audit.summary import ClaimSummary, SourceResult, Summary
from summary_inputs import (external_set, external_set_from_values, real_summary_json, record, results_of,
                            summary_json, two_claims_registry)

RESULT_KEYS = {"source", "comparable", "n", "values", "mean", "sd", "se", "ci95", "ci95_display", "ci95_clipped",
               "d", "p_below_claim", "p_above_claim", "p_equiv", "p_adjusted", "verdict", "reason", "other_values",
               "failed", "stale", "runs"}
RUN_KEYS = {"seed", "value", "correct", "total", "wilson95"}


@pytest.fixture(scope="module")
def registry():
    return two_claims_registry()


# --- per (claim, source) -----------------------------------------------------------------------


def test_paper_profile_statistics_and_contract_fields(registry):
    records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([88.0, 90.0, 92.0])]
    summary = summary_json(registry, records, [])
    result = results_of(summary, "toy/alpha")["paper"]
    assert RESULT_KEYS <= set(result)
    assert result["n"] == 3 and result["values"] == [88.0, 90.0, 92.0]
    assert result["mean"] == 90.0 and result["sd"] == pytest.approx(2.0)
    assert result["se"] == pytest.approx(2 / math.sqrt(3))
    low, high = sps.t.interval(0.95, 2, loc=90.0, scale=2 / math.sqrt(3))
    assert result["ci95"] == pytest.approx([low, high])
    assert result["ci95_display"] == result["ci95"] and result["ci95_clipped"] is False
    assert result["p_below_claim"] == pytest.approx(0.5) and result["p_above_claim"] == pytest.approx(0.5)
    # TOST against 90 ± 2: t = 2 / SE on 2 df on each side; 0.113 >= 0.05, so within but not shown
    assert result["p_equiv"] == pytest.approx(sps.t.sf(2 / (2 / math.sqrt(3)), 2))
    assert result["d"] == 0.0 and result["verdict"] == verdicts.CONSISTENT and result["p_adjusted"] == result["p_equiv"]
    assert result["other_values"] == []
    assert result["comparable"] is True and result["failed"] == 0 and result["stale"] == 0
    run = result["runs"][0]
    assert set(run) >= RUN_KEYS and run["seed"] == 0 and run["total"] == 100
    ci = sps.binomtest(88, 100).proportion_ci(0.95, method="wilson")
    assert run["wilson95"] == pytest.approx([100 * ci.low, 100 * ci.high])


def test_a_ci_past_the_ends_is_clipped_for_display_and_kept_raw(registry):
    records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([2.0, 50.0, 98.0])]
    result = results_of(summary_json(registry, records, []), "toy/alpha")["paper"]
    low, high = result["ci95"]
    assert low < 0 and high > 100  # Student t knows nothing of the ends of a percentage
    assert result["ci95_display"] == [0.0, 100.0] and result["ci95_clipped"] is True


def test_failed_and_stale_runs_are_counted_not_averaged(registry):
    records = [record(registry, "toy/alpha", "paper", 0, 88.0), record(registry, "toy/alpha", "paper", 1, 92.0),
               record(registry, "toy/alpha", "paper", 2, status="failed"),
               record(registry, "toy/alpha", "paper", 3, 10.0, config_hash="0123456789abcdef")]
    result = results_of(summary_json(registry, records, []), "toy/alpha")["paper"]
    assert result["n"] == 2 and result["values"] == [88.0, 92.0] and result["mean"] == 90.0
    assert result["failed"] == 1 and result["stale"] == 1
    assert [(e["seed"], e["status"]) for e in result["excluded"]] == [(2, "failed"), (3, "stale")]
    assert result["excluded"][0]["reason"] == "diverged" and result["excluded"][1]["value"] == 10.0
    assert [run["seed"] for run in result["runs"]] == [0, 1]


def test_only_failed_runs_is_inconclusive_with_nothing_averaged(registry):
    records = [record(registry, "toy/alpha", "paper", k, status="failed") for k in range(2)]
    result = results_of(summary_json(registry, records, []), "toy/alpha")["paper"]
    assert (result["n"], result["mean"], result["failed"], result["verdict"]) == (0, None, 2, verdicts.INCONCLUSIVE)


def test_stale_means_the_profile_config_changed(registry):
    rec = record(registry, "toy/alpha", "paper", 0, 90.0)
    claim = registry.claim("toy/alpha")
    changed = replace(claim.profiles["paper"], train=replace(claim.profiles["paper"].train, lr=5e-4))
    new_claim = replace(claim, profiles={**claim.profiles, "paper": changed})
    new_registry = Registry((new_claim,) + registry.claims[1:], registry.comparisons)
    result = results_of(summary_json(new_registry, [rec], []), "toy/alpha")["paper"]
    assert (result["n"], result["stale"]) == (0, 1)


def test_single_run_has_no_spread_and_no_test(registry):
    result = results_of(summary_json(registry, [record(registry, "toy/alpha", "paper", 0, 80.0)], []),
                        "toy/alpha")["paper"]
    assert (result["n"], result["sd"], result["se"], result["ci95"]) == (1, None, None, None)
    assert (result["p_below_claim"], result["p_adjusted"]) == (None, None)
    assert result["verdict"] == verdicts.INCONCLUSIVE and "one run" in result["reason"]  # d = -10, outside
    assert result["runs"][0]["wilson95"] is not None


def test_proxy_profile_is_not_comparable(registry):
    records = [record(registry, "toy/beta", "smoke", k, v) for k, v in enumerate([30.0, 31.0])]
    result = results_of(summary_json(registry, records, []), "toy/beta")["smoke"]
    assert result["verdict"] == verdicts.NOT_COMPARABLE and result["comparable"] is False
    assert result["mean"] == 30.5 and result["p_below_claim"] is not None  # numbers shown, not judged
    assert result["p_equiv"] is not None
    assert result["p_adjusted"] is None


def test_claim_without_a_claimed_value_gets_no_claim(registry):
    claims = (registry.claims[0], replace(registry.claims[1], claimed=None))
    reg = Registry(claims, registry.comparisons)
    records = [record(reg, "toy/beta", "smoke", k, v) for k, v in enumerate([30.0, 31.0])]
    ext = external_set_from_values("toy/beta", [50.0, 52.0])
    result = results_of(summary_json(reg, records, [ext]), "toy/beta")
    assert result["ext"]["verdict"] == verdicts.NO_CLAIM and result["ext"]["d"] is None
    assert result["ext"]["mean"] == 51.0 and result["ext"]["p_below_claim"] is None and result["ext"]["p_equiv"] is None
    assert result["smoke"]["verdict"] == verdicts.NOT_COMPARABLE


def test_holm_across_the_report_changes_verdicts(registry):
    """Two shortfalls, each p_below = 0.037 alone (NOT_REPRODUCED), 0.074 after Holm (INCONCLUSIVE)."""
    alpha_records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([84.0, 86.0, 88.0])]
    p_alone = sps.ttest_1samp([84.0, 86.0, 88.0], 90.0, alternative="less").pvalue
    assert 0.025 < p_alone < 0.05
    alone = results_of(summary_json(registry, alpha_records, []), "toy/alpha")["paper"]
    assert alone["p_adjusted"] == pytest.approx(p_alone) and alone["verdict"] == verdicts.NOT_REPRODUCED
    ext = external_set_from_values("toy/beta", [74.0, 76.0, 78.0])
    summary = summary_json(registry, alpha_records, [ext])
    a, b = results_of(summary, "toy/alpha")["paper"], results_of(summary, "toy/beta")["ext"]
    assert b["p_below_claim"] == pytest.approx(p_alone)
    assert a["p_adjusted"] == pytest.approx(2 * p_alone) and b["p_adjusted"] == pytest.approx(2 * p_alone)
    assert a["verdict"] == b["verdict"] == verdicts.INCONCLUSIVE
    assert "Holm" in a["reason"]


def test_holm_family_takes_p_equiv_from_results_within_tolerance(registry):
    """A result within the tolerance contributes its TOST p, and is REPRODUCED only if that survives Holm."""
    alpha_records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([84.0, 86.0, 88.0])]
    close = [80.1, 80.2, 79.9, 80.0]  # mean 80.05, SD 0.13: its 90% interval is well inside 80 ± 2
    ext = external_set_from_values("toy/beta", close)
    summary = summary_json(registry, alpha_records, [ext])
    a, b = results_of(summary, "toy/alpha")["paper"], results_of(summary, "toy/beta")["ext"]
    se = np.std(close, ddof=1) / 2
    p_b = max(sps.t.sf((0.05 + 2) / se, 3), sps.t.cdf((0.05 - 2) / se, 3))
    p_a = sps.ttest_1samp([84.0, 86.0, 88.0], 90.0, alternative="less").pvalue
    assert b["p_equiv"] == pytest.approx(p_b)
    assert b["p_adjusted"] == pytest.approx(stats.holm_adjust([p_a, p_b])[1])
    assert b["verdict"] == verdicts.REPRODUCED and "equivalence shown" in b["reason"]
    # step-down: b's tiny p takes the factor 2, so a keeps its raw p = 0.037 and stays decided
    assert a["p_adjusted"] == pytest.approx(p_a) and a["verdict"] == verdicts.NOT_REPRODUCED


def test_spread_seeds_no_longer_reproduce_from_the_mean_alone(registry):
    """Three seeds at 70.3, 100 and 85.6 against 85.3 (tolerance 2): v2 called it REPRODUCED (|d| = 0);
    v3 asks the equivalence test, which these seeds cannot pass: CONSISTENT, with the seeds that would."""
    claim = replace(registry.claims[0], claimed=85.3)
    reg = Registry((claim,) + registry.claims[1:], registry.comparisons)
    records = [record(reg, "toy/alpha", "paper", k, v) for k, v in enumerate([70.3, 100.0, 85.6])]
    result = results_of(summary_json(reg, records, []), "toy/alpha")["paper"]
    assert abs(result["d"]) < 1e-9 and result["verdict"] == verdicts.CONSISTENT
    assert result["p_equiv"] == pytest.approx(0.4186, abs=1e-4) and "would show equivalence" in result["reason"]


def test_other_published_values_are_judged_by_the_same_rule_in_the_same_family(registry):
    """A claim with another published value: a verdict against each, and one Holm member per value."""
    claim = replace(registry.claims[0], other_values=(OtherValue(value=86.0, where="the paper's Table 4"),))
    reg = Registry((claim,) + registry.claims[1:], registry.comparisons)
    values = [86.1, 85.9, 86.0, 86.2]
    records = [record(reg, "toy/alpha", "paper", k, v) for k, v in enumerate(values)]
    result = results_of(summary_json(reg, records, []), "toy/alpha")["paper"]
    p_main = sps.ttest_1samp(values, 90.0, alternative="less").pvalue
    (vs,) = result["other_values"]
    assert (vs["claimed"], vs["where"]) == (86.0, "the paper's Table 4") and vs["d"] == pytest.approx(0.05)
    se = np.std(values, ddof=1) / 2
    p_other = max(sps.t.sf((0.05 + 2) / se, 3), sps.t.cdf((0.05 - 2) / se, 3))
    assert vs["p_equiv"] == pytest.approx(p_other)
    assert (result["p_adjusted"], vs["p_adjusted"]) == pytest.approx(stats.holm_adjust([p_main, p_other]))
    assert result["verdict"] == verdicts.NOT_REPRODUCED and vs["verdict"] == verdicts.REPRODUCED


def test_unknown_claim_in_records_is_a_problem(registry):
    rec = record(registry, "toy/alpha", "paper", 0, 90.0)
    stray = replace(rec, claim_id="toy/gone")
    summary = summary_json(registry, [rec, stray], [], problems=["runs/x/run.json: torn"])
    assert summary["problems"][0] == "runs/x/run.json: torn"
    assert "toy/gone" in summary["problems"][1]


def test_sources_keep_registry_order_then_externals(registry):
    records = [record(registry, "toy/alpha", p, 0, 50.0) for p in ("smoke", "paper")]
    sources, problems = collect_sources(registry, records, [external_set_from_values("toy/alpha", [1.0])])
    assert [(s.claim_id, s.source) for s in sources] == [("toy/alpha", "paper"), ("toy/alpha", "smoke"),
                                                         ("toy/alpha", "ext")]
    assert problems == []


# --- the published reproduction (runs/external/alphaxiv-2025.yaml) -----------------------------


@pytest.fixture(scope="module")
def real_summary():
    return real_summary_json()


def test_readings_find_the_wilson_half_widths(real_summary):
    """Sudoku's ±0.12-0.14 are single-run Wilson half-widths at its 422,786 test puzzles; ARC's are not at 400."""
    for claim_id, source in [("sudoku-extreme/trm-att", "alphaxiv-2025 (50k epochs)"),
                             ("sudoku-extreme/trm-att", "alphaxiv-2025 (60k epochs)"),
                             ("sudoku-extreme/trm-mlp", "alphaxiv-2025 (50k epochs)"),
                             ("sudoku-extreme/trm-mlp", "alphaxiv-2025 (60k epochs)")]:
        wilson = results_of(real_summary, claim_id)[source]["readings"][-1]
        assert wilson["reading"] == "wilson95" and wilson["consistent"] is True
        low, high = wilson["test_size_range"]
        assert low <= 422_786 <= high and low <= 423_000 <= high
    att50 = results_of(real_summary, "sudoku-extreme/trm-att")["alphaxiv-2025 (50k epochs)"]["readings"][-1]
    assert att50["predicted_pm"] == pytest.approx(0.1385, abs=1e-4)
    arc = results_of(real_summary, "arc-agi-1/trm-att")["alphaxiv-2025"]["readings"][-1]
    assert arc["consistent"] is False and arc["predicted_pm"] == pytest.approx(4.83, abs=0.01)
    h3l6 = results_of(real_summary, "arc-agi-1/trm-att-h3l6")["alphaxiv-2025"]["readings"][-1]
    assert 996 <= h3l6["test_size_solved"] <= 1002  # ±3.09 fits one evaluation of ~1000 items, not 400
    maze = results_of(real_summary, "maze-hard/trm-att")["alphaxiv-2025"]["readings"][-1]
    assert maze["consistent"] is False and round(maze["predicted_pm"], 2) == 2.29
    assert maze["test_size_range"] == [1005, 1013]


def test_published_results_verdicts(real_summary):
    """The reproduction states no run counts: within the tolerance is CONSISTENT (v2 said REPRODUCED)."""
    maze = results_of(real_summary, "maze-hard/trm-att")["alphaxiv-2025"]
    assert maze["verdict"] == verdicts.CONSISTENT and maze["d"] == pytest.approx(-1.63)
    assert "number of runs is not stated" in maze["reason"] and maze["p_adjusted"] is None
    att50 = results_of(real_summary, "sudoku-extreme/trm-att")["alphaxiv-2025 (50k epochs)"]
    assert att50["verdict"] == verdicts.INCONCLUSIVE and att50["n"] is None and att50["d"] == pytest.approx(-5.01)
    assert results_of(real_summary, "arc-agi-1/trm-att-h3l6")["alphaxiv-2025"]["verdict"] == verdicts.NO_CLAIM
    (h3l6,) = [r for r in real_summary["comparisons"]
               if r["id"] == "arc-agi-1/h3l6-vs-h3l4" and r["source"] == "alphaxiv-2025"]
    assert h3l6["verdict"] == verdicts.INCONCLUSIVE and "n_a = not stated" in h3l6["reason"]
    sd_rows = [r for r in maze["readings"] if r["reading"] == "sd"]
    assert [r["n"] for r in sd_rows] == [2, 3, 5] and all(r["n_assumed"] for r in sd_rows)
    assert sd_rows[1]["se"] == pytest.approx(2.28 / math.sqrt(3))


# --- the summary file --------------------------------------------------------------------------


def test_summary_is_byte_stable_and_strict_json(tmp_path, registry):
    records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([88.1, 90.3, 91.7])]
    text = build_summary(registry, records, []).to_json()
    assert text == build_summary(registry, list(reversed(records)), []).to_json()
    path = write_summary(build_summary(registry, records, []), tmp_path / "reports" / "summary.json")
    assert path.read_text() == text and text.endswith("\n")
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["claims"][0]["results"][0]["values"] == [88.1, 90.3, 91.7]  # full precision
    assert json.loads(build_summary(registry, records, []).to_json()) == summary_json(registry, records, [])
    assert not list((tmp_path / "reports").glob("*.tmp"))


def test_the_summary_is_typed_and_its_json_is_its_fields(registry):
    records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([88.0, 90.0, 92.0])]
    summary = build_summary(registry, records, [])
    assert isinstance(summary, Summary) and all(isinstance(c, ClaimSummary) for c in summary.claims)
    (result,) = summary.claims[0].results
    assert isinstance(result, SourceResult) and result.values == (88.0, 90.0, 92.0) and result.n == 3
    assert result.verdict == verdicts.CONSISTENT and result.runs[0].seed == 0
    data = json.loads(summary.to_json())
    assert data["claims"][0]["results"][0]["mean"] == result.mean == 90.0
    assert data["settings"]["assumed_seeds"] == list(summary.settings.assumed_seeds)


def test_published_summaries_of_every_kind(tmp_path, registry):
    ext = external_set(tmp_path, "kinds", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, label: ci, mean: 88.0, pm: 4.302652729749464, pm_kind: ci95, n_seeds: 3}
  - {claim: toy/alpha, label: sd-no-n, mean: 88.0, pm: 2.0, pm_kind: sd}
  - {claim: toy/alpha, label: wilson, mean: 88.0, pm: 6.4, pm_kind: wilson95, test_size: 100}
  - {claim: toy/beta, label: wilson, mean: 80.0, pm: 7.8, pm_kind: wilson95, test_size: 100}
""")
    summary = summary_json(registry, [], [ext])
    res = results_of(summary, "toy/alpha")
    ci = res["kinds (ci)"]  # t_{0.975, 2} * SE = 4.3027 -> SE 1, SD sqrt(3)
    assert ci["se"] == pytest.approx(1.0) and ci["sd"] == pytest.approx(math.sqrt(3))
    assert ci["ci95"] == pytest.approx([88.0 - 4.302652729749464, 88.0 + 4.302652729749464])
    assert ci["p_below_claim"] == pytest.approx(sps.t.cdf(-2.0, 2))
    no_n = res["kinds (sd-no-n)"]
    assert (no_n["n"], no_n["sd"], no_n["se"], no_n["p_below_claim"]) == (None, 2.0, None, None)
    wilson = res["kinds (wilson)"]
    assert wilson["n"] == 1 and wilson["readings"] is None
    ref = sps.binomtest(88, 100).proportion_ci(0.95, method="wilson")
    assert wilson["runs"][0]["wilson95"] == pytest.approx([100 * ref.low, 100 * ref.high])
    (row,) = [r for r in summary["comparisons"] if r["source"] == "kinds (wilson)"]
    assert row["proportion_test"]["z"] == pytest.approx(stats.two_proportion_test(88, 100, 80, 100).z)
    assert row["z"] is None and row["readings"] is None


def test_checkpoint_rule_and_metric_of_the_claim_decide(registry):
    best_claim = replace(registry.claims[0], protocol=replace(registry.claims[0].protocol, checkpoint="best"))
    reg = Registry((best_claim,) + registry.claims[1:], registry.comparisons)
    rec = record(reg, "toy/alpha", "paper", 0, 80.0)
    rec = replace(rec, best=replace(rec.final, value=85.0, correct=85.0))
    result = results_of(summary_json(reg, [rec], []), "toy/alpha")["paper"]
    assert result["values"] == [85.0] and result["runs"][0]["correct"] == 85.0
    no_best = replace(rec, best=None)
    result = results_of(summary_json(reg, [no_best], []), "toy/alpha")["paper"]
    # stale, not failed: the run completed; the claim's rule changed to one its record cannot answer
    assert (result["n"], result["stale"], result["failed"]) == (0, 1, 0) and "best" in result["excluded"][0]["reason"]
    other_metric = replace(record(registry, "toy/alpha", "paper", 0, 80.0), metric="pass@2")
    result = results_of(summary_json(registry, [other_metric], []), "toy/alpha")["paper"]
    assert (result["n"], result["stale"]) == (0, 1) and "pass@2" in result["excluded"][0]["reason"]


